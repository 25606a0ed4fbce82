/**
 * State of the Agnes panel: server compatibility, the catalog (polled), the explorer's filters
 * and tree, and the sections (packages and My Stack, recipes, snapshots) loaded when opened.
 * One model, shared by the panel, the table views and the status bar.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { VERSION } from './_version';
import { AgnesApiError, getVersion } from './api';
import type {
  CatalogEntry,
  Me,
  Package,
  Recipe,
  Stack,
  WorkspaceJob,
  WorkspaceSnapshots
} from './apitypes';
import {
  buildRows,
  CatalogRow,
  filterEntries,
  ICatalogFilters,
  NO_FILTERS,
  packagesOf
} from './catalog';
import { client, followJob, jobError, StackKind } from './client';

export type SidebarStatus =
  | 'loading'
  | 'ready'
  | 'missing' // the server extension is not installed or not enabled
  | 'mismatch' // the server extension runs a different version
  | 'error';

export type Section = 'catalog' | 'packages' | 'recipes' | 'snapshots';

export interface IProblem {
  message: string;
  hint: string | null;
  code?: string;
  status?: number;
}

export function describe(reason: unknown): IProblem {
  if (reason instanceof AgnesApiError) {
    return {
      message: reason.message,
      hint: reason.hint,
      code: reason.code,
      status: reason.status
    };
  }
  return {
    message: String(reason),
    hint: 'Try refreshing; if it persists, check the server log.'
  };
}

/** A section's data: what was loaded last, and the problem of the last load (shown in place). */
export interface ISlot<T> {
  value: T | null;
  problem: IProblem | null;
  loading: boolean;
}

const emptySlot = <T>(): ISlot<T> => ({ value: null, problem: null, loading: false });

export class SidebarModel {
  constructor(options: { pollSeconds?: number } = {}) {
    this._pollSeconds = options.pollSeconds ?? 60;
    this._poll = new Poll({
      auto: false,
      factory: () => this._tick(),
      frequency: {
        interval: this._pollSeconds * 1000,
        backoff: true,
        max: this._pollSeconds * 1000 * 10
      },
      name: 'agnes-jupyter:catalog',
      standby: () => (!this._visible ? true : 'when-hidden')
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get status(): SidebarStatus {
    return this._status;
  }

  get tables(): ReadonlyArray<CatalogEntry> {
    return this._tables;
  }

  get problem(): IProblem | null {
    return this._problem;
  }

  get refreshedAt(): Date | null {
    return this._refreshedAt;
  }

  get me(): Me | null {
    return this._me;
  }

  get section(): Section {
    return this._section;
  }

  set section(value: Section) {
    if (value === this._section) {
      return;
    }
    this._section = value;
    this._changed.emit();
    void this.loadSection(value);
  }

  // -- polling -------------------------------------------------------------------------

  get poll(): Poll {
    return this._poll;
  }

  /** The panel is shown or hidden: polling pauses while nobody looks. */
  setVisible(visible: boolean): void {
    this._visible = visible;
    if (visible) {
      void this._poll.refresh();
    }
  }

  setPollSeconds(seconds: number): void {
    if (!(seconds > 0) || seconds === this._pollSeconds) {
      return;
    }
    this._pollSeconds = seconds;
    this._poll.frequency = {
      interval: seconds * 1000,
      backoff: true,
      max: seconds * 1000 * 10
    };
  }

  start(): void {
    void this._poll.start();
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** Load now (the refresh button, commands). Never throws. */
  async refresh(): Promise<void> {
    try {
      await this._tick();
    } catch {
      // shown in the panel
    }
  }

  private async _tick(): Promise<void> {
    if (this._pending) {
      return this._pending;
    }
    this._pending = this._load().finally(() => {
      this._pending = null;
    });
    return this._pending;
  }

  private async _load(): Promise<void> {
    if (this._status !== 'ready') {
      this._setStatus('loading', null);
    }
    if (!this._versionChecked) {
      try {
        const info = await getVersion();
        if (info.version !== VERSION) {
          this._tables = [];
          this._setStatus('mismatch', {
            message: `The Agnes server extension is version ${info.version}, but this page runs ${VERSION}.`,
            hint: 'Restart JupyterLab after installing or upgrading agnes-jupyter, then reload this page.'
          });
          return;
        }
        this._versionChecked = true;
      } catch (reason) {
        if (reason instanceof AgnesApiError && reason.status === 404) {
          this._tables = [];
          this._setStatus('missing', {
            message: 'The Agnes server extension is not running in this Jupyter server.',
            hint:
              'Install agnes-jupyter in the environment that runs JupyterLab, check that ' +
              '"jupyter server extension list" shows agnes_server enabled, then restart JupyterLab.'
          });
          return;
        }
        this._setStatus('error', describe(reason));
        throw reason;
      }
    }
    try {
      const [catalog, me] = await Promise.all([client.catalog(), client.me()]);
      this._tables = catalog.tables;
      this._me = me;
      this._refreshedAt = new Date();
      this._rows = null;
      this._setStatus('ready', null);
      this._meChanged.emit(me);
    } catch (reason) {
      // Keep what was shown; say what went wrong above it.
      this._setStatus('error', describe(reason));
      throw reason;
    }
    if (this._section !== 'catalog') {
      void this.loadSection(this._section);
    }
  }

  /** Budget and identity changed (the status bar listens). */
  get meChanged(): ISignal<this, Me> {
    return this._meChanged;
  }

  async refreshMe(): Promise<void> {
    try {
      this._me = await client.me();
      this._meChanged.emit(this._me);
      this._changed.emit();
    } catch {
      // the status bar keeps its last value
    }
  }

  // -- the explorer ----------------------------------------------------------------------

  get filters(): ICatalogFilters {
    return this._filters;
  }

  get packageChoices(): string[] {
    return packagesOf(this._tables);
  }

  /** Change the filters; text is also searched by the server (it knows the column names). */
  setFilters(patch: Partial<ICatalogFilters>): void {
    const before = this._filters.text;
    this._filters = { ...this._filters, ...patch };
    this._rows = null;
    if (this._filters.text !== before) {
      this._serverMatches = null;
      void this._searchServer(this._filters.text);
    }
    this._changed.emit();
  }

  private async _searchServer(text: string): Promise<void> {
    this._searchAbort?.abort();
    const trimmed = text.trim();
    if (!trimmed) {
      return;
    }
    const abort = new AbortController();
    this._searchAbort = abort;
    try {
      const found = await client.catalog({ search: trimmed }, abort.signal);
      if (abort.signal.aborted || this._filters.text.trim() !== trimmed) {
        return;
      }
      this._serverMatches = new Set(found.tables.map(t => t.id));
      this._rows = null;
      this._searchedText = trimmed;
      this._changed.emit();
    } catch {
      // aborted by the next keystroke, or failed: the local match stands
    }
  }

  /** The text whose server-side matches (columns included) are in the list now. */
  get searchedText(): string {
    return this._searchedText;
  }

  get visibleTables(): CatalogEntry[] {
    return filterEntries(this._tables, this._filters, this._serverMatches);
  }

  get rows(): CatalogRow[] {
    if (this._rows === null) {
      const flat = this._filters.text.trim().length > 0;
      this._rows = buildRows(this.visibleTables, this._collapsed, flat);
    }
    return this._rows;
  }

  toggle(key: string, open?: boolean): void {
    const isOpen = !this._collapsed.has(key);
    const want = open ?? !isOpen;
    if (want === isOpen) {
      return;
    }
    if (want) {
      this._collapsed.delete(key);
    } else {
      this._collapsed.add(key);
    }
    this._rows = null;
    this._changed.emit();
  }

  entry(tableId: string): CatalogEntry | undefined {
    return this._tables.find(t => t.id === tableId);
  }

  // -- sections ------------------------------------------------------------------------

  get packages(): ISlot<Package[]> {
    return this._packages;
  }

  get stack(): ISlot<Stack> {
    return this._stack;
  }

  get recipes(): ISlot<Recipe[]> {
    return this._recipes;
  }

  get snapshots(): ISlot<WorkspaceSnapshots> {
    return this._snapshots;
  }

  async loadSection(section: Section): Promise<void> {
    switch (section) {
      case 'packages':
        await Promise.all([
          this._fill(this._packages, async () => (await client.packages()).packages),
          this._fill(this._stack, () => client.stack())
        ]);
        break;
      case 'recipes':
        await this._fill(this._recipes, async () => (await client.recipes()).recipes);
        break;
      case 'snapshots':
        await this._fill(this._snapshots, () => client.snapshots());
        break;
      default:
        break;
    }
  }

  private async _fill<T>(slot: ISlot<T>, load: () => Promise<T>): Promise<void> {
    slot.loading = true;
    this._changed.emit();
    try {
      slot.value = await load();
      slot.problem = null;
    } catch (reason) {
      slot.problem = describe(reason);
    } finally {
      slot.loading = false;
      this._changed.emit();
    }
  }

  /** Add to or remove from My Stack; the error (e.g. a required item) is returned for display. */
  async setInStack(kind: StackKind, item: string, inStack: boolean): Promise<IProblem | null> {
    try {
      if (inStack) {
        await client.addToStack(kind, item);
      } else {
        await client.removeFromStack(kind, item);
      }
    } catch (reason) {
      return describe(reason);
    }
    await this.loadSection('packages');
    if (kind === 'recipes') {
      await this.loadSection('recipes');
    }
    return null;
  }

  // -- sync ----------------------------------------------------------------------------

  get syncJob(): WorkspaceJob | null {
    return this._syncJob;
  }

  get syncProblem(): IProblem | null {
    return this._syncProblem;
  }

  /** Run ``agnes.sync()`` in the server (the workspace lives there), following its progress. */
  async sync(): Promise<void> {
    if (this._syncJob?.status === 'running') {
      return;
    }
    this._syncProblem = null;
    try {
      const job = await client.sync();
      this._syncJob = job;
      this._changed.emit();
      const final = await followJob(job, progress => {
        this._syncJob = progress;
        this._changed.emit();
      });
      this._syncJob = final;
      const failed = jobError(final);
      this._syncProblem = failed ? describe(failed) : null;
    } catch (reason) {
      this._syncProblem = describe(reason);
      if (this._syncJob?.status === 'running') {
        this._syncJob = null;
      }
    }
    this._changed.emit();
    void this.loadSection('packages');
  }

  /** Something outside the model changed the workspace (a snapshot landed): reload that list. */
  notifySnapshotsChanged(): void {
    void this.loadSection('snapshots');
    void this.refreshMe();
  }

  private _setStatus(status: SidebarStatus, problem: IProblem | null): void {
    this._status = status;
    this._problem = problem;
    this._changed.emit();
  }

  private _status: SidebarStatus = 'loading';
  private _tables: ReadonlyArray<CatalogEntry> = [];
  private _problem: IProblem | null = null;
  private _refreshedAt: Date | null = null;
  private _me: Me | null = null;
  private _pending: Promise<void> | null = null;
  private _versionChecked = false;
  private _visible = true;
  private _pollSeconds: number;
  private _poll: Poll;
  private _section: Section = 'catalog';
  private _filters: ICatalogFilters = NO_FILTERS;
  private _serverMatches: Set<string> | null = null;
  private _searchedText = '';
  private _searchAbort: AbortController | null = null;
  private _collapsed = new Set<string>();
  private _rows: CatalogRow[] | null = null;
  private _packages: ISlot<Package[]> = emptySlot();
  private _stack: ISlot<Stack> = emptySlot();
  private _recipes: ISlot<Recipe[]> = emptySlot();
  private _snapshots: ISlot<WorkspaceSnapshots> = emptySlot();
  private _syncJob: WorkspaceJob | null = null;
  private _syncProblem: IProblem | null = null;
  private _changed = new Signal<this, void>(this);
  private _meChanged = new Signal<this, Me>(this);
}
