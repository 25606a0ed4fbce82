/**
 * The warm-up as plain data: the run the SSE stream describes (snapshot, start, row, complete)
 * folded into one state, the counts per state, and the reconnect back-off. No DOM here.
 */

export type RowState = 'pending' | 'warming' | 'fresh' | 'no_data' | 'error';

export interface IRunRow {
  table_id: string;
  state: RowState;
  ms: number | null;
  error: string | null;
}

export interface IRun {
  run_id: string;
  kind: string;
  status: 'running' | 'complete';
  started_at: string | null;
  finished_at: string | null;
  total: number;
  /** Rows by table id, in the order the server listed them. */
  rows: Map<string, IRunRow>;
}

export type RunState = IRun | null;

/** Fold one SSE event into the run state. Unknown events and stale runs are ignored. */
export function applyEvent(
  state: RunState,
  event: string,
  data: Record<string, unknown>
): RunState {
  switch (event) {
    case 'snapshot': {
      // admin/warmup/stream sends a WarmupState; metadata/stream nests it under ``run``.
      const run = (data.run !== undefined ? data.run : data) as Record<string, unknown> | null;
      if (!run || run.status === 'never_run' || typeof run.run_id !== 'string') {
        return null;
      }
      return runOf(run);
    }
    case 'start':
      return runOf({ ...data, status: 'running', finished_at: null });
    case 'row': {
      if (!state || data.run_id !== state.run_id || typeof data.table_id !== 'string') {
        return state;
      }
      const rows = new Map(state.rows);
      rows.set(data.table_id, rowOf(data));
      return { ...state, rows, total: Math.max(state.total, rows.size) };
    }
    case 'complete': {
      if (!state || data.run_id !== state.run_id) {
        return state;
      }
      return {
        ...state,
        status: 'complete',
        finished_at: (data.finished_at as string | undefined) ?? new Date().toISOString()
      };
    }
    default:
      return state;
  }
}

function rowOf(data: Record<string, unknown>): IRunRow {
  return {
    table_id: String(data.table_id),
    state: (data.state as RowState) ?? 'pending',
    ms: typeof data.ms === 'number' ? data.ms : null,
    error: typeof data.error === 'string' ? data.error : null
  };
}

function runOf(data: Record<string, unknown>): IRun {
  const rows = new Map<string, IRunRow>();
  for (const r of (data.rows as Array<Record<string, unknown>> | undefined) ?? []) {
    const row = rowOf(r);
    rows.set(row.table_id, row);
  }
  return {
    run_id: String(data.run_id),
    kind: String(data.kind ?? 'warmup'),
    status: data.status === 'complete' ? 'complete' : 'running',
    started_at: (data.started_at as string | null | undefined) ?? null,
    finished_at: (data.finished_at as string | null | undefined) ?? null,
    total: typeof data.total === 'number' ? data.total : rows.size,
    rows
  };
}

export type Counts = Record<RowState, number>;

export function countStates(run: RunState): Counts {
  const counts: Counts = { pending: 0, warming: 0, fresh: 0, no_data: 0, error: 0 };
  for (const row of run?.rows.values() ?? []) {
    counts[row.state] = (counts[row.state] ?? 0) + 1;
  }
  return counts;
}

/** Rows done (fresh, no data or error) out of the run's total. */
export function doneCount(counts: Counts): number {
  return counts.fresh + counts.no_data + counts.error;
}

/** Reconnect delay after ``attempt`` failures in a row: 1 s, 2 s, 4 s … capped at 30 s. */
export function backoffDelay(attempt: number, baseMs = 1000, capMs = 30000): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
}
