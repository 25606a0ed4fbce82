/**
 * Admin console: remote tables' metadata — the warm-up followed live over Server-Sent Events
 * (counts per state, a progress bar, each row pending → warming → fresh | error), Re-warm all,
 * and a single-row Refresh. When the stream drops it reconnects with back-off and says so.
 */
import * as React from 'react';

import { requestAPI } from '../api';
import type { MetadataRow, MetadataStatus } from '../apitypes';
import { Badge, freshnessLabel, ModeBadge, Progress } from '../components/bits';
import { Problem } from '../components/Problem';
import { humanBytes, humanCount } from '../format';
import { __ } from '../i18n';
import { describe, type IProblem } from '../model';
import { type IStreamState, ScreenHeader, TimeText, useEventStream, useLoad } from './common';
import type { IScreenProps } from './screen';
import { applyEvent, countStates, doneCount, type RowState, type RunState } from './stream';

const STATE_TONE: Record<RowState, string> = {
  pending: 'neutral',
  warming: 'brand',
  fresh: 'success',
  no_data: 'warn',
  error: 'error'
};

const STATE_TEXT: Record<RowState, string> = {
  pending: 'pending',
  warming: 'warming',
  fresh: 'fresh',
  no_data: 'no data',
  error: 'error'
};

const EVENTS = ['snapshot', 'start', 'row', 'complete'];

function StreamBadge(props: { stream: IStreamState }): JSX.Element {
  const { stream } = props;
  const [now, setNow] = React.useState(Date.now());
  React.useEffect(() => {
    if (stream.status !== 'reconnecting') {
      return;
    }
    const timer = window.setInterval(() => setNow(Date.now()), 500);
    return () => window.clearInterval(timer);
  }, [stream.status, stream.retryAt]);
  if (stream.status === 'live') {
    return (
      <span className="jp-agnes-admin-stream jp-agnes-admin-stream-live" data-stream="live">
        {__('Live')}
      </span>
    );
  }
  if (stream.status === 'connecting') {
    return (
      <span className="jp-agnes-admin-stream" data-stream="connecting">
        {__('Connecting…')}
      </span>
    );
  }
  const seconds = Math.max(0, Math.ceil(((stream.retryAt ?? now) - now) / 1000));
  return (
    <span
      className="jp-agnes-admin-stream jp-agnes-admin-stream-lost"
      data-stream="reconnecting"
      role="status"
    >
      {__('Live updates lost — reconnecting in %1 s (attempt %2)', seconds, stream.attempt)}
    </span>
  );
}

export function MetadataScreen(props: IScreenProps): JSX.Element {
  const [run, setRun] = React.useState<RunState>(null);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [busy, setBusy] = React.useState(false);
  const [refreshing, setRefreshing] = React.useState<Set<string>>(new Set());
  const [rowProblems, setRowProblems] = React.useState<Map<string, string>>(new Map());
  const [filter, setFilter] = React.useState<'all' | RowState>('all');
  const status = useLoad(() => requestAPI<MetadataStatus>('metadata/status'), [props.generation]);
  // Each table's mode: a warm-up reads every table; only remote ones have cached metadata.
  const modes = useLoad(
    () =>
      requestAPI<{ tables: Array<{ id: string; query_mode: string }> }>('admin/tables').then(
        r => new Map(r.tables.map(t => [t.id, t.query_mode]))
      ),
    [props.generation]
  );

  // The run as the server has it now, so the screen is right even while the stream is down; the
  // stream's snapshot and events take over from there.
  const [known, setKnown] = React.useState(false);
  React.useEffect(() => {
    let live = true;
    requestAPI<Record<string, unknown>>('admin/warmup').then(
      state => {
        if (live) {
          setRun(current => current ?? applyEvent(null, 'snapshot', state));
          setKnown(true);
        }
      },
      reason => live && setProblem(describe(reason))
    );
    return () => {
      live = false;
    };
  }, [props.generation]);

  const stream = useEventStream(
    'admin/warmup/stream',
    EVENTS,
    (event, data) => {
      setRun(state => applyEvent(state, event, data));
      setKnown(true);
      if (event === 'complete') {
        status.reload();
      }
    },
    'complete'
  );

  const rewarm = async (): Promise<void> => {
    setBusy(true);
    setProblem(null);
    try {
      await requestAPI<unknown>('admin/warmup', { method: 'POST' });
    } catch (reason) {
      setProblem(describe(reason));
    } finally {
      setBusy(false);
    }
  };

  const refreshOne = async (id: string): Promise<void> => {
    setRefreshing(s => new Set(s).add(id));
    const problems = new Map(rowProblems);
    problems.delete(id);
    try {
      const result = await requestAPI<{ state: string; error: string | null }>(
        `admin/metadata/refresh/${encodeURIComponent(id)}`,
        { method: 'POST' }
      );
      if (result.error) {
        problems.set(id, result.error);
      }
      status.reload();
    } catch (reason) {
      problems.set(id, describe(reason).message);
    } finally {
      setRowProblems(problems);
      setRefreshing(s => {
        const next = new Set(s);
        next.delete(id);
        return next;
      });
    }
  };

  const counts = countStates(run);
  const total = run?.total ?? 0;
  const done = doneCount(counts);
  const metadata = new Map<string, MetadataRow>(
    (status.value?.tables ?? []).map(t => [t.table_id, t])
  );
  // Every remote table the status lists, plus any the run names that the status does not (yet).
  const ids = [...metadata.keys()];
  for (const id of run?.rows.keys() ?? []) {
    if (!metadata.has(id)) {
      ids.push(id);
    }
  }
  const shown = ids.filter(id => filter === 'all' || run?.rows.get(id)?.state === filter);
  const running = run?.status === 'running';

  return (
    <div className="jp-agnes-admin-screen jp-agnes-admin-metadata">
      <ScreenHeader
        title={__('Metadata')}
        description={__(
          'Remote tables keep their metadata (rows, size, partitioning) in a cache the catalog and the cost gate read. A warm-up reads every registered table again, remote ones into that cache.'
        )}
      >
        <StreamBadge stream={stream} />
        <button
          className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-rewarm"
          disabled={busy || running}
          onClick={() => void rewarm()}
        >
          {running ? __('Warming…') : __('Re-warm all')}
        </button>
      </ScreenHeader>
      <Problem problem={problem ?? status.problem} />
      <div
        className="jp-agnes-admin-run"
        data-run-status={run?.status ?? 'none'}
        data-run-id={run?.run_id ?? ''}
      >
        {run ? (
          <>
            <div className="jp-agnes-admin-run-line">
              <strong>{running ? __('Warm-up running') : __('Last warm-up complete')}</strong>
              <span className="jp-agnes-admin-muted">
                {__('started')} <TimeText iso={run.started_at} />
                {run.finished_at && (
                  <>
                    {' · '}
                    {__('finished')} <TimeText iso={run.finished_at} />
                  </>
                )}
              </span>
            </div>
            <Progress done={done} total={total} label={__('%1 of %2 tables done', done, total)} />
            <div className="jp-agnes-admin-counts" role="list">
              {(['all', 'pending', 'warming', 'fresh', 'no_data', 'error'] as const).map(s => (
                <button
                  key={s}
                  role="listitem"
                  className={`jp-agnes-admin-count-chip jp-agnes-admin-count-${s}${filter === s ? ' jp-mod-active' : ''}`}
                  data-state={s}
                  onClick={() => setFilter(s)}
                >
                  <span className="jp-agnes-admin-count-n">{s === 'all' ? total : counts[s]}</span>{' '}
                  {s === 'all' ? __('all') : __(STATE_TEXT[s])}
                </button>
              ))}
            </div>
          </>
        ) : (
          <p className="jp-agnes-admin-muted">
            {known
              ? __('No warm-up has run since the server started.')
              : __('Reading the warm-up state…')}
          </p>
        )}
      </div>
      <table className="jp-agnes-admin-table jp-agnes-admin-metadata-table">
        <thead>
          <tr>
            <th>{__('Table')}</th>
            <th>{__('Warm-up')}</th>
            <th>{__('Metadata')}</th>
            <th>{__('Rows')}</th>
            <th>{__('Size')}</th>
            <th>{__('Read')}</th>
            <th>{__('Message')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {shown.map(id => {
            const row = run?.rows.get(id);
            const meta = metadata.get(id);
            const message = rowProblems.get(id) ?? row?.error ?? meta?.error_msg ?? null;
            const mode = modes.value?.get(id) ?? (meta ? 'remote' : null);
            return (
              <tr key={id} data-table-id={id} data-state={row?.state ?? ''}>
                <td className="jp-agnes-admin-nowrap">
                  <code>{id}</code> {mode && <ModeBadge mode={mode} />}
                </td>
                <td>
                  {row ? (
                    <>
                      <Badge text={__(STATE_TEXT[row.state])} tone={STATE_TONE[row.state]} />
                      {row.ms !== null && (
                        <span className="jp-agnes-admin-muted"> {row.ms} ms</span>
                      )}
                    </>
                  ) : (
                    <span className="jp-agnes-admin-muted">—</span>
                  )}
                </td>
                <td>
                  {meta ? (
                    freshnessLabel(meta.freshness)
                  ) : (
                    <span
                      className="jp-agnes-admin-muted"
                      title={__('Extracted tables report their extract on the Tables screen.')}
                    >
                      {mode && mode !== 'remote' ? __('extracted') : '—'}
                    </span>
                  )}
                </td>
                <td>{meta ? humanCount(meta.rows) : '—'}</td>
                <td>{meta ? humanBytes(meta.size_bytes) : '—'}</td>
                <td>{meta ? <TimeText iso={meta.refreshed_at} /> : '—'}</td>
                <td className="jp-agnes-admin-metadata-message">{message}</td>
                <td className="jp-agnes-admin-cell-actions">
                  {mode === 'remote' && (
                    <button
                      className="jp-Button jp-mod-styled jp-mod-reject jp-agnes-admin-refresh-one"
                      disabled={refreshing.has(id)}
                      onClick={() => void refreshOne(id)}
                    >
                      {refreshing.has(id) ? __('Refreshing…') : __('Refresh')}
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
          {!status.loading && shown.length === 0 && (
            <tr>
              <td colSpan={8} className="jp-agnes-admin-empty">
                {__('No remote tables.')}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
