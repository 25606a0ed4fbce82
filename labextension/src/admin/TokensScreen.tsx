/** Admin console: every personal access token; issue one for a user (shown once), revoke. */
import * as React from 'react';

import { requestAPI } from '../api';
import type { Token, TokenCreated } from '../apitypes';
import { Badge } from '../components/bits';
import { Problem } from '../components/Problem';
import { __ } from '../i18n';
import { describe, type IProblem } from '../model';
import type { components } from '../schema';
import {
  confirmAction,
  Field,
  problemFor,
  problemOutside,
  ScreenHeader,
  TimeText,
  useLimits,
  useLoad
} from './common';
import { usageText } from './limits';
import type { IScreenProps } from './screen';

type User = components['schemas']['User'];

const STATE_TONE: Record<string, string> = { active: 'success', revoked: 'error', expired: 'warn' };

/** The new token's secret, once: a copy button, a select-all fallback and the warning. */
function SecretOnce(props: { created: TokenCreated; onDone: () => void }): JSX.Element {
  const input = React.useRef<HTMLInputElement>(null);
  const [copied, setCopied] = React.useState<'no' | 'yes' | 'select'>('no');
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(props.created.token);
      setCopied('yes');
    } catch {
      // No clipboard permission (http, a policy): select the text so Ctrl+C copies it.
      input.current?.focus();
      input.current?.select();
      setCopied('select');
    }
  };
  return (
    <div className="jp-agnes-admin-secret" role="status">
      <p className="jp-agnes-admin-secret-warning">
        {__(
          'Token "%1" for %2 — copy it now: it is shown only this once and cannot be shown again.',
          props.created.name,
          props.created.username
        )}
      </p>
      <div className="jp-agnes-admin-secret-row">
        <input
          ref={input}
          className="jp-mod-styled jp-agnes-admin-secret-value"
          readOnly
          value={props.created.token}
          aria-label={__('The new token')}
          onFocus={e => e.currentTarget.select()}
        />
        <button className="jp-Button jp-mod-styled jp-mod-accept" onClick={() => void copy()}>
          {__('Copy')}
        </button>
        <button className="jp-Button jp-mod-styled jp-mod-reject" onClick={props.onDone}>
          {__('Done')}
        </button>
      </div>
      {copied === 'yes' && (
        <p className="jp-agnes-admin-secret-copied">{__('Copied to the clipboard.')}</p>
      )}
      {copied === 'select' && (
        <p className="jp-agnes-admin-secret-copied">
          {__('The clipboard is not available here: the token is selected, press Ctrl+C.')}
        </p>
      )}
    </div>
  );
}

export function TokensScreen(props: IScreenProps): JSX.Element {
  const limits = useLimits('TokenInput');
  const tokens = useLoad(
    () => requestAPI<{ tokens: Token[] }>('admin/tokens').then(r => r.tokens),
    [props.generation]
  );
  const users = useLoad(
    () => requestAPI<{ users: User[] }>('admin/users').then(r => r.users),
    [props.generation]
  );
  const [user, setUser] = React.useState('');
  const [name, setName] = React.useState('');
  const [days, setDays] = React.useState('90');
  const [error, setError] = React.useState<unknown>(null);
  const [busy, setBusy] = React.useState(false);
  const [created, setCreated] = React.useState<TokenCreated | null>(null);
  const [showAll, setShowAll] = React.useState(false);
  const [listProblem, setListProblem] = React.useState<IProblem | null>(null);

  const activeUsers = (users.value ?? []).filter(u => u.is_active);
  const target = user || activeUsers[0]?.username || '';

  const create = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = { name };
      if (days.trim() !== '') {
        body.expires_in_days = Number(days);
      } else {
        body.expires_in_days = null;
      }
      const result = await requestAPI<TokenCreated>(
        `admin/users/${encodeURIComponent(target)}/tokens`,
        { method: 'POST', body: JSON.stringify(body) }
      );
      setCreated(result);
      setName('');
      tokens.reload();
      props.onChanged('tokens');
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (token: Token): Promise<void> => {
    const ok = await confirmAction(
      __('Revoke token?'),
      __(
        'Revoke "%1" of %2? Programs using it stop working at their next request. This cannot be undone.',
        token.name,
        token.username
      ),
      __('Revoke')
    );
    if (!ok) {
      return;
    }
    try {
      await requestAPI<void>(`admin/tokens/${encodeURIComponent(token.id)}`, { method: 'DELETE' });
      setListProblem(null);
      tokens.reload();
      props.onChanged('tokens');
    } catch (reason) {
      setListProblem(describe(reason));
    }
  };

  const shown = (tokens.value ?? []).filter(t => showAll || t.state === 'active');
  const fields = ['name', 'expires_in_days'];
  return (
    <div className="jp-agnes-admin-screen jp-agnes-admin-tokens">
      <ScreenHeader
        title={__('Tokens')}
        description={__(
          'Personal access tokens let programs outside JupyterLab call Agnes as a user. Only a hash is stored.'
        )}
      />
      {created && <SecretOnce created={created} onDone={() => setCreated(null)} />}
      <form
        className="jp-agnes-admin-box jp-agnes-admin-inline-form"
        onSubmit={e => void create(e)}
      >
        <h3 className="jp-agnes-admin-subtitle">{__('Issue a token')}</h3>
        <div className="jp-agnes-admin-form-row">
          <Field label={__('User')} name="username" error={problemFor(error, 'username')}>
            <select
              className="jp-mod-styled jp-agnes-admin-token-user"
              value={target}
              onChange={e => setUser(e.target.value)}
            >
              {activeUsers.map(u => (
                <option key={u.username} value={u.username}>
                  {u.display_name && u.display_name !== u.username
                    ? `${u.username} — ${u.display_name}`
                    : u.username}
                </option>
              ))}
            </select>
          </Field>
          <Field
            label={__('Name')}
            name="name"
            limit={limits.name}
            usage={usageText(limits.name, name)}
            help={__('What it is for, e.g. "nightly job"')}
            error={problemFor(error, 'name')}
          >
            <input
              className="jp-mod-styled jp-agnes-admin-token-name"
              value={name}
              onChange={e => setName(e.target.value)}
            />
          </Field>
          <Field
            label={__('Expires in (days)')}
            name="expires_in_days"
            limit={limits.expires_in_days}
            help={__('empty: never')}
            error={problemFor(error, 'expires_in_days')}
          >
            <input
              className="jp-mod-styled jp-agnes-admin-token-days"
              type="number"
              value={days}
              onChange={e => setDays(e.target.value)}
            />
          </Field>
          <button
            type="submit"
            className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-token-create"
            disabled={busy || !target}
          >
            {__('Create token')}
          </button>
        </div>
        <Problem problem={problemOutside(error, fields.concat(['username']))} />
      </form>
      <div className="jp-agnes-admin-toolbar">
        <label className="jp-agnes-admin-check">
          <input type="checkbox" checked={showAll} onChange={e => setShowAll(e.target.checked)} />
          {__('Show revoked and expired')}
        </label>
        <span className="jp-agnes-admin-count">
          {__('%1 of %2 tokens', shown.length, tokens.value?.length ?? 0)}
        </span>
      </div>
      <Problem problem={tokens.problem ?? listProblem} />
      <table className="jp-agnes-admin-table jp-agnes-admin-token-list">
        <thead>
          <tr>
            <th>{__('User')}</th>
            <th>{__('Name')}</th>
            <th>{__('State')}</th>
            <th>{__('Created')}</th>
            <th>{__('Expires')}</th>
            <th>{__('Last used')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {shown.map(t => (
            <tr key={t.id} data-token-id={t.id} data-token-name={t.name}>
              <td>{t.username}</td>
              <td>{t.name}</td>
              <td>
                <Badge text={t.state} tone={STATE_TONE[t.state]} />
              </td>
              <td>
                <TimeText iso={t.created_at} />
              </td>
              <td>{t.expires_at ? <TimeText iso={t.expires_at} /> : __('never')}</td>
              <td>
                <TimeText iso={t.last_used_at} />
              </td>
              <td className="jp-agnes-admin-cell-actions">
                {t.state === 'active' && (
                  <button
                    className="jp-Button jp-mod-styled jp-mod-warn jp-agnes-admin-revoke"
                    onClick={() => void revoke(t)}
                  >
                    {__('Revoke')}
                  </button>
                )}
              </td>
            </tr>
          ))}
          {!tokens.loading && shown.length === 0 && (
            <tr>
              <td colSpan={7} className="jp-agnes-admin-empty">
                {__('No tokens.')}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
