/**
 * Sources: the configured sources; add one (type, options, secrets by environment-variable
 * name), test it, discover what it holds, pick tables (filter, select all, shift-click ranges),
 * give each a mode, schedule and keys, and register the selection in one batch request.
 */
import * as React from 'react';

import { requestAPI } from '../api';
import { ModeBadge } from '../components/bits';
import { Problem } from '../components/Problem';
import { __, _n } from '../i18n';
import { describe, IProblem } from '../model';
import {
  confirmAction,
  errorDetails,
  Field,
  Notice,
  problemFor,
  problemOutside,
  ScreenHeader,
  useLimits,
  useLoad
} from './common';
import { openApiDocument } from './openapi';
import {
  batchErrorRow,
  ConnectorInfo,
  discoveredKey,
  DiscoveredTable,
  Discovery,
  hasOptionFields,
  isTableId,
  optionsFromForm,
  proposeTableId,
  secretPattern,
  selectRange,
  Source,
  splitList,
  Table,
  TableBatch,
  TableBatchInput,
  TableInput
} from './registry';
import type { IScreenProps } from './screen';

const q = (part: string): string => encodeURIComponent(part);

function post<T>(path: string, body?: unknown): Promise<T> {
  return requestAPI<T>(path, {
    method: 'POST',
    body: JSON.stringify(body ?? {}),
    headers: { 'Content-Type': 'application/json' }
  });
}

/**
 * The connectors the server has installed, each with its form (GET admin/connectors: the connector
 * declares its options and secrets), and the environment-variable pattern secrets must match.
 */
function useConnectors(): {
  connectors: ConnectorInfo[];
  problem: IProblem | null;
  envPattern: string | null;
} {
  const [connectors, setConnectors] = React.useState<ConnectorInfo[]>([]);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [envPattern, setEnvPattern] = React.useState<string | null>(null);
  React.useEffect(() => {
    let live = true;
    requestAPI<{ connectors: ConnectorInfo[] }>('admin/connectors').then(
      answer => live && setConnectors(answer.connectors),
      reason => live && setProblem(describe(reason))
    );
    openApiDocument().then(
      doc => live && setEnvPattern(secretPattern(doc)),
      () => undefined
    );
    return () => {
      live = false;
    };
  }, []);
  return { connectors, problem, envPattern };
}

/** The add-a-source form. */
function AddSource(props: {
  onAdded: (source: Source) => void;
  onCancel: () => void;
}): JSX.Element {
  const limits = useLimits('SourceInput');
  const { connectors, problem: connectorsProblem, envPattern } = useConnectors();
  const [name, setName] = React.useState('');
  const [type, setType] = React.useState('lake');
  const [values, setValues] = React.useState<Record<string, string>>({});
  const [secrets, setSecrets] = React.useState<Record<string, string>>({});
  const [rawOptions, setRawOptions] = React.useState('{}');
  const [error, setError] = React.useState<unknown>(null);
  const [busy, setBusy] = React.useState(false);
  const connector = connectors.find(c => c.type === type);
  const form = hasOptionFields(connector) ? connector : undefined;

  const localError = (field: string, message: string, hint: string | null = null): unknown => ({
    __local: true,
    field,
    problem: { message, hint } as IProblem
  });
  const fieldProblem = (field: string): IProblem | null => {
    const e = error as { __local?: boolean; field?: string; problem?: IProblem } | null;
    if (e && e.__local) {
      return e.field === field ? (e.problem ?? null) : null;
    }
    return problemFor(error, field);
  };
  // A problem shown next to a field goes once that field is edited (it is about the old value).
  const edited = (field: string): void => {
    if (fieldProblem(field)) {
      setError(null);
    }
  };

  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    let options: Record<string, unknown> = {};
    if (form) {
      const parsed = optionsFromForm(form, values);
      if (parsed.error) {
        setError(localError(parsed.error.field, parsed.error.message));
        return;
      }
      options = parsed.options;
    } else {
      try {
        options = JSON.parse(rawOptions || '{}') as Record<string, unknown>;
      } catch {
        setError(
          localError('options', __('The options are not valid JSON.'), __('e.g. {"path": "/data"}'))
        );
        return;
      }
    }
    const secretValues: Record<string, string> = {};
    for (const [key, value] of Object.entries(secrets)) {
      const v = value.trim();
      if (!v) {
        continue;
      }
      if (envPattern && !new RegExp(envPattern).test(v)) {
        setError(
          localError(
            `secrets.${key}`,
            __('%1 is not the name of an environment variable.', key),
            __(
              'Type the NAME of a variable set in the server environment (e.g. PG_DSN), never the secret itself.'
            )
          )
        );
        return;
      }
      secretValues[key] = v;
    }
    setBusy(true);
    setError(null);
    try {
      const source = await post<Source>('admin/sources', {
        name: name.trim(),
        type,
        options,
        secrets: secretValues
      });
      props.onAdded(source);
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };

  const fields = [
    'name',
    'type',
    'options',
    ...(form?.options.map(o => `options.${o.name}`) ?? []),
    ...(connector?.secrets.map(s => `secrets.${s.name}`) ?? []),
    'secrets'
  ];
  const outside =
    error && !(error as { __local?: boolean }).__local ? problemOutside(error, fields) : null;
  return (
    <form
      className="jp-agnes-admin-panelform jp-agnes-admin-add-source"
      onSubmit={e => void submit(e)}
    >
      <h3 className="jp-agnes-admin-form-title">{__('Add a source')}</h3>
      <div className="jp-agnes-admin-form-grid">
        <Field
          label={__('Name')}
          name="name"
          limit={limits.name}
          help={__('Letters, digits and _; it names the source in table registrations.')}
          error={fieldProblem('name')}
        >
          <input
            className="jp-mod-styled"
            name="name"
            value={name}
            onChange={e => {
              edited('name');
              setName(e.target.value);
            }}
            placeholder="warehouse"
            autoComplete="off"
          />
        </Field>
        <Field
          label={__('Type')}
          name="type"
          limit={limits.type}
          help={__('The connectors this server knows.')}
          error={fieldProblem('type')}
        >
          <select
            className="jp-mod-styled"
            name="type"
            value={type}
            onChange={e => {
              setType(e.target.value);
              setValues({});
              setSecrets({});
            }}
          >
            {connectors.map(c => (
              <option key={c.type} value={c.type}>
                {c.title && c.title !== c.type ? `${c.type} — ${c.title}` : c.type}
              </option>
            ))}
          </select>
        </Field>
        {form ? (
          form.options.map(option => (
            <Field
              key={option.name}
              label={`options.${option.name}${option.required ? ' *' : ''}`}
              name={`options.${option.name}`}
              help={option.help}
              error={fieldProblem(`options.${option.name}`)}
            >
              {option.kind === 'choice' ? (
                <select
                  className="jp-mod-styled"
                  name={`options.${option.name}`}
                  value={values[option.name] ?? ''}
                  onChange={e => {
                    edited(`options.${option.name}`);
                    setValues({ ...values, [option.name]: e.target.value });
                  }}
                >
                  {(option.required ? option.choices : ['', ...option.choices]).map(c => (
                    <option key={c} value={c}>
                      {c || __('(default)')}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  className="jp-mod-styled"
                  name={`options.${option.name}`}
                  inputMode={option.kind === 'integer' ? 'numeric' : undefined}
                  value={values[option.name] ?? ''}
                  placeholder={option.placeholder}
                  onChange={e => {
                    edited(`options.${option.name}`);
                    setValues({ ...values, [option.name]: e.target.value });
                  }}
                  autoComplete="off"
                />
              )}
            </Field>
          ))
        ) : (
          <Field
            label={__('Options (JSON)')}
            name="options"
            help={__('The %1 connector checks its options; a refusal names the option.', type)}
            error={fieldProblem('options')}
          >
            <textarea
              className="jp-mod-styled"
              name="options"
              rows={3}
              value={rawOptions}
              onChange={e => setRawOptions(e.target.value)}
            />
          </Field>
        )}
        {(connector?.secrets ?? []).map(secret => (
          <Field
            key={secret.name}
            label={`secrets.${secret.name}${secret.required ? ' *' : ''}`}
            name={`secrets.${secret.name}`}
            help={__(
              'The NAME of an environment variable on the server, never the secret itself. %1',
              secret.help
            )}
            error={fieldProblem(`secrets.${secret.name}`)}
          >
            <input
              className="jp-mod-styled jp-agnes-admin-envvar"
              name={`secrets.${secret.name}`}
              value={secrets[secret.name] ?? ''}
              placeholder={secret.placeholder}
              onChange={e => {
                edited(`secrets.${secret.name}`);
                setSecrets({ ...secrets, [secret.name]: e.target.value });
              }}
              autoComplete="off"
              spellCheck={false}
            />
          </Field>
        ))}
      </div>
      {connector?.error && (
        <p className="jp-agnes-admin-note">
          {__('The %1 connector could not be loaded: %2', type, connector.error)}
        </p>
      )}
      <Problem problem={connectorsProblem ?? outside} />
      <div className="jp-agnes-admin-actions">
        <button
          type="submit"
          className="jp-mod-styled jp-mod-accept"
          disabled={busy || !name.trim()}
        >
          {busy ? __('Adding…') : __('Add source')}
        </button>
        <button type="button" className="jp-mod-styled" onClick={props.onCancel}>
          {__('Cancel')}
        </button>
      </div>
    </form>
  );
}

/** Per discovered table: what the admin chose for its registration. */
interface IPick {
  id: string;
  query_mode: 'local' | 'remote';
  schedule: string;
  primary_key: string;
  incremental_key: string;
}

const SHOWN_MAX = 500;

/** The discovered tables of one source: pick, configure, register in one batch. */
export function DiscoveryPanel(props: {
  source: string;
  discovery: Discovery;
  /** Whether the source's connector runs queries in the source (REMOTE); without it every table
   * is extracted (local), and remote is not offered. */
  remote?: boolean;
  onRegistered: (tables: Table[]) => void;
  onClose: () => void;
}): JSX.Element {
  const remote = props.remote ?? true;
  const limits = useLimits('TableInput');
  const tables = props.discovery.tables;
  const initialPicks = React.useMemo(() => {
    const taken = new Set<string>();
    for (const t of tables) {
      for (const id of t.registered_as) {
        taken.add(id);
      }
    }
    const picks = new Map<string, IPick>();
    for (const t of tables) {
      const id = proposeTableId(t.bucket, t.source_table, taken);
      taken.add(id);
      picks.set(discoveredKey(t), {
        id,
        query_mode: remote ? 'remote' : 'local',
        schedule: '',
        primary_key: '',
        incremental_key: ''
      });
    }
    return picks;
  }, [tables, remote]);
  const [picks, setPicks] = React.useState(initialPicks);
  const [selected, setSelected] = React.useState<Set<string>>(new Set());
  const [anchor, setAnchor] = React.useState<string | null>(null);
  const [filter, setFilter] = React.useState('');
  const [bulk, setBulk] = React.useState<{ query_mode: '' | 'local' | 'remote'; schedule: string }>(
    {
      query_mode: '',
      schedule: ''
    }
  );
  const [busy, setBusy] = React.useState(false);
  const [error, setError] = React.useState<unknown>(null);

  React.useEffect(() => setPicks(initialPicks), [initialPicks]);

  const needle = filter.trim().toLowerCase();
  const shownTables = tables.filter(
    t =>
      !needle ||
      t.source_table.toLowerCase().includes(needle) ||
      (t.bucket ?? '').toLowerCase().includes(needle) ||
      t.entity_type.includes(needle)
  );
  const shown = shownTables.map(discoveredKey);
  const allShownSelected = shown.length > 0 && shown.every(k => selected.has(k));
  const order = tables.map(discoveredKey).filter(k => selected.has(k));
  const errorRow = batchErrorRow(errorDetails(error));
  const errorKey = errorRow !== null ? (order[errorRow.index] ?? null) : null;

  const toggle = (key: string, on: boolean, shift: boolean): void => {
    setSelected(selectRange(selected, shown, shift ? anchor : null, key, on));
    setAnchor(key);
  };
  const update = (key: string, patch: Partial<IPick>): void => {
    const next = new Map(picks);
    next.set(key, { ...(next.get(key) as IPick), ...patch });
    setPicks(next);
  };
  const applyBulk = (): void => {
    const next = new Map(picks);
    for (const key of selected) {
      const pick = next.get(key) as IPick;
      next.set(key, {
        ...pick,
        ...(bulk.query_mode ? { query_mode: bulk.query_mode } : {}),
        ...(bulk.schedule.trim() ? { schedule: bulk.schedule.trim() } : {})
      });
    }
    setPicks(next);
  };

  const register = async (): Promise<void> => {
    const byKey = new Map(tables.map(t => [discoveredKey(t), t] as [string, DiscoveredTable]));
    const rows: TableInput[] = order.map(key => {
      const t = byKey.get(key) as DiscoveredTable;
      const pick = picks.get(key) as IPick;
      const row: TableInput = {
        id: pick.id.trim(),
        source: props.source,
        bucket: t.bucket,
        source_table: t.source_table,
        query_mode: pick.query_mode
      };
      if (t.description) {
        row.description = t.description;
      }
      if (pick.schedule.trim()) {
        row.schedule = pick.schedule.trim();
      }
      const keys = splitList(pick.primary_key);
      if (keys.length) {
        row.primary_key = keys;
      }
      if (pick.incremental_key.trim()) {
        row.incremental_key = pick.incremental_key.trim();
      }
      return row;
    });
    const bad = rows.findIndex(r => !isTableId(r.id));
    if (bad >= 0) {
      setError({
        __local: true,
        details: { index: bad, field: 'id' },
        problem: {
          message: __('%1 is not a table id.', rows[bad].id || __('(empty)')),
          hint: __('A letter or _ followed by up to 63 letters, digits or _.')
        }
      });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body: TableBatchInput = { tables: rows };
      const answer = await post<TableBatch>('admin/tables:batch', body);
      setSelected(new Set());
      props.onRegistered(answer.tables);
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };

  const local = error as { __local?: boolean; details?: unknown; problem?: IProblem } | null;
  const localRow = local?.__local ? batchErrorRow(local.details) : null;
  const rowKey = local?.__local ? (localRow ? order[localRow.index] : null) : errorKey;
  const rowProblem: IProblem | null = error
    ? local?.__local
      ? (local.problem ?? null)
      : describe(error)
    : null;
  const rowField = local?.__local ? 'id' : (errorRow?.field ?? null);

  return (
    <section className="jp-agnes-admin-discovery" data-source={props.source}>
      <div className="jp-agnes-admin-discovery-head">
        <h3 className="jp-agnes-admin-form-title">
          {_n(
            'Discovered in %2: %1 table',
            'Discovered in %2: %1 tables',
            tables.length,
            props.source
          )}
        </h3>
        <button className="jp-mod-styled" onClick={props.onClose}>
          {__('Close')}
        </button>
      </div>
      <div className="jp-agnes-admin-discovery-tools">
        <input
          className="jp-mod-styled jp-agnes-admin-discovery-filter"
          placeholder={__('Filter by name, bucket or kind')}
          value={filter}
          onChange={e => setFilter(e.target.value)}
          aria-label={__('Filter the discovered tables')}
        />
        <span className="jp-agnes-admin-discovery-count">{__('%1 selected', selected.size)}</span>
        <span className="jp-agnes-admin-bulk" aria-label={__('Apply to the selected tables')}>
          <select
            className="jp-mod-styled jp-agnes-admin-bulk-mode"
            value={bulk.query_mode}
            onChange={e => setBulk({ ...bulk, query_mode: e.target.value as IPick['query_mode'] })}
            title={__('Mode for the selected tables')}
          >
            <option value="">{__('mode…')}</option>
            {remote && <option value="remote">remote</option>}
            <option value="local">local</option>
          </select>
          <input
            className="jp-mod-styled jp-agnes-admin-bulk-schedule"
            placeholder={__('schedule, e.g. every 6h')}
            value={bulk.schedule}
            onChange={e => setBulk({ ...bulk, schedule: e.target.value })}
            title={limits.schedule?.description}
          />
          <button
            className="jp-mod-styled jp-agnes-admin-bulk-apply"
            disabled={selected.size === 0 || (!bulk.query_mode && !bulk.schedule.trim())}
            onClick={applyBulk}
          >
            {__('Apply to selected')}
          </button>
        </span>
      </div>
      <p className="jp-agnes-admin-note">
        {__(
          'Click to select, shift-click to select a range. remote tables stay in the source and are scanned through the gate; local tables are extracted on the server (schedule: "every 6h" or a 5-field cron, UTC). Keys: column names, comma-separated.'
        )}
      </p>
      <div className="jp-agnes-admin-tablewrap">
        <table className="jp-agnes-admin-list jp-agnes-admin-discovered">
          <thead>
            <tr>
              <th>
                <input
                  type="checkbox"
                  className="jp-agnes-admin-select-all"
                  aria-label={__('Select all shown')}
                  checked={allShownSelected}
                  onChange={e => {
                    const next = new Set(selected);
                    for (const k of shown) {
                      if (e.target.checked) {
                        next.add(k);
                      } else {
                        next.delete(k);
                      }
                    }
                    setSelected(next);
                  }}
                />
              </th>
              <th>{__('Source table')}</th>
              <th>{__('Kind')}</th>
              <th>{__('Columns')}</th>
              <th>{__('Table id')}</th>
              <th>{__('Mode')}</th>
              <th>{__('Schedule')}</th>
              <th>{__('Primary key')}</th>
              <th>{__('Incremental key')}</th>
            </tr>
          </thead>
          <tbody>
            {shownTables.slice(0, SHOWN_MAX).map(t => {
              const key = discoveredKey(t);
              const pick = picks.get(key) as IPick;
              const on = selected.has(key);
              const bad = rowKey === key;
              const columns = t.columns.map(c => String((c as { name?: unknown }).name ?? ''));
              const listId = `jp-agnes-admin-cols-${props.source}-${shown.indexOf(key)}`;
              return (
                <React.Fragment key={key}>
                  <tr
                    className={`jp-agnes-admin-discovered-row${on ? ' jp-mod-selected' : ''}${bad ? ' jp-agnes-admin-pickrow-invalid' : ''}`}
                    data-source-table={t.source_table}
                    data-bucket={t.bucket ?? ''}
                  >
                    <td>
                      <input
                        type="checkbox"
                        className="jp-agnes-admin-pick"
                        aria-label={__('Select %1', t.source_table)}
                        checked={on}
                        onChange={() => undefined}
                        onClick={e => toggle(key, !on, e.shiftKey)}
                      />
                    </td>
                    <td
                      className="jp-agnes-admin-discovered-name"
                      onClick={e => toggle(key, !on, e.shiftKey)}
                    >
                      {t.bucket && <span className="jp-agnes-admin-bucket">{t.bucket}/</span>}
                      {t.source_table}
                      {t.registered_as.length > 0 && (
                        <span
                          className="jp-agnes-admin-registered"
                          title={__('Already registered as %1', t.registered_as.join(', '))}
                        >
                          {__('registered as %1', t.registered_as.join(', '))}
                        </span>
                      )}
                    </td>
                    <td>{t.entity_type}</td>
                    <td className="jp-agnes-admin-num">{t.columns.length}</td>
                    <td>
                      <input
                        className={`jp-mod-styled jp-agnes-admin-pick-id${bad && rowField === 'id' ? ' jp-mod-invalid' : ''}`}
                        value={pick.id}
                        aria-label={__('Table id for %1', t.source_table)}
                        onChange={e => update(key, { id: e.target.value })}
                        spellCheck={false}
                      />
                    </td>
                    <td>
                      <select
                        className="jp-mod-styled jp-agnes-admin-pick-mode"
                        value={pick.query_mode}
                        aria-label={__('Mode for %1', t.source_table)}
                        onChange={e =>
                          update(key, { query_mode: e.target.value as IPick['query_mode'] })
                        }
                      >
                        {remote && <option value="remote">remote</option>}
                        <option value="local">local</option>
                      </select>
                    </td>
                    <td>
                      <input
                        className="jp-mod-styled jp-agnes-admin-pick-schedule"
                        value={pick.schedule}
                        placeholder={pick.query_mode === 'local' ? 'every 6h' : ''}
                        aria-label={__('Schedule for %1', t.source_table)}
                        onChange={e => update(key, { schedule: e.target.value })}
                      />
                    </td>
                    <td>
                      <input
                        className="jp-mod-styled jp-agnes-admin-pick-pk"
                        value={pick.primary_key}
                        list={listId}
                        aria-label={__('Primary key of %1', t.source_table)}
                        onChange={e => update(key, { primary_key: e.target.value })}
                      />
                    </td>
                    <td>
                      <input
                        className="jp-mod-styled jp-agnes-admin-pick-inc"
                        value={pick.incremental_key}
                        list={listId}
                        aria-label={__('Incremental key of %1', t.source_table)}
                        onChange={e => update(key, { incremental_key: e.target.value })}
                      />
                      <datalist id={listId}>
                        {columns.map(c => (
                          <option key={c} value={c} />
                        ))}
                      </datalist>
                    </td>
                  </tr>
                  {bad && (
                    <tr className="jp-agnes-admin-row-error" data-error-for={t.source_table}>
                      <td />
                      <td colSpan={8}>
                        <Problem problem={rowProblem} />
                      </td>
                    </tr>
                  )}
                </React.Fragment>
              );
            })}
          </tbody>
        </table>
        {shownTables.length > SHOWN_MAX && (
          <p className="jp-agnes-admin-note">
            {__('%1 more: filter to see them.', shownTables.length - SHOWN_MAX)}
          </p>
        )}
        {shownTables.length === 0 && (
          <p className="jp-agnes-empty">{__('No discovered table matches the filter.')}</p>
        )}
      </div>
      {error !== null && rowKey === null && <Problem problem={rowProblem} />}
      <div className="jp-agnes-admin-actions">
        <button
          className="jp-mod-styled jp-mod-accept jp-agnes-admin-register"
          disabled={busy || selected.size === 0}
          onClick={() => void register()}
        >
          {busy
            ? __('Registering…')
            : _n('Register %1 table', 'Register %1 tables', selected.size, selected.size)}
        </button>
      </div>
    </section>
  );
}

/** An option's value in one line: objects as "key=value, …". */
function optionText(value: unknown): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(', ');
  }
  return Array.isArray(value) ? value.join(', ') : String(value);
}

type Outcome = { kind: 'ok'; text: string } | { kind: 'problem'; problem: IProblem };

export function SourcesScreen(props: IScreenProps): JSX.Element {
  const { generation, onChanged } = props;
  const sources = useLoad(
    () => requestAPI<{ sources: Source[] }>('admin/sources').then(r => r.sources),
    [generation]
  );
  const [adding, setAdding] = React.useState(false);
  const [outcomes, setOutcomes] = React.useState<Record<string, Outcome>>({});
  const [busy, setBusy] = React.useState<Record<string, string>>({});
  const [discovery, setDiscovery] = React.useState<Discovery | null>(null);
  const [notice, setNotice] = React.useState<string | null>(null);
  const { connectors } = useConnectors();
  const remoteFor = (name: string): boolean => {
    const type = sources.value?.find(s => s.name === name)?.type;
    const connector = connectors.find(c => c.type === type);
    return connector ? connector.capabilities.includes('remote') : true;
  };

  const run = async (name: string, what: string, job: () => Promise<void>): Promise<void> => {
    setBusy(b => ({ ...b, [name]: what }));
    try {
      await job();
    } catch (reason) {
      setOutcomes(o => ({ ...o, [name]: { kind: 'problem', problem: describe(reason) } }));
    } finally {
      setBusy(b => {
        const next = { ...b };
        delete next[name];
        return next;
      });
    }
  };
  const test = (name: string): Promise<void> =>
    run(name, 'test', async () => {
      const result = await post<Record<string, unknown>>(`admin/sources/${q(name)}/test`);
      const extra = Object.entries(result)
        .filter(([k]) => k !== 'source' && k !== 'ok')
        .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(' · ');
      setOutcomes(o => ({
        ...o,
        [name]: { kind: 'ok', text: extra ? __('Reachable — %1', extra) : __('Reachable') }
      }));
    });
  const discover = (name: string): Promise<void> =>
    run(name, 'discover', async () => {
      setDiscovery(null);
      const found = await post<Discovery>(`admin/sources/${q(name)}/discover`);
      setOutcomes(o => {
        const next = { ...o };
        delete next[name];
        return next;
      });
      setDiscovery(found);
    });
  const remove = async (source: Source): Promise<void> => {
    const ok = await confirmAction(
      __('Remove source %1?', source.name),
      __(
        'The source %1 (%2) is removed from Agnes. A source that still has registered tables is refused: delete its tables first. The data in the source itself is not touched.',
        source.name,
        source.type
      ),
      __('Remove source')
    );
    if (!ok) {
      return;
    }
    await run(source.name, 'remove', async () => {
      await requestAPI(`admin/sources/${q(source.name)}`, { method: 'DELETE' });
      if (discovery?.source === source.name) {
        setDiscovery(null);
      }
      setNotice(__('Source %1 removed.', source.name));
      onChanged('sources');
    });
  };

  return (
    <div className="jp-agnes-admin-screen jp-agnes-admin-sources">
      <ScreenHeader
        title={__('Sources')}
        description={__(
          'Where the data lives. Secrets are never typed here: a source names the environment variables of the server that hold them.'
        )}
      >
        {!adding && (
          <button
            className="jp-mod-styled jp-mod-accept jp-agnes-admin-add"
            onClick={() => setAdding(true)}
          >
            {__('Add source…')}
          </button>
        )}
      </ScreenHeader>
      {notice && <Notice text={notice} tone="success" onClose={() => setNotice(null)} />}
      {adding && (
        <AddSource
          onCancel={() => setAdding(false)}
          onAdded={source => {
            setAdding(false);
            setNotice(__('Source %1 added. Test it, then discover its tables.', source.name));
            onChanged('sources');
          }}
        />
      )}
      <Problem problem={sources.problem} />
      {sources.loading && !sources.value && (
        <div className="jp-agnes-status">{__('Loading the sources…')}</div>
      )}
      {sources.value && sources.value.length === 0 && (
        <div className="jp-agnes-empty">{__('No source yet: add one.')}</div>
      )}
      {sources.value && sources.value.length > 0 && (
        <table className="jp-agnes-admin-list jp-agnes-admin-source-list">
          <thead>
            <tr>
              <th>{__('Name')}</th>
              <th>{__('Type')}</th>
              <th>{__('Options')}</th>
              <th>{__('Secrets (environment variables)')}</th>
              <th>{__('Actions')}</th>
            </tr>
          </thead>
          <tbody>
            {sources.value.map(source => {
              const outcome = outcomes[source.name];
              const doing = busy[source.name];
              return (
                <React.Fragment key={source.name}>
                  <tr className="jp-agnes-admin-source" data-source={source.name}>
                    <td className="jp-agnes-admin-strong">{source.name}</td>
                    <td>
                      <ModeBadge mode={source.type} />
                    </td>
                    <td className="jp-agnes-admin-mono jp-agnes-admin-options">
                      {Object.entries(source.options ?? {}).map(([k, v]) => (
                        <div key={k} title={`${k}: ${optionText(v)}`}>
                          <span className="jp-agnes-admin-optkey">{k}</span> {optionText(v)}
                        </div>
                      ))}
                    </td>
                    <td className="jp-agnes-admin-mono">
                      {Object.entries(source.secrets ?? {})
                        .map(([k, v]) => `${k} ← $${v}`)
                        .join('  ') || '—'}
                    </td>
                    <td className="jp-agnes-admin-rowactions">
                      <button
                        className="jp-mod-styled jp-agnes-admin-test"
                        disabled={!!doing}
                        onClick={() => void test(source.name)}
                      >
                        {doing === 'test' ? __('Testing…') : __('Test')}
                      </button>
                      <button
                        className="jp-mod-styled jp-agnes-admin-discover"
                        disabled={!!doing}
                        onClick={() => void discover(source.name)}
                      >
                        {doing === 'discover' ? __('Discovering…') : __('Discover')}
                      </button>
                      <button
                        className="jp-mod-styled jp-mod-warn jp-agnes-admin-remove"
                        disabled={!!doing}
                        onClick={() => void remove(source)}
                      >
                        {__('Remove…')}
                      </button>
                    </td>
                  </tr>
                  {outcome && (
                    <tr className="jp-agnes-admin-outcome" data-outcome-for={source.name}>
                      <td colSpan={5}>
                        {outcome.kind === 'ok' ? (
                          <div className="jp-agnes-ok jp-agnes-admin-test-ok">{outcome.text}</div>
                        ) : (
                          <Problem problem={outcome.problem} />
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
      {discovery && (
        <DiscoveryPanel
          source={discovery.source}
          discovery={discovery}
          remote={remoteFor(discovery.source)}
          onClose={() => setDiscovery(null)}
          onRegistered={tables => {
            setNotice(
              _n(
                'Registered %1 table: %2. They are in Tables.',
                'Registered %1 tables: %2. They are in Tables.',
                tables.length,
                tables.map(t => t.id).join(', ')
              )
            );
            onChanged('tables');
            void discover(discovery.source);
          }}
        />
      )}
    </div>
  );
}
