/** The workspace's snapshots with their lineage, a stale badge, refresh, drop and disk use. */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import type { WorkspaceJob, WorkspaceSnapshot } from '../apitypes';
import { client, followJob, jobError } from '../client';
import { humanAge, humanBytes, humanCount } from '../format';
import { __ } from '../i18n';
import { describe, IProblem, SidebarModel } from '../model';
import { Badge, Bar, Progress } from './bits';
import { Problem } from './Problem';

function SnapshotCard(props: { snap: WorkspaceSnapshot; model: SidebarModel }): JSX.Element {
  const { snap, model } = props;
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [job, setJob] = React.useState<WorkspaceJob | null>(null);
  const [needsConfirm, setNeedsConfirm] = React.useState(false);

  const refresh = async (confirm: boolean): Promise<void> => {
    setProblem(null);
    setNeedsConfirm(false);
    try {
      const started = await client.refreshSnapshot(snap.name, confirm);
      setJob(started);
      const final = await followJob(started, setJob);
      setJob(null);
      const failed = jobError(final);
      setProblem(failed ? describe(failed) : null);
      model.notifySnapshotsChanged();
    } catch (reason) {
      setJob(null);
      const p = describe(reason);
      setNeedsConfirm(p.code === 'confirmation_required');
      setProblem(p);
    }
  };
  const drop = async (): Promise<void> => {
    const answer = await showDialog({
      title: __('Drop snapshot %1?', snap.name),
      body: __('Its Parquet file and lineage are deleted from your workspace.'),
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: __('Drop') })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await client.dropSnapshot(snap.name);
      model.notifySnapshotsChanged();
    } catch (reason) {
      setProblem(describe(reason));
    }
  };
  const progress = job?.progress;
  return (
    <li className="jp-agnes-card jp-agnes-snapshot" data-snapshot={snap.name}>
      <div className="jp-agnes-card-head">
        <span className="jp-agnes-card-title">{snap.name}</span>
        {snap.stale && (
          <Badge
            text={__('stale')}
            tone="warn"
            title={__(
              'Changed at the source since this snapshot: %1',
              (snap.stale_tables ?? []).join(', ')
            )}
          />
        )}
        {snap.truncated && <Badge text={__('truncated')} tone="error" />}
      </div>
      <div className="jp-agnes-card-meta">
        {humanCount(snap.rows)} · {humanBytes(snap.file_bytes)} · {humanAge(snap.created_at)} ·{' '}
        {snap.source}
      </div>
      <div className="jp-agnes-lineage">
        {snap.tables.map(t => (
          <span
            key={t.id}
            className="jp-agnes-lineage-table"
            title={__(
              'metadata at fetch: %1, read %2',
              t.freshness ?? __('unknown'),
              humanAge(t.refreshed_at ?? null)
            )}
          >
            {t.id}
          </span>
        ))}
        <span className="jp-agnes-est-vs-actual">
          {__(
            'estimated %1 scanned / %2 rows; actual %3 / %4 rows',
            humanBytes(snap.estimate?.scan_bytes ?? null),
            humanCount(snap.estimate?.result_rows ?? null),
            humanBytes(snap.actual?.scanned_bytes ?? null),
            humanCount(snap.actual?.rows ?? null)
          )}
        </span>
      </div>
      <details>
        <summary>SQL</summary>
        <pre className="jp-agnes-sql">{snap.sql}</pre>
      </details>
      {job && (
        <Progress
          done={progress?.done_bytes ?? 0}
          total={progress?.total_bytes ?? null}
          label={progress?.message || __('refreshing…')}
        />
      )}
      <div className="jp-agnes-card-actions">
        <button
          className="jp-mod-styled jp-agnes-snapshot-refresh"
          disabled={job !== null}
          onClick={() => void refresh(false)}
        >
          {__('Refresh')}
        </button>
        {needsConfirm && (
          <button
            className="jp-mod-styled jp-mod-warn jp-agnes-confirm"
            onClick={() => void refresh(true)}
          >
            {__('Confirm and refresh')}
          </button>
        )}
        <button
          className="jp-mod-styled jp-agnes-snapshot-drop"
          disabled={job !== null}
          onClick={() => void drop()}
        >
          {__('Drop')}
        </button>
      </div>
      <Problem problem={problem} />
    </li>
  );
}

export function SnapshotsSection(props: { model: SidebarModel }): JSX.Element {
  const { model } = props;
  const data = model.snapshots.value;
  const disk = data?.disk;
  return (
    <div className="jp-agnes-section jp-agnes-snapshots">
      {disk && (
        <div className="jp-agnes-disk">
          <div>
            {__(
              'Workspace disk: %1 of %2',
              humanBytes(disk.used_bytes),
              humanBytes(disk.cap_bytes)
            )}
          </div>
          <Bar
            value={disk.used_bytes}
            max={disk.cap_bytes}
            tone={disk.over ? 'error' : disk.used_bytes > disk.cap_bytes * 0.8 ? 'warn' : 'success'}
            title={__(
              'snapshots %1, synced data %2',
              humanBytes(disk.snapshots_bytes),
              humanBytes(disk.data_bytes)
            )}
          />
        </div>
      )}
      <Problem problem={model.snapshots.problem} />
      {model.snapshots.loading && !data && <div className="jp-agnes-status">{__('Loading…')}</div>}
      {data && data.snapshots.length === 0 && (
        <div className="jp-agnes-empty">
          {__(
            'No snapshots yet. Open a remote table and use Estimate & snapshot, or agnes.snapshot(expr, name=...).'
          )}
        </div>
      )}
      <ul className="jp-agnes-cards">
        {(data?.snapshots ?? []).map(s => (
          <SnapshotCard key={s.name} snap={s} model={model} />
        ))}
      </ul>
    </div>
  );
}
