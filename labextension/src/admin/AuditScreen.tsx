/** Admin console: the audit log, filtered by who, what, resource and time, a page at a time. */
import * as React from 'react';

import { requestAPI } from '../api';
import { Badge } from '../components/bits';
import { Problem } from '../components/Problem';
import { __ } from '../i18n';
import type { components } from '../schema';
import { errorField, problemFor, ScreenHeader, TimeText, useLoad } from './common';
import { auditQuery, type IAuditFilters } from './forms';
import type { IScreenProps } from './screen';

type AuditEntry = components['schemas']['AuditEntry'];
type User = components['schemas']['User'];

interface IAuditPage {
  entries: AuditEntry[];
  offset?: number;
  next_offset?: number | null;
}

const EMPTY: IAuditFilters = { user: '', action: '', resource: '', since: '', until: '' };

/** Common actions to pick from; a trailing "." filters by prefix (every table.* action). */
const ACTION_SUGGESTIONS = [
  'table.',
  'source.',
  'grant.',
  'group.',
  'package.',
  'recipe.',
  'token.',
  'user.',
  'settings.',
  'metadata.'
];

function outcomeTone(outcome: string): string {
  if (outcome === 'ok' || outcome === 'success') {
    return 'success';
  }
  if (outcome === 'denied' || outcome === 'error' || outcome === 'failed') {
    return 'error';
  }
  return 'neutral';
}

export function AuditScreen(props: IScreenProps): JSX.Element {
  const [draft, setDraft] = React.useState<IAuditFilters>(EMPTY);
  const [filters, setFilters] = React.useState<IAuditFilters>(EMPTY);
  // The offsets of the pages before this one, so Previous goes back exactly.
  const [trail, setTrail] = React.useState<number[]>([]);
  const [offset, setOffset] = React.useState(0);
  const users = useLoad(
    () => requestAPI<{ users: User[] }>('admin/users').then(r => r.users),
    [props.generation]
  );
  const [error, setError] = React.useState<unknown>(null);
  const page = useLoad(async () => {
    try {
      const result = await requestAPI<IAuditPage>(`admin/audit?${auditQuery(filters, offset)}`);
      setError(null);
      return result;
    } catch (reason) {
      setError(reason);
      throw reason;
    }
  }, [filters, offset, props.generation]);

  const apply = (event?: React.FormEvent): void => {
    event?.preventDefault();
    setFilters(draft);
    setTrail([]);
    setOffset(0);
  };
  const clear = (): void => {
    setDraft(EMPTY);
    setFilters(EMPTY);
    setTrail([]);
    setOffset(0);
  };
  const next = page.value?.next_offset ?? null;
  const entries = page.value?.entries ?? [];
  const fieldError = (name: string) => problemFor(error, name);
  const named = errorField(error);

  const set = (key: keyof IAuditFilters) => (e: React.ChangeEvent<HTMLInputElement>) =>
    setDraft({ ...draft, [key]: e.target.value });

  return (
    <div className="jp-agnes-admin-screen jp-agnes-admin-audit">
      <ScreenHeader
        title={__('Audit')}
        description={__(
          'Every change and every refused request, newest first. An action ending in "." or "*" matches every action that starts with it.'
        )}
      >
        <button className="jp-Button jp-mod-styled jp-mod-reject" onClick={() => page.reload()}>
          {__('Refresh')}
        </button>
      </ScreenHeader>
      <form className="jp-agnes-admin-filters jp-agnes-admin-audit-filters" onSubmit={apply}>
        <label>
          <span>{__('Who')}</span>
          <input
            className="jp-mod-styled jp-agnes-admin-audit-user"
            list="jp-agnes-admin-audit-users"
            value={draft.user}
            placeholder={__('any user')}
            onChange={set('user')}
          />
          <datalist id="jp-agnes-admin-audit-users">
            {(users.value ?? []).map(u => (
              <option key={u.username} value={u.username} />
            ))}
          </datalist>
        </label>
        <label>
          <span>{__('What')}</span>
          <input
            className="jp-mod-styled jp-agnes-admin-audit-action"
            list="jp-agnes-admin-audit-actions"
            value={draft.action}
            placeholder={__('action or prefix, e.g. grant.')}
            onChange={set('action')}
          />
          <datalist id="jp-agnes-admin-audit-actions">
            {ACTION_SUGGESTIONS.map(a => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label>
          <span>{__('Resource')}</span>
          <input
            className="jp-mod-styled jp-agnes-admin-audit-resource"
            value={draft.resource}
            placeholder={__('prefix, e.g. table/orders')}
            onChange={set('resource')}
          />
        </label>
        <label>
          <span>{__('Since')}</span>
          <input
            className="jp-mod-styled jp-agnes-admin-audit-since"
            type="datetime-local"
            value={draft.since}
            onChange={set('since')}
          />
        </label>
        <label>
          <span>{__('Until')}</span>
          <input
            className="jp-mod-styled jp-agnes-admin-audit-until"
            type="datetime-local"
            value={draft.until}
            onChange={set('until')}
          />
        </label>
        <div className="jp-agnes-admin-filter-buttons">
          <button
            type="submit"
            className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-audit-apply"
          >
            {__('Filter')}
          </button>
          <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" onClick={clear}>
            {__('Clear')}
          </button>
        </div>
      </form>
      {['user', 'action', 'resource', 'since', 'until'].map(f => (
        <Problem key={f} problem={fieldError(f)} className="jp-agnes-admin-field-error" />
      ))}
      {error !== null && named === null && <Problem problem={page.problem} />}
      <table className="jp-agnes-admin-table jp-agnes-admin-audit-table" aria-busy={page.loading}>
        <thead>
          <tr>
            <th>{__('When')}</th>
            <th>{__('Who')}</th>
            <th>{__('Action')}</th>
            <th>{__('Resource')}</th>
            <th>{__('Outcome')}</th>
            <th>{__('Details')}</th>
          </tr>
        </thead>
        <tbody>
          {entries.map(e => (
            <tr key={e.id} data-audit-id={e.id} data-action={e.action} data-actor={e.actor ?? ''}>
              <td className="jp-agnes-admin-nowrap">
                <TimeText iso={e.occurred_at} />
              </td>
              <td>{e.actor ?? __('(system)')}</td>
              <td>
                <code>{e.action}</code>
              </td>
              <td className="jp-agnes-admin-audit-resource-cell">{e.resource}</td>
              <td>
                <Badge text={e.outcome} tone={outcomeTone(e.outcome)} />
              </td>
              <td>
                {Object.keys(e.details ?? {}).length > 0 ? (
                  <details className="jp-agnes-admin-audit-details">
                    <summary>{__('%1 fields', Object.keys(e.details).length)}</summary>
                    <pre>{JSON.stringify(e.details, null, 2)}</pre>
                  </details>
                ) : (
                  <span className="jp-agnes-admin-muted">—</span>
                )}
              </td>
            </tr>
          ))}
          {!page.loading && entries.length === 0 && !error && (
            <tr>
              <td colSpan={6} className="jp-agnes-admin-empty">
                {__('No entries match these filters.')}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <div className="jp-agnes-admin-pager">
        <button
          className="jp-Button jp-mod-styled jp-mod-reject jp-agnes-admin-audit-prev"
          disabled={trail.length === 0 || page.loading}
          onClick={() => {
            const previous = trail[trail.length - 1] ?? 0;
            setTrail(trail.slice(0, -1));
            setOffset(previous);
          }}
        >
          {__('‹ Newer')}
        </button>
        <span className="jp-agnes-admin-audit-range">
          {entries.length > 0
            ? __('Entries %1–%2', offset + 1, offset + entries.length)
            : __('No entries')}
        </span>
        <button
          className="jp-Button jp-mod-styled jp-mod-reject jp-agnes-admin-audit-next"
          disabled={next === null || next === undefined || page.loading}
          onClick={() => {
            if (next !== null && next !== undefined) {
              setTrail([...trail, offset]);
              setOffset(next);
            }
          }}
        >
          {__('Older ›')}
        </button>
      </div>
    </div>
  );
}
