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
  Version,
  WorkspaceJob,
  WorkspaceSnapshots
} from './apitypes';
import {
  buildRows,
  CatalogRow,
  filterEntries,
  haystackOf,
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
    this._mePoll = new Poll({
      auto: false,
      factory: () => this.refreshMe(),
      frequency: {
        interval: this._pollSeconds * 1000,
        backoff: true,
        max: this._pollSeconds * 1000 * 10
      },
      name: 'agnes-jupyter:me',
      standby: 'when-hidden'
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

  /** The panel is shown or hidden: polling pauses while nobody looks. */
  setVisible(visible: boolean): void {
    this._visible = visible;
    const age = this._refreshedAt ? Date.now() - this._refreshedAt.getTime() : Infinity;
    if (visible && age > this._pollSeconds * 1000) {
      // Older than one polling interval (or never read): read it now, after the panel is painted
      // with what it holds; else the poll's next turn does.
      requestAnimationFrame(() => void this.refresh());
    }
  }

  setPollSeconds(seconds: number): void {
    if (!(seconds > 0) || seconds === this._pollSeconds) {
      return;
    }
    this._pollSeconds = seconds;
    const frequency = { interval: seconds * 1000, backoff: true, max: seconds * 1000 * 10 };
    this._poll.frequency = frequency;
    this._mePoll.frequency = frequency;
  }

  /** Start polling (while the panel is shown) and read the budget for the status bar now and
   * then (while the page is visible). */
  start(): void {
    void this._poll.start();
    void this._mePoll.start();
    // One load now, shown or not: opening the panel then shows the catalog at once (and refreshes
    // it); while hidden it is not polled.
    void this.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    this._mePoll.dispose();
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
    performance.mark('agnes:load');
    if (this._status !== 'ready') {
      this._setStatus('loading', null);
    }
    // The version check goes with the first catalog request, not before it (one round trip less);
    // its answer decides what is shown.
    const version: Promise<{ info: Version } | { error: unknown }> | null = this._versionChecked
      ? null
      : getVersion().then(
          info => ({ info }),
          (error: unknown) => ({ error })
        );
    const data = client.catalog();
    data.catch(() => undefined); // judged below, after the version
    // The budget follows on its own: the catalog is shown without waiting for it.
    void this.refreshMe();
    if (version) {
      const checked = await version;
      if ('error' in checked) {
        const reason = checked.error;
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
      if (checked.info.version !== VERSION) {
        this._tables = [];
        this._setStatus('mismatch', {
          message: `The Agnes server extension is version ${checked.info.version}, but this page runs ${VERSION}.`,
          hint: 'Restart JupyterLab after installing or upgrading agnes-jupyter, then reload this page.'
        });
        return;
      }
      this._versionChecked = true;
    }
    try {
      const catalog = await data;
      performance.mark('agnes:fetched');
      this._tables = catalog.tables;
      this._haystacks = new Map();
      this._packageChoices = null;
      this._refreshedAt = new Date();
      this._rows = null;
      this._setStatus('ready', null);
    } catch (reason) {
      // Keep what was shown; say what went wrong above it.
      this._setStatus('error', describe(reason));
      throw reason;
    }
    if (this._section !== 'catalog') {
      void this.loadSection(this._section);
    }
  }

  async refreshMe(): Promise<void> {
    try {
      this._me = await client.me();
      this._changed.emit();
    } catch {
      // the status bar keeps its last value
    }
  }

  // -- the explorer ----------------------------------------------------------------------

  get filters(): ICatalogFilters {
    return this._filters;
  }

  /** The packages the catalog's tables belong to (computed once per catalog load). */
  get packageChoices(): string[] {
    if (this._packageChoices === null) {
      this._packageChoices = packagesOf(this._tables);
    }
    return this._packageChoices;
  }

  /** Change the filters; text is also searched by the server (it knows the column names). */
  setFilters(patch: Partial<ICatalogFilters>): void {
    const before = this._filters.text;
    this._filters = { ...this._filters, ...patch };
    this._rows = null;
    if (this._filters.text !== before) {
      this._serverMatches = null;
      this._searchedText = '';
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
    performance.mark('agnes:search');
    try {
      // Ids only: the panel holds the entries already (2.6 MB for 5,000 tables, vs a few KB).
      const found = await client.catalogIds({ search: trimmed }, abort.signal);
      performance.mark('agnes:searched');
      if (abort.signal.aborted || this._filters.text.trim() !== trimmed) {
        return;
      }
      this._serverMatches = new Set(found.ids);
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

  /** The tables that pass the filters (computed once per change, with the rows). */
  get visibleTables(): CatalogEntry[] {
    this._compute();
    return this._visible_tables;
  }

  get rows(): CatalogRow[] {
    this._compute();
    return this._rows as CatalogRow[];
  }

  private _compute(): void {
    if (this._rows !== null) {
      return;
    }
    const haystacks = this._haystacks;
    this._visible_tables = filterEntries(this._tables, this._filters, this._serverMatches, e => {
      let text = haystacks.get(e.id);
      if (text === undefined) {
        text = haystackOf(e);
        haystacks.set(e.id, text);
      }
      return text;
    });
    const flat = this._filters.text.trim().length > 0;
    this._rows = buildRows(this._visible_tables, this._collapsed, flat);
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
  private _visible = false;
  private _pollSeconds: number;
  private _poll: Poll;
  private _mePoll: Poll;
  private _section: Section = 'catalog';
  private _filters: ICatalogFilters = NO_FILTERS;
  private _serverMatches: Set<string> | null = null;
  private _searchedText = '';
  private _searchAbort: AbortController | null = null;
  private _collapsed = new Set<string>();
  private _rows: CatalogRow[] | null = null;
  private _visible_tables: CatalogEntry[] = [];
  private _haystacks = new Map<string, string>();
  private _packageChoices: string[] | null = null;
  private _packages: ISlot<Package[]> = emptySlot();
  private _stack: ISlot<Stack> = emptySlot();
  private _recipes: ISlot<Recipe[]> = emptySlot();
  private _snapshots: ISlot<WorkspaceSnapshots> = emptySlot();
  private _syncJob: WorkspaceJob | null = null;
  private _syncProblem: IProblem | null = null;
  private _changed = new Signal<this, void>(this);
}
