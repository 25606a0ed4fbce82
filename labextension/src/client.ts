/**
 * The calls the panel (and, next, the admin console) makes to agnes/v1. Every response type is
 * an alias of the OpenAPI document's schema (./apitypes), never a hand-copied interface.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { AgnesApiError, requestAPI } from './api';
import type {
  Catalog,
  CatalogIds,
  Me,
  Package,
  Recipe,
  RenderedRecipe,
  Sample,
  ScanEstimate,
  Stack,
  TableSchema,
  WorkspaceJob,
  WorkspaceSnapshots
} from './apitypes';
import { API_NAMESPACE } from './tokens';

export type StackKind = 'packages' | 'recipes' | 'tables';

export interface ICatalogQuery {
  search?: string;
  mode?: string;
  package?: string;
  source?: string;
}

function query(params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v as string)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

const id = (value: string): string => encodeURIComponent(value);

function json(method: string, body?: unknown, signal?: AbortSignal): RequestInit {
  return {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
    signal
  };
}

export const client = {
  me: (): Promise<Me> => requestAPI<Me>('me'),
  catalog: (q: ICatalogQuery = {}, signal?: AbortSignal): Promise<Catalog> =>
    requestAPI<Catalog>(`catalog${query({ ...q })}`, { signal }),
  /** Only the ids of what ``catalog`` lists for the same filters (search as you type). */
  catalogIds: (q: ICatalogQuery = {}, signal?: AbortSignal): Promise<CatalogIds> =>
    requestAPI<CatalogIds>(`catalog/ids${query({ ...q })}`, { signal }),
  schema: (table: string): Promise<TableSchema> =>
    requestAPI<TableSchema>(`tables/${id(table)}/schema`),
  sample: (table: string, n = 10): Promise<Sample> =>
    requestAPI<Sample>(`tables/${id(table)}/sample${query({ n: String(n) })}`),
  estimate: (body: Record<string, unknown>, signal?: AbortSignal): Promise<ScanEstimate> =>
    requestAPI<ScanEstimate>('scans/estimate', json('POST', body, signal)),
  packages: (): Promise<{ packages: Package[] }> => requestAPI<{ packages: Package[] }>('packages'),
  stack: (): Promise<Stack> => requestAPI<Stack>('stack'),
  addToStack: (kind: StackKind, item: string): Promise<Stack> =>
    requestAPI<Stack>(`stack/${id(kind)}/${id(item)}`, { method: 'PUT' }),
  removeFromStack: (kind: StackKind, item: string): Promise<unknown> =>
    requestAPI(`stack/${id(kind)}/${id(item)}`, { method: 'DELETE' }),
  recipes: (): Promise<{ recipes: Recipe[] }> => requestAPI<{ recipes: Recipe[] }>('recipes'),
  render: (slug: string, params: Record<string, unknown>): Promise<RenderedRecipe> =>
    requestAPI<RenderedRecipe>(`recipes/${id(slug)}/render`, json('POST', { params })),
  snapshots: (): Promise<WorkspaceSnapshots> =>
    requestAPI<WorkspaceSnapshots>('workspace/snapshots'),
  createSnapshot: (body: Record<string, unknown>): Promise<WorkspaceJob> =>
    requestAPI<WorkspaceJob>('workspace/snapshots', json('POST', body)),
  refreshSnapshot: (name: string, confirm = false): Promise<WorkspaceJob> =>
    requestAPI<WorkspaceJob>(`workspace/snapshots/${id(name)}/refresh`, json('POST', { confirm })),
  dropSnapshot: (name: string): Promise<unknown> =>
    requestAPI(`workspace/snapshots/${id(name)}`, { method: 'DELETE' }),
  sync: (dryRun = false): Promise<WorkspaceJob> =>
    requestAPI<WorkspaceJob>('workspace/sync', json('POST', { dry_run: dryRun })),
  job: (jobId: string): Promise<WorkspaceJob> =>
    requestAPI<WorkspaceJob>(`workspace/jobs/${id(jobId)}`)
};

/**
 * Follow a workspace job: progress events over SSE (EventSource sends the session cookie), the
 * final job when it ends. If the stream breaks, the job is read once more so the caller always
 * gets its outcome.
 */
export function followJob(
  job: WorkspaceJob,
  onProgress: (job: WorkspaceJob) => void
): Promise<WorkspaceJob> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(
    settings.baseUrl,
    API_NAMESPACE,
    'workspace/jobs',
    id(job.job_id),
    'events'
  );
  return new Promise<WorkspaceJob>((resolve, reject) => {
    let settled = false;
    const source = new EventSource(url, { withCredentials: true });
    const finish = (final: WorkspaceJob | null, error?: unknown): void => {
      if (settled) {
        return;
      }
      settled = true;
      source.close();
      if (final) {
        resolve(final);
      } else {
        reject(error);
      }
    };
    source.addEventListener('progress', event => {
      try {
        onProgress(JSON.parse((event as MessageEvent).data) as WorkspaceJob);
      } catch {
        // a malformed event is skipped; the final state comes with "done"
      }
    });
    source.addEventListener('done', event => {
      try {
        finish(JSON.parse((event as MessageEvent).data) as WorkspaceJob);
      } catch (reason) {
        finish(null, reason);
      }
    });
    source.onerror = () => {
      // The stream broke (server restarted, network): ask for the job's state once.
      client.job(job.job_id).then(
        current => {
          if (current.status !== 'running') {
            finish(current);
          }
        },
        reason => finish(null, reason)
      );
    };
  });
}

/** The envelope of a failed job as an error the UI shows in place. */
export function jobError(job: WorkspaceJob): AgnesApiError | null {
  if (job.status !== 'failed' || !job.error) {
    return null;
  }
  return new AgnesApiError(0, job.error);
}
