/**
 * A table opened in the main area: what it is, where it comes from, how fresh it is, its schema
 * with partition and cluster markers and ranges, a free preview, WHERE examples, the actions, and
 * for remote tables Estimate & snapshot with a live estimate.
 */
import { Clipboard } from '@jupyterlab/apputils';
import * as React from 'react';

import type {
  CatalogEntry,
  Column,
  Sample,
  ScanEstimate,
  TableSchema,
  WorkspaceJob
} from '../apitypes';
import { ibisCell, pyName, sqlCell } from '../catalog';
import { client, followJob, jobError } from '../client';
import { humanAge, humanBytes, humanCount } from '../format';
import { __ } from '../i18n';
import { describe, IProblem, SidebarModel } from '../model';
import { Badge, Bar, freshnessLabel, freshnessText, ModeBadge, Progress, sizesText } from './bits';
import { Problem } from './Problem';
import { CellInserter } from './RecipesSection';

export interface ITableViewOptions {
  tableId: string;
  model: SidebarModel;
  insert: CellInserter;
  /** Debounce of the live estimate, in ms (settings). */
  debounceMs: number;
  sampleRows: number;
  onSnapshot: () => void;
}

function value(v: unknown): string {
  if (v === null || v === undefined) {
    return '∅';
  }
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function Markers(props: { column: Column }): JSX.Element {
  const c = props.column;
  return (
    <span className="jp-agnes-markers">
      {c.partition && (
        <Badge
          text="P"
          tone="brand"
          title={__('partition column: filter on it and the scan reads only those partitions')}
        />
      )}
      {c.cluster_position !== null && c.cluster_position !== undefined && (
        <Badge
          text={`C${c.cluster_position}`}
          tone="brand"
          title={__(
            'clustered/sorted by it (position %1): filters on it skip row groups',
            c.cluster_position
          )}
        />
      )}
    </span>
  );
}

function SchemaTable(props: { schema: TableSchema }): JSX.Element {
  return (
    <table className="jp-agnes-schema">
      <thead>
        <tr>
          <th>{__('column')}</th>
          <th>{__('type')}</th>
          <th />
          <th>{__('min')}</th>
          <th>{__('max')}</th>
          <th>{__('description')}</th>
        </tr>
      </thead>
      <tbody>
        {props.schema.columns.map(c => (
          <tr key={c.name} data-column={c.name}>
            <td className="jp-agnes-colname">{c.name}</td>
            <td className="jp-agnes-coltype">{c.type}</td>
            <td>
              <Markers column={c} />
            </td>
            <td title={c.range_origin ? __('from %1', c.range_origin) : undefined}>
              {c.min === undefined || c.min === null ? '' : value(c.min)}
            </td>
            <td>{c.max === undefined || c.max === null ? '' : value(c.max)}</td>
            <td className="jp-agnes-coldesc">{c.description ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SampleTable(props: { sample: Sample }): JSX.Element {
  const { sample } = props;
  return (
    <div className="jp-agnes-sample-wrap">
      <table className="jp-agnes-sample">
        <thead>
          <tr>
            {sample.columns.map(c => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {sample.rows.map((row, i) => (
            <tr key={i}>
              {sample.columns.map(c => (
                <td key={c}>{value((row as Record<string, unknown>)[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const VERDICTS: Record<string, () => string> = {
  ok: () => __('runs without confirmation'),
  needs_confirmation: () => __('needs your confirmation'),
  too_large: () => __('over the per-scan cap: narrow it'),
  over_budget: () => __("over what is left of today's budget")
};

export function EstimateCard(props: { estimate: ScanEstimate; stale?: boolean }): JSX.Element {
  const e = props.estimate;
  const limits = e.limits;
  const tone =
    e.verdict === 'ok' ? 'success' : e.verdict === 'needs_confirmation' ? 'warn' : 'error';
  return (
    <div
      className={`jp-agnes-estimate${props.stale ? ' jp-agnes-stale' : ''}`}
      data-verdict={e.verdict}
    >
      <div className="jp-agnes-estimate-head">
        <b>{__('Estimate')}</b> <Badge text={e.verdict} tone={tone} />{' '}
        <span>{(VERDICTS[e.verdict] ?? (() => ''))()}</span>
      </div>
      <Bar
        value={e.scan_bytes}
        max={limits.scan_max_bytes}
        marker={limits.scan_confirm_bytes}
        tone={tone}
        className="jp-agnes-estimate-bar"
        title={__(
          '%1 of the %2 per-scan cap; the mark is the confirmation threshold',
          humanBytes(e.scan_bytes),
          humanBytes(limits.scan_max_bytes)
        )}
      />
      <dl className="jp-agnes-facts">
        <dt>{__('scans')}</dt>
        <dd className="jp-agnes-est-bytes">
          {humanBytes(e.scan_bytes)} {e.scan_bytes_basis ? `(${e.scan_bytes_basis})` : ''}
        </dd>
        <dt>{__('returns')}</dt>
        <dd className="jp-agnes-est-rows">
          {e.result_rows !== null && e.result_rows !== undefined
            ? `≤ ${humanCount(e.result_rows)}`
            : __('rows unknown')}
          , {humanBytes(e.result_bytes ?? null)}
        </dd>
        <dt>{__('cost')}</dt>
        <dd className="jp-agnes-est-cost">${(e.cost_usd ?? 0).toFixed(4)}</dd>
        <dt>{__('budget left')}</dt>
        <dd className="jp-agnes-est-budget">
          {__(
            '%1 of %2 today',
            humanBytes(limits.daily_remaining_bytes ?? 0),
            humanBytes(limits.daily_scan_bytes_per_user)
          )}
        </dd>
      </dl>
      <details>
        <summary>SQL</summary>
        <pre className="jp-agnes-sql">{e.sql}</pre>
      </details>
    </div>
  );
}

function EstimateForm(props: {
  entry: CatalogEntry;
  schema: TableSchema | null;
  options: ITableViewOptions;
}): JSX.Element {
  const { entry, schema, options } = props;
  const [columns, setColumns] = React.useState<string[]>([]);
  const [where, setWhere] = React.useState('');
  const [name, setName] = React.useState(`${pyName(entry.id)}_snapshot`);
  const [estimate, setEstimate] = React.useState<ScanEstimate | null>(null);
  const [estimating, setEstimating] = React.useState(false);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [confirming, setConfirming] = React.useState(false);
  const [job, setJob] = React.useState<WorkspaceJob | null>(null);
  const [done, setDone] = React.useState<WorkspaceJob | null>(null);
  const [runProblem, setRunProblem] = React.useState<IProblem | null>(null);
  const [canReplace, setCanReplace] = React.useState(false);

  const body = React.useMemo(() => {
    const b: Record<string, unknown> = { table: entry.id };
    if (columns.length) {
      b.select = columns;
    }
    if (where.trim()) {
      b.where = where.trim();
    }
    return b;
  }, [entry.id, columns, where]);

  // The live estimate: debounced like a dry run, the previous request aborted.
  React.useEffect(() => {
    const abort = new AbortController();
    setEstimating(true);
    setConfirming(false);
    const timer = window.setTimeout(() => {
      client.estimate(body, abort.signal).then(
        e => {
          setEstimate(e);
          setProblem(null);
          setEstimating(false);
        },
        reason => {
          if (!abort.signal.aborted) {
            setProblem(describe(reason));
            setEstimate(null);
            setEstimating(false);
          }
        }
      );
    }, options.debounceMs);
    return () => {
      window.clearTimeout(timer);
      abort.abort();
    };
  }, [body, options.debounceMs]);

  const run = async (confirm: boolean, force = false): Promise<void> => {
    setRunProblem(null);
    setDone(null);
    setCanReplace(false);
    try {
      const started = await client.createSnapshot({ ...body, name: name.trim(), confirm, force });
      setConfirming(false);
      setJob(started);
      const final = await followJob(started, setJob);
      setJob(null);
      const failed = jobError(final);
      if (failed) {
        setRunProblem(describe(failed));
      } else {
        setDone(final);
        options.onSnapshot();
      }
    } catch (reason) {
      setJob(null);
      const p = describe(reason);
      if (p.code === 'confirmation_required') {
        setConfirming(true);
      }
      setCanReplace(p.code === 'snapshot_exists');
      setRunProblem(p);
    }
  };

  const refused =
    estimate !== null && (estimate.verdict === 'too_large' || estimate.verdict === 'over_budget');
  const onSnapshot = (): void => {
    if (estimate?.verdict === 'needs_confirmation' && !confirming) {
      setConfirming(true);
      return;
    }
    void run(confirming);
  };
  const progress = job?.progress;
  const result = done?.result as
    { name?: string; rows?: number; file_bytes?: number } | null | undefined;
  return (
    <section className="jp-agnes-estimate-form" aria-label={__('Estimate & snapshot')}>
      <h3>{__('Estimate & snapshot')}</h3>
      <fieldset className="jp-agnes-columns">
        <legend>{__('Columns (none checked: all)')}</legend>
        {(schema?.columns ?? []).map(c => (
          <label key={c.name} className="jp-agnes-column-choice">
            <input
              type="checkbox"
              value={c.name}
              checked={columns.includes(c.name)}
              onChange={e =>
                setColumns(
                  e.target.checked ? [...columns, c.name] : columns.filter(x => x !== c.name)
                )
              }
            />
            {c.name}
          </label>
        ))}
      </fieldset>
      <label className="jp-agnes-where">
        <span>WHERE</span>
        <input
          className="jp-mod-styled jp-agnes-where-input"
          value={where}
          placeholder={entry.where_examples?.[0] ?? "country = 'CZ'"}
          onChange={e => setWhere(e.target.value)}
        />
      </label>
      {(entry.where_examples ?? []).length > 0 && (
        <div className="jp-agnes-where-examples">
          {__('Examples:')}{' '}
          {(entry.where_examples ?? []).map(w => (
            <button
              key={w}
              className="jp-agnes-linkish"
              onClick={() => setWhere(w)}
              title={__('Use this filter')}
            >
              {w}
            </button>
          ))}
        </div>
      )}
      <label className="jp-agnes-snapshot-name">
        <span>{__('Snapshot name')}</span>
        <input
          className="jp-mod-styled jp-agnes-name-input"
          value={name}
          onChange={e => setName(e.target.value)}
        />
      </label>
      {estimating && !estimate && <div className="jp-agnes-status">{__('Estimating…')}</div>}
      <Problem problem={problem} />
      {estimate && <EstimateCard estimate={estimate} stale={estimating} />}
      {confirming && estimate && (
        <div className="jp-agnes-confirm-step" role="alert">
          {__(
            'This scan reads %1, above the %2 confirmation threshold. It counts against your budget (%3 left today).',
            humanBytes(estimate.scan_bytes),
            humanBytes(estimate.limits.scan_confirm_bytes),
            humanBytes(estimate.limits.daily_remaining_bytes ?? 0)
          )}
        </div>
      )}
      <div className="jp-agnes-actions">
        <button
          className={`jp-mod-styled ${confirming ? 'jp-mod-warn' : 'jp-mod-accept'} jp-agnes-snapshot-run`}
          disabled={job !== null || refused || problem !== null || !name.trim()}
          onClick={onSnapshot}
        >
          {confirming ? __('Confirm and snapshot') : __('Snapshot')}
        </button>
        {confirming && (
          <button className="jp-mod-styled jp-agnes-cancel" onClick={() => setConfirming(false)}>
            {__('Cancel')}
          </button>
        )}
        {canReplace && (
          <button
            className="jp-mod-styled jp-mod-warn jp-agnes-replace"
            onClick={() => void run(confirming, true)}
          >
            {__('Replace it')}
          </button>
        )}
      </div>
      {job && (
        <Progress
          done={progress?.done_bytes ?? 0}
          total={progress?.total_bytes ?? null}
          label={progress?.message || __('scanning…')}
        />
      )}
      <Problem problem={runProblem} />
      {result && (
        <div className="jp-agnes-ok jp-agnes-snapshot-done">
          {__(
            'Snapshot %1: %2, %3 on disk — in the Snapshots section, and in the workspace DuckDB as a table.',
            result.name ?? name,
            humanCount(result.rows ?? null),
            humanBytes(result.file_bytes ?? null)
          )}
        </div>
      )}
    </section>
  );
}

export function TableDetail(props: ITableViewOptions): JSX.Element {
  const { tableId, model } = props;
  const [entry, setEntry] = React.useState<CatalogEntry | undefined>(model.entry(tableId));
  const [schema, setSchema] = React.useState<TableSchema | null>(null);
  const [sample, setSample] = React.useState<Sample | null>(null);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [sampleProblem, setSampleProblem] = React.useState<IProblem | null>(null);
  const [note, setNote] = React.useState<string | null>(null);
  const [actionProblem, setActionProblem] = React.useState<IProblem | null>(null);

  // The catalog changed (poll, refresh): a revoked table says so in place.
  React.useEffect(() => {
    const update = (): void => {
      if (model.status === 'ready') {
        setEntry(model.entry(tableId));
      }
    };
    model.changed.connect(update);
    return () => {
      model.changed.disconnect(update);
    };
  }, [model, tableId]);

  React.useEffect(() => {
    let live = true;
    client.schema(tableId).then(
      s => live && setSchema(s),
      reason => live && setProblem(describe(reason))
    );
    client.sample(tableId, props.sampleRows).then(
      s => live && setSample(s),
      reason => live && setSampleProblem(describe(reason))
    );
    return () => {
      live = false;
    };
  }, [tableId, props.sampleRows]);

  if (!entry) {
    return (
      <div className="jp-agnes-tableview" data-table-id={tableId}>
        <h2>{tableId}</h2>
        <Problem
          problem={
            problem ?? {
              message: __('No table %1 you may read.', tableId),
              hint: __(
                'It may have been removed or your access revoked; the catalog lists the tables you may use.'
              )
            }
          }
        />
      </div>
    );
  }
  const act = async (what: () => Promise<unknown>, done: string): Promise<void> => {
    setActionProblem(null);
    setNote(null);
    try {
      await what();
      setNote(done);
    } catch (reason) {
      setActionProblem(describe(reason));
    }
  };
  const partitions = (schema?.columns ?? []).filter(c => c.partition);
  return (
    <div className="jp-agnes-tableview" data-table-id={entry.id}>
      <header className="jp-agnes-tv-head">
        <h2 className="jp-agnes-tv-title">{entry.name}</h2>
        <ModeBadge mode={entry.query_mode} />
        <Badge
          text={freshnessLabel(entry.freshness)}
          tone={
            entry.freshness === 'fresh' ? 'success' : entry.freshness === 'error' ? 'error' : 'warn'
          }
        />
      </header>
      <p className="jp-agnes-tv-desc">{entry.description}</p>
      <dl className="jp-agnes-facts jp-agnes-tv-facts">
        <dt>{__('id')}</dt>
        <dd>
          <code>{entry.id}</code>
        </dd>
        <dt>{__('source')}</dt>
        <dd>
          {entry.source} {entry.source_type ? `(${entry.source_type})` : ''}{' '}
          {entry.folder ? `· ${entry.folder}` : ''}
          {entry.entity_type ? ` · ${entry.entity_type}` : ''}
        </dd>
        <dt>{__('freshness')}</dt>
        <dd className="jp-agnes-tv-freshness">{freshnessText(entry)}</dd>
        <dt>{__('size')}</dt>
        <dd>{sizesText(entry)}</dd>
        <dt>{__('packages')}</dt>
        <dd>{(entry.packages ?? []).join(', ') || __('none')}</dd>
        {partitions.map(c => (
          <React.Fragment key={c.name}>
            <dt>{__('range of %1', c.name)}</dt>
            <dd className="jp-agnes-tv-range" data-column={c.name}>
              {value(c.min)} … {value(c.max)}
            </dd>
          </React.Fragment>
        ))}
      </dl>
      <div className="jp-agnes-actions jp-agnes-tv-actions">
        <button
          className="jp-mod-styled jp-agnes-insert-ibis"
          onClick={() =>
            void act(() => props.insert(ibisCell(entry)), __('Inserted an ibis cell.'))
          }
        >
          {__('Insert ibis code')}
        </button>
        <button
          className="jp-mod-styled jp-agnes-insert-sql"
          onClick={() =>
            void act(() => props.insert(sqlCell(entry)), __('Inserted a %1 cell.', '%%agnes'))
          }
        >
          {__('Insert %1 cell', '%%agnes')}
        </button>
        <button
          className="jp-mod-styled jp-agnes-copy-id"
          onClick={() =>
            void act(async () => Clipboard.copyToSystem(entry.id), __('Copied %1.', entry.id))
          }
        >
          {__('Copy id')}
        </button>
        <button
          className="jp-mod-styled jp-agnes-add-stack"
          onClick={() =>
            void act(
              () => client.addToStack('tables', entry.id),
              __('Added to My Stack; Sync now downloads it.')
            )
          }
        >
          {__('Add to My Stack')}
        </button>
      </div>
      {note && <div className="jp-agnes-ok">{note}</div>}
      <Problem problem={actionProblem} />
      <Problem problem={problem} />
      <h3>{__('Schema')}</h3>
      {schema ? (
        <SchemaTable schema={schema} />
      ) : (
        !problem && <div className="jp-agnes-status">{__('Loading…')}</div>
      )}
      <h3>{__('Preview')}</h3>
      {sample && (
        <div className="jp-agnes-sample-origin">
          {__('%1 rows from %2 (free: no gated scan)', sample.rows.length, sample.origin)}
        </div>
      )}
      {sample ? <SampleTable sample={sample} /> : <Problem problem={sampleProblem} kind="warn" />}
      {(entry.where_examples ?? []).length > 0 && (
        <>
          <h3>{__('WHERE examples')}</h3>
          <ul className="jp-agnes-where-list">
            {(entry.where_examples ?? []).map(w => (
              <li key={w}>
                <code>{w}</code>
              </li>
            ))}
          </ul>
        </>
      )}
      {entry.query_mode === 'remote' && (
        <EstimateForm entry={entry} schema={schema} options={props} />
      )}
      <div className="jp-agnes-tv-foot">
        {__('Catalog read %1', humanAge(model.refreshedAt?.toISOString() ?? null))}
      </div>
    </div>
  );
}
