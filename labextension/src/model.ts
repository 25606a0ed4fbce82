/** State of the Agnes sidebar: server compatibility and the catalog. */
import { ISignal, Signal } from '@lumino/signaling';

import { VERSION } from './_version';
import { AgnesApiError, getCatalog, getVersion, ICatalogEntry } from './api';

export type SidebarStatus =
  | 'loading'
  | 'ready'
  | 'missing' // the server extension is not installed or not enabled
  | 'mismatch' // the server extension runs a different version
  | 'error';

export interface ISidebarProblem {
  message: string;
  hint: string | null;
}

export class SidebarModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get status(): SidebarStatus {
    return this._status;
  }

  get tables(): ReadonlyArray<ICatalogEntry> {
    return this._tables;
  }

  get problem(): ISidebarProblem | null {
    return this._problem;
  }

  get refreshedAt(): Date | null {
    return this._refreshedAt;
  }

  /** Check the server extension, then load the catalog. Never throws. */
  async refresh(): Promise<void> {
    if (this._pending) {
      return this._pending;
    }
    this._pending = this._refresh().finally(() => {
      this._pending = null;
    });
    return this._pending;
  }

  private async _refresh(): Promise<void> {
    this._set('loading', this._tables, null);
    try {
      const info = await getVersion();
      if (info.version !== VERSION) {
        this._set('mismatch', [], {
          message: `The Agnes server extension is version ${info.version}, but this page runs ${VERSION}.`,
          hint: 'Restart JupyterLab after installing or upgrading agnes-jupyter, then reload this page.'
        });
        return;
      }
    } catch (reason) {
      if (reason instanceof AgnesApiError && reason.status === 404) {
        this._set('missing', [], {
          message: 'The Agnes server extension is not running in this Jupyter server.',
          hint:
            'Install agnes-jupyter in the environment that runs JupyterLab, check that ' +
            '"jupyter server extension list" shows agnes_server enabled, then restart JupyterLab.'
        });
        return;
      }
      this._set('error', [], describe(reason));
      return;
    }
    try {
      const catalog = await getCatalog();
      this._refreshedAt = new Date();
      this._set('ready', catalog.tables, null);
    } catch (reason) {
      this._set('error', [], describe(reason));
    }
  }

  private _set(
    status: SidebarStatus,
    tables: ReadonlyArray<ICatalogEntry>,
    problem: ISidebarProblem | null
  ): void {
    this._status = status;
    this._tables = tables;
    this._problem = problem;
    this._changed.emit();
  }

  private _status: SidebarStatus = 'loading';
  private _tables: ReadonlyArray<ICatalogEntry> = [];
  private _problem: ISidebarProblem | null = null;
  private _refreshedAt: Date | null = null;
  private _pending: Promise<void> | null = null;
  private _changed = new Signal<this, void>(this);
}

function describe(reason: unknown): ISidebarProblem {
  if (reason instanceof AgnesApiError) {
    return { message: reason.message, hint: reason.hint };
  }
  return { message: String(reason), hint: 'Try refreshing; if it persists, check the server log.' };
}
