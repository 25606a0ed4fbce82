/** Admin console: the gate limits in force, where each comes from, and run-time overrides. */
import * as React from 'react';

import { requestAPI } from '../api';
import { Badge } from '../components/bits';
import { Problem } from '../components/Problem';
import { humanBytes } from '../format';
import { __ } from '../i18n';
import { problemFor, problemOutside, ScreenHeader, TimeText, useLimits, useLoad } from './common';
import { limitText } from './limits';
import { type GateSettings, originOf } from './forms';
import type { IScreenProps } from './screen';

const LIMITS: ReadonlyArray<{ key: string; label: string; unit: 'bytes' | 'count' | 'seconds' }> = [
  { key: 'scan_confirm_bytes', label: 'Ask to confirm scans above', unit: 'bytes' },
  { key: 'scan_max_bytes', label: 'Refuse scans above', unit: 'bytes' },
  { key: 'daily_scan_bytes_per_user', label: 'Daily scan budget per user', unit: 'bytes' },
  { key: 'max_concurrent_scans_per_user', label: 'Concurrent scans per user', unit: 'count' },
  { key: 'max_result_rows', label: 'Rows per result', unit: 'count' },
  { key: 'max_result_bytes', label: 'Bytes per result', unit: 'bytes' },
  { key: 'scan_timeout_seconds', label: 'Scan timeout', unit: 'seconds' }
];

function valueText(value: number | undefined, unit: string): string {
  if (value === undefined || value === null) {
    return '—';
  }
  if (unit === 'bytes') {
    return `${humanBytes(value)} (${value.toLocaleString('en-US')})`;
  }
  if (unit === 'seconds') {
    return __('%1 s', value.toLocaleString('en-US'));
  }
  return value.toLocaleString('en-US');
}

const ORIGIN_TEXT: Record<string, { text: string; tone: string; title: string }> = {
  override: {
    text: 'stored override',
    tone: 'brand',
    title:
      'Set here (PATCH admin/settings); kept across restarts. Reset goes back to the configured value.'
  },
  configured: {
    text: 'configured',
    tone: 'neutral',
    title: 'From the server configuration (AgnesApp traits in jupyter_server_config).'
  },
  default: { text: 'default', tone: 'neutral', title: 'The built-in default.' }
};

export function SettingsScreen(props: IScreenProps): JSX.Element {
  const limits = useLimits('LimitOverrides');
  const settings = useLoad(() => requestAPI<GateSettings>('admin/settings'), [props.generation]);
  const [draft, setDraft] = React.useState<Record<string, string>>({});
  const [error, setError] = React.useState<unknown>(null);
  const [busy, setBusy] = React.useState(false);
  const [saved, setSaved] = React.useState(false);

  const save = async (changes: Record<string, number | null>): Promise<void> => {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      const result = await requestAPI<GateSettings>('admin/settings', {
        method: 'PATCH',
        body: JSON.stringify({ limits: changes })
      });
      settings.set(result);
      setDraft({});
      setSaved(true);
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: React.FormEvent): void => {
    event.preventDefault();
    const changes: Record<string, number | null> = {};
    for (const [key, text] of Object.entries(draft)) {
      // Sent as typed (a number when it reads as one): the server says what is wrong, by field.
      const trimmed = text.trim();
      changes[key] =
        trimmed === ''
          ? null
          : Number.isNaN(Number(trimmed))
            ? (trimmed as unknown as number)
            : Number(trimmed);
    }
    void save(changes);
  };

  const s = settings.value;
  const fields = LIMITS.map(l => `limits.${l.key}`);
  return (
    <div className="jp-agnes-admin-screen jp-agnes-admin-settings">
      <ScreenHeader
        title={__('Settings')}
        description={__(
          'The cost gate: limits every scan and snapshot is checked against. An override here applies at once to every user and is kept across restarts.'
        )}
      />
      <Problem problem={settings.problem} />
      {s && (
        <form onSubmit={submit} className="jp-agnes-admin-settings-form">
          <table className="jp-agnes-admin-table jp-agnes-admin-settings-table">
            <thead>
              <tr>
                <th>{__('Limit')}</th>
                <th>{__('In force')}</th>
                <th>{__('From')}</th>
                <th>{__('Configured')}</th>
                <th>{__('Override')}</th>
              </tr>
            </thead>
            <tbody>
              {LIMITS.map(({ key, label, unit }) => {
                const origin = originOf(s, key);
                const o = ORIGIN_TEXT[origin];
                const fieldError = problemFor(error, `limits.${key}`);
                return (
                  <tr
                    key={key}
                    data-limit={key}
                    className={fieldError ? 'jp-agnes-admin-row-invalid' : undefined}
                  >
                    <td>
                      <div className="jp-agnes-admin-setting-label">{__(label)}</div>
                      <code className="jp-agnes-admin-setting-key">{key}</code>
                    </td>
                    <td className="jp-agnes-admin-setting-value">
                      {valueText((s.limits as Record<string, number>)[key], unit)}
                    </td>
                    <td>
                      <Badge text={__(o.text)} tone={o.tone} title={__(o.title)} />
                    </td>
                    <td>{valueText((s.configured as Record<string, number>)[key], unit)}</td>
                    <td>
                      <div className="jp-agnes-admin-setting-edit">
                        <input
                          className="jp-mod-styled jp-agnes-admin-setting-input"
                          inputMode="numeric"
                          aria-label={__(label)}
                          placeholder={String((s.overrides as Record<string, number>)[key] ?? '')}
                          value={draft[key] ?? ''}
                          onChange={e => setDraft({ ...draft, [key]: e.target.value })}
                        />
                        {origin === 'override' && (
                          <button
                            type="button"
                            className="jp-Button jp-mod-styled jp-mod-reject jp-agnes-admin-setting-reset"
                            title={__('Go back to the configured value')}
                            disabled={busy}
                            onClick={() => void save({ [key]: null })}
                          >
                            {__('Reset')}
                          </button>
                        )}
                      </div>
                      <div className="jp-agnes-admin-field-limit">
                        {limitText(limits[key]) || __('a whole number')}
                        {unit === 'bytes' ? ` · ${__('in bytes')}` : ''}
                      </div>
                      <Problem problem={fieldError} className="jp-agnes-admin-field-error" />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <Problem problem={problemOutside(error, fields)} />
          <div className="jp-agnes-admin-form-actions">
            <button
              type="submit"
              className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-settings-save"
              disabled={busy || Object.keys(draft).length === 0}
            >
              {__('Save overrides')}
            </button>
            {saved && <span className="jp-agnes-admin-saved">{__('Saved.')}</span>}
            {s.updated_at && (
              <span className="jp-agnes-admin-muted">
                {__('Last changed by %1', s.updated_by ?? '?')} <TimeText iso={s.updated_at} />
              </span>
            )}
          </div>
        </form>
      )}
    </div>
  );
}
