/**
 * Tables: the registry with each table's last run; *Extract now* with its progress; run history
 * with the schema changes each run found; edit a registration (PATCH, errors next to the field);
 * delete with "type the table id to confirm".
 */
import * as React from 'react';

import { requestAPI } from '../api';
import { Badge, ModeBadge, Progress } from '../components/bits';
import { Problem } from '../components/Problem';
import { humanBytes, humanCount } from '../format';
import { __, _n } from '../i18n';
import { describe, IProblem } from '../model';
import {
  Field,
  Notice,
  problemFor,
  problemOutside,
  ScreenHeader,
  TimeText,
  useLimits,
  useLoad
} from './common';
import {
  changesByRun,
  RegistryEntry,
  Run,
  RunHistory,
  schemaChangeText,
  Table,
  tablePatch
} from './registry';
import type { IScreenProps } from './screen';

const q = (part: string): string => encodeURIComponent(part);

const POLL_MS = 1000;

function statusTone(status: string | undefined): string {
  switch (status) {
    case 'succeeded':
      return 'success';
    case 'failed':
      return 'error';
    case 'running':
      return 'brand';
    default:
      return 'neutral';
  }
}

function num(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '—';
  }
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The run history of one table, with the schema changes each run found. */
function History(props: { tableId: string; generation: number }): JSX.Element {
  const history = useLoad(
    () => requestAPI<RunHistory>(`admin/tables/${q(props.tableId)}/runs`),
    [props.tableId, props.generation]
  );
  if (history.problem) {
    return <Problem problem={history.problem} />;
  }
  if (!history.value) {
    return <div className="jp-agnes-status">{__('Loading the run history…')}</div>;
  }
  const { runs, schema_changes, sync_state } = history.value;
  const changes = changesByRun(schema_changes);
  return (
    <div className="jp-agnes-admin-history" data-table-id={props.tableId}>
      <div className="jp-agnes-admin-history-head">
        <strong>{__('Run history')}</strong>
        {sync_state ? (
          <span className="jp-agnes-admin-note">
            {__(
              'Served to workspaces: run %1 · %2 · %3 · md5 %4',
              sync_state.run_id.slice(0, 8),
              humanCount(sync_state.rows),
              humanBytes(sync_state.size_bytes),
              sync_state.md5.slice(0, 10)
            )}
          </span>
        ) : (
          <span className="jp-agnes-admin-note">{__('Nothing extracted yet.')}</span>
        )}
      </div>
      {runs.length === 0 ? (
        <div className="jp-agnes-empty">
          {__(
            'No runs yet: remote tables are never extracted; local ones run on their schedule or with Extract now.'
          )}
        </div>
      ) : (
        <table className="jp-agnes-admin-list jp-agnes-admin-runs">
          <thead>
            <tr>
              <th>{__('Started')}</th>
              <th>{__('Trigger')}</th>
              <th>{__('Status')}</th>
              <th>{__('Rows read')}</th>
              <th>{__('Rows')}</th>
              <th>{__('Size')}</th>
              <th>{__('Duration')}</th>
              <th>{__('Schema changes / error')}</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run: Run) => {
              const change = run.schema_changes ?? changes.get(run.run_id) ?? null;
              const changeText = change ? schemaChangeText(change) : '';
              return (
                <tr
                  key={run.run_id}
                  className="jp-agnes-admin-runrow"
                  data-run-id={run.run_id}
                  data-status={run.status}
                >
                  <td>
                    <TimeText iso={run.started_at} />
                  </td>
                  <td>
                    {run.trigger}
                    {run.started_by ? ` · ${run.started_by}` : ''}
                  </td>
                  <td>
                    <Badge text={run.status} tone={statusTone(run.status)} />
                  </td>
                  <td className="jp-agnes-admin-num">{num(run.rows_read)}</td>
                  <td className="jp-agnes-admin-num">{num(run.rows)}</td>
                  <td className="jp-agnes-admin-num">{humanBytes(run.size_bytes)}</td>
                  <td className="jp-agnes-admin-num">{duration(run.duration_ms)}</td>
                  <td>
                    {changeText && (
                      <span
                        className="jp-agnes-admin-schema-change"
                        title={__('Columns added (+), removed (−) or retyped')}
                      >
                        {changeText}
                      </span>
                    )}
                    {run.error && <span className="jp-agnes-admin-run-error">{run.error}</span>}
                    {!changeText && !run.error && '—'}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}

const EDIT_FIELDS = [
  'name',
  'description',
  'folder',
  'query_mode',
  'schedule',
  'primary_key',
  'incremental_key'
] as const;

/** Edit a registration: every field with its limit; the server's refusal next to its field. */
function EditTable(props: {
  table: Table;
  onSaved: (table: Table) => void;
  onCancel: () => void;
}): JSX.Element {
  const { table } = props;
  const limits = useLimits('TableUpdate');
  const [edit, setEdit] = React.useState<Record<string, string>>({
    name: table.name ?? '',
    description: table.description ?? '',
    folder: table.folder ?? '',
    query_mode: table.query_mode,
    schedule: table.schedule ?? '',
    primary_key: table.primary_key.join(', '),
    incremental_key: table.incremental_key ?? ''
  });
  const [error, setError] = React.useState<unknown>(null);
  const [busy, setBusy] = React.useState(false);
  const patch = tablePatch(table, edit);
  const changed = Object.keys(patch).length > 0;
  const save = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await requestAPI<Table>(`admin/tables/${q(table.id)}`, {
        method: 'PATCH',
        body: JSON.stringify(patch),
        headers: { 'Content-Type': 'application/json' }
      });
      props.onSaved(saved);
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };
  const input = (key: string, extra: Partial<React.InputHTMLAttributes<HTMLInputElement>> = {}) => (
    <input
      className="jp-mod-styled"
      name={key}
      value={edit[key]}
      onChange={e => setEdit({ ...edit, [key]: e.target.value })}
      {...extra}
    />
  );
  const usage = (key: string): string | undefined => {
    const max = limits[key]?.maxLength;
    return max !== undefined ? `${edit[key].length} / ${max}` : undefined;
  };
  return (
    <form
      className="jp-agnes-admin-panelform jp-agnes-admin-edit-table"
      onSubmit={e => void save(e)}
    >
      <h3 className="jp-agnes-admin-form-title">{__('Edit %1', table.id)}</h3>
      <div className="jp-agnes-admin-form-grid">
        <Field
          label={__('Name')}
          name="name"
          limit={limits.name}
          usage={usage('name')}
          error={problemFor(error, 'name')}
        >
          {input('name')}
        </Field>
        <Field
          label={__('Folder')}
          name="folder"
          limit={limits.folder}
          usage={usage('folder')}
          help={__('Groups tables in the catalog tree.')}
          error={problemFor(error, 'folder')}
        >
          {input('folder')}
        </Field>
        <Field
          label={__('Mode')}
          name="query_mode"
          limit={limits.query_mode}
          error={problemFor(error, 'query_mode')}
        >
          <select
            className="jp-mod-styled"
            name="query_mode"
            value={edit.query_mode}
            onChange={e => setEdit({ ...edit, query_mode: e.target.value })}
          >
            {(limits.query_mode?.enum ?? ['local', 'remote', 'materialized']).map(m => (
              <option key={String(m)} value={String(m)}>
                {String(m)}
              </option>
            ))}
          </select>
        </Field>
        <Field
          label={__('Schedule')}
          name="schedule"
          limit={limits.schedule}
          help={__(
            '"every 6h" (m, h or d) or a 5-field cron expression, UTC; empty: only on demand.'
          )}
          error={problemFor(error, 'schedule')}
        >
          {input('schedule', { placeholder: 'every 6h' })}
        </Field>
        <Field
          label={__('Primary key')}
          name="primary_key"
          limit={limits.primary_key}
          help={__('Column names, comma-separated.')}
          error={problemFor(error, 'primary_key')}
        >
          {input('primary_key')}
        </Field>
        <Field
          label={__('Incremental key')}
          name="incremental_key"
          limit={limits.incremental_key}
          help={__(
            'A column that only grows (e.g. updated_at): later runs read the new rows only.'
          )}
          error={problemFor(error, 'incremental_key')}
        >
          {input('incremental_key')}
        </Field>
        <Field
          label={__('Description')}
          name="description"
          limit={limits.description}
          usage={usage('description')}
          error={problemFor(error, 'description')}
        >
          <textarea
            className="jp-mod-styled"
            name="description"
            rows={3}
            value={edit.description}
            onChange={e => setEdit({ ...edit, description: e.target.value })}
          />
        </Field>
      </div>
      <Problem problem={problemOutside(error, [...EDIT_FIELDS])} />
      <div className="jp-agnes-admin-actions">
        <button type="submit" className="jp-mod-styled jp-mod-accept" disabled={busy || !changed}>
          {busy ? __('Saving…') : __('Save')}
        </button>
        <button type="button" className="jp-mod-styled" onClick={props.onCancel}>
          {__('Cancel')}
        </button>
      </div>
    </form>
  );
}

/** Delete: the admin types the table id to confirm (as the seed's registry page asked). */
function ConfirmDelete(props: {
  table: Table;
  onDeleted: () => void;
  onCancel: () => void;
}): JSX.Element {
  const [typed, setTyped] = React.useState('');
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [busy, setBusy] = React.useState(false);
  const go = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    if (typed !== props.table.id) {
      return;
    }
    setBusy(true);
    try {
      await requestAPI(`admin/tables/${q(props.table.id)}`, { method: 'DELETE' });
      props.onDeleted();
    } catch (reason) {
      setProblem(describe(reason));
      setBusy(false);
    }
  };
  return (
    <form className="jp-agnes-admin-confirm-delete" onSubmit={e => void go(e)} role="alertdialog">
      <p>
        {__(
          "Delete the registration of %1? It leaves every analyst's catalog at once, and grants, packages and stacks naming it no longer reach it. The data in the source is not touched.",
          props.table.id
        )}
      </p>
      <label className="jp-agnes-admin-confirm-label">
        {__('Type %1 to confirm', props.table.id)}
        <input
          className="jp-mod-styled jp-agnes-admin-confirm-input"
          value={typed}
          onChange={e => setTyped(e.target.value)}
          autoFocus
          spellCheck={false}
          autoComplete="off"
        />
      </label>
      <Problem problem={problem} />
      <div className="jp-agnes-admin-actions">
        <button
          type="submit"
          className="jp-mod-styled jp-mod-warn jp-agnes-admin-confirm-delete-go"
          disabled={busy || typed !== props.table.id}
        >
          {busy ? __('Deleting…') : __('Delete %1', props.table.id)}
        </button>
        <button type="button" className="jp-mod-styled" onClick={props.onCancel}>
          {__('Cancel')}
        </button>
      </div>
    </form>
  );
}

type Open = { id: string; what: 'history' | 'edit' | 'delete' } | null;

export function TablesScreen(props: IScreenProps): JSX.Element {
  const { generation, onChanged } = props;
  const [tick, setTick] = React.useState(0);
  const registry = useLoad(
    () => requestAPI<{ tables: RegistryEntry[] }>('admin/tables').then(r => r.tables),
    [generation, tick]
  );
  const [open, setOpen] = React.useState<Open>(null);
  const [filter, setFilter] = React.useState('');
  const [notice, setNotice] = React.useState<string | null>(null);
  const [running, setRunning] = React.useState<Record<string, { run: Run; since: number }>>({});
  const [problems, setProblems] = React.useState<Record<string, IProblem>>({});
  const [now, setNow] = React.useState(Date.now());

  // Follow the runs started here until they end (GET admin/tables/{id}/runs/{run_id}).
  const runningIds = Object.keys(running).sort().join(',');
  React.useEffect(() => {
    if (!runningIds) {
      return;
    }
    const timer = window.setInterval(() => {
      setNow(Date.now());
      for (const id of runningIds.split(',')) {
        const current = running[id];
        if (!current) {
          continue;
        }
        requestAPI<Run>(`admin/tables/${q(id)}/runs/${q(current.run.run_id)}`).then(
          run => {
            if (run.status === 'running') {
              return;
            }
            setRunning(r => {
              const next = { ...r };
              delete next[id];
              return next;
            });
            if (run.status === 'failed') {
              setProblems(p => ({
                ...p,
                [id]: { message: __('Extract of %1 failed: %2', id, run.error ?? ''), hint: null }
              }));
            } else {
              setNotice(
                __(
                  '%1 extracted: %2, %3 in %4.',
                  id,
                  humanCount(run.rows),
                  humanBytes(run.size_bytes),
                  duration(run.duration_ms)
                )
              );
            }
            setTick(t => t + 1);
          },
          reason => setProblems(p => ({ ...p, [id]: describe(reason) }))
        );
      }
    }, POLL_MS);
    return () => window.clearInterval(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runningIds]);

  // Runs already going when the registry was read (a schedule, another admin): follow them too.
  React.useEffect(() => {
    const going = (registry.value ?? []).filter(t => t.running_run_id && !running[t.id]);
    if (going.length) {
      setRunning(r => {
        const next = { ...r };
        for (const t of going) {
          next[t.id] = { run: { run_id: t.running_run_id } as Run, since: Date.now() };
        }
        return next;
      });
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [registry.value]);

  const extract = async (table: RegistryEntry): Promise<void> => {
    setProblems(p => {
      const next = { ...p };
      delete next[table.id];
      return next;
    });
    try {
      const run = await requestAPI<Run>(`admin/tables/${q(table.id)}/extract`, { method: 'POST' });
      setRunning(r => ({ ...r, [table.id]: { run, since: Date.now() } }));
      setOpen({ id: table.id, what: 'history' });
    } catch (reason) {
      setProblems(p => ({ ...p, [table.id]: describe(reason) }));
    }
  };

  const needle = filter.trim().toLowerCase();
  const tables = (registry.value ?? []).filter(
    t =>
      !needle ||
      t.id.toLowerCase().includes(needle) ||
      t.source.toLowerCase().includes(needle) ||
      (t.source_table ?? '').toLowerCase().includes(needle) ||
      (t.folder ?? '').toLowerCase().includes(needle)
  );
  const toggle = (id: string, what: 'history' | 'edit' | 'delete'): void =>
    setOpen(open && open.id === id && open.what === what ? null : { id, what });

  return (
    <div className="jp-agnes-admin-screen jp-agnes-admin-tables">
      <ScreenHeader
        title={__('Tables')}
        description={__(
          'The registry: every table analysts can be granted, with its mode, schedule and last extract. Register new ones from Sources → Discover.'
        )}
      >
        <input
          className="jp-mod-styled jp-agnes-admin-tables-filter"
          placeholder={__('Filter by id, source, folder')}
          value={filter}
          onChange={e => setFilter(e.target.value)}
          aria-label={__('Filter the registry')}
        />
      </ScreenHeader>
      {notice && <Notice text={notice} tone="success" onClose={() => setNotice(null)} />}
      <Problem problem={registry.problem} />
      {registry.loading && !registry.value && (
        <div className="jp-agnes-status">{__('Loading the registry…')}</div>
      )}
      {registry.value && (
        <div className="jp-agnes-admin-note jp-agnes-admin-regcount">
          {needle
            ? __('%1 of %2 tables', tables.length, registry.value.length)
            : _n('%1 table', '%1 tables', registry.value.length, registry.value.length)}
        </div>
      )}
      {registry.value && (
        <table className="jp-agnes-admin-list jp-agnes-admin-registry">
          <thead>
            <tr>
              <th>{__('Table')}</th>
              <th>{__('Mode')}</th>
              <th>{__('Source')}</th>
              <th>{__('Schedule')}</th>
              <th>{__('Last run')}</th>
              <th>{__('Actions')}</th>
            </tr>
          </thead>
          <tbody>
            {tables.map(table => {
              const last = table.last_run ?? null;
              const live = running[table.id];
              const extractable = table.query_mode !== 'remote';
              const isOpen = open?.id === table.id ? open.what : null;
              return (
                <React.Fragment key={table.id}>
                  <tr className="jp-agnes-admin-regrow" data-table-id={table.id}>
                    <td>
                      <div className="jp-agnes-admin-strong">{table.id}</div>
                      {table.name && table.name !== table.id && (
                        <div className="jp-agnes-admin-sub">{table.name}</div>
                      )}
                    </td>
                    <td>
                      <ModeBadge mode={table.query_mode} />
                    </td>
                    <td className="jp-agnes-admin-mono">
                      {table.source}
                      {table.query_mode === 'materialized'
                        ? ' · SQL'
                        : ` · ${table.bucket ? `${table.bucket}/` : ''}${table.source_table}`}
                    </td>
                    <td>{table.schedule ?? '—'}</td>
                    <td
                      className="jp-agnes-admin-lastrun"
                      data-status={live ? 'running' : (last?.status ?? 'none')}
                    >
                      {live ? (
                        <Progress
                          done={0}
                          total={null}
                          label={__(
                            'Extracting… %1 s',
                            Math.max(0, Math.round((now - live.since) / 1000))
                          )}
                        />
                      ) : last ? (
                        <>
                          <Badge text={last.status} tone={statusTone(last.status)} />{' '}
                          <TimeText iso={last.started_at} />
                          {last.rows !== null && last.rows !== undefined && (
                            <span className="jp-agnes-admin-sub"> · {humanCount(last.rows)}</span>
                          )}
                          {last.error && (
                            <div className="jp-agnes-admin-run-error">{last.error}</div>
                          )}
                        </>
                      ) : (
                        <span className="jp-agnes-admin-sub">
                          {extractable ? __('never extracted') : __('remote: not extracted')}
                        </span>
                      )}
                    </td>
                    <td className="jp-agnes-admin-rowactions">
                      {extractable && (
                        <button
                          className="jp-mod-styled jp-agnes-admin-extract"
                          disabled={!!live || !!table.running_run_id}
                          onClick={() => void extract(table)}
                        >
                          {live || table.running_run_id ? __('Extracting…') : __('Extract now')}
                        </button>
                      )}
                      <button
                        className={`jp-mod-styled jp-agnes-admin-history-toggle${isOpen === 'history' ? ' jp-mod-active' : ''}`}
                        aria-expanded={isOpen === 'history'}
                        onClick={() => toggle(table.id, 'history')}
                      >
                        {__('History')}
                      </button>
                      <button
                        className="jp-mod-styled jp-agnes-admin-edit"
                        aria-expanded={isOpen === 'edit'}
                        onClick={() => toggle(table.id, 'edit')}
                      >
                        {__('Edit')}
                      </button>
                      <button
                        className="jp-mod-styled jp-mod-warn jp-agnes-admin-delete"
                        aria-expanded={isOpen === 'delete'}
                        onClick={() => toggle(table.id, 'delete')}
                      >
                        {__('Delete…')}
                      </button>
                    </td>
                  </tr>
                  {problems[table.id] && (
                    <tr className="jp-agnes-admin-outcome">
                      <td colSpan={6}>
                        <Problem problem={problems[table.id]} />
                      </td>
                    </tr>
                  )}
                  {isOpen && (
                    <tr className="jp-agnes-admin-detail" data-detail-for={table.id}>
                      <td colSpan={6}>
                        {isOpen === 'history' && (
                          <History tableId={table.id} generation={generation * 1000 + tick} />
                        )}
                        {isOpen === 'edit' && (
                          <EditTable
                            table={table}
                            onCancel={() => setOpen(null)}
                            onSaved={saved => {
                              setOpen(null);
                              setNotice(__('%1 saved.', saved.id));
                              onChanged('tables');
                            }}
                          />
                        )}
                        {isOpen === 'delete' && (
                          <ConfirmDelete
                            table={table}
                            onCancel={() => setOpen(null)}
                            onDeleted={() => {
                              setOpen(null);
                              setNotice(__('%1 deleted.', table.id));
                              onChanged('tables');
                            }}
                          />
                        )}
                      </td>
                    </tr>
                  )}
                </React.Fragment>
              );
            })}
          </tbody>
        </table>
      )}
    </div>
  );
}
