/**
 * The Agnes admin console: a header, the tab list of the eight screens, and the screen shown.
 * The same component is the "Agnes Admin" main-area view and the console in a notebook cell.
 * Screens are for admins (GET me says who is); a non-admin gets the 403 view, and the server
 * refuses every admin route anyway.
 */
import { refreshIcon, ToolbarButtonComponent } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { Me } from '../apitypes';
import { client } from '../client';
import { Problem } from '../components/Problem';
import { __ } from '../i18n';
import { describe, IProblem } from '../model';
import { AccessScreen } from './AccessScreen';
import { AuditScreen } from './AuditScreen';
import { CurationScreen } from './CurationScreen';
import { MetadataScreen } from './MetadataScreen';
import type { IScreenProps } from './screen';
import { SettingsScreen } from './SettingsScreen';
import { SourcesScreen } from './SourcesScreen';
import { TablesScreen } from './TablesScreen';
import { TokensScreen } from './TokensScreen';

export type ScreenId =
  'sources' | 'tables' | 'access' | 'curation' | 'tokens' | 'settings' | 'audit' | 'metadata';

export const SCREENS: ReadonlyArray<{
  id: ScreenId;
  label: () => string;
  component: (props: IScreenProps) => JSX.Element;
}> = [
  { id: 'sources', label: () => __('Sources'), component: SourcesScreen },
  { id: 'tables', label: () => __('Tables'), component: TablesScreen },
  { id: 'access', label: () => __('Access'), component: AccessScreen },
  { id: 'curation', label: () => __('Packages & recipes'), component: CurationScreen },
  { id: 'tokens', label: () => __('Tokens'), component: TokensScreen },
  { id: 'settings', label: () => __('Settings'), component: SettingsScreen },
  { id: 'audit', label: () => __('Audit'), component: AuditScreen },
  { id: 'metadata', label: () => __('Metadata'), component: MetadataScreen }
];

/** A screen name from outside (a URL, a cell's data), or null when it names none. */
export function screenOf(value: unknown): ScreenId | null {
  return typeof value === 'string' && SCREENS.some(s => s.id === value)
    ? (value as ScreenId)
    : null;
}

type Who =
  | { state: 'loading' }
  | { state: 'admin'; me: Me }
  | { state: 'forbidden'; me: Me | null; problem: IProblem | null }
  | { state: 'error'; problem: IProblem };

/** The 403 view: what this is, who you are, whom to ask. */
export function ForbiddenView(props: { me: Me | null; problem: IProblem | null }): JSX.Element {
  const who = props.me ? props.me.display_name || props.me.username : null;
  return (
    <div className="jp-agnes-admin-forbidden" role="alert" data-error-code="forbidden">
      <div className="jp-agnes-admin-forbidden-code">403</div>
      <h2>{__('The Agnes admin console is for admins')}</h2>
      <p>
        {who
          ? __('You are signed in as %1, who is not an Agnes admin.', who)
          : __('This server did not recognise you as an Agnes admin.')}
      </p>
      <p className="jp-agnes-admin-forbidden-hint">
        {__(
          'To register sources and tables, grant access or read the audit log, ask an Agnes admin of this server to do it or to make you an admin. Your catalog, packages and snapshots are in the Agnes panel.'
        )}
      </p>
      {props.problem && props.problem.code !== 'forbidden' && <Problem problem={props.problem} />}
    </div>
  );
}

export function AdminConsole(props: {
  /** The screen shown first (default: Sources). */
  initial?: ScreenId | null;
  /** Bumped when the host asks for ``initial`` again (the command run once more). */
  request?: number;
  /** Inside a notebook cell: a compact frame with no page-level scrolling of its own. */
  inCell?: boolean;
  /** Tell the host which screen is shown (the view's title, the URL). */
  onScreen?: (screen: ScreenId) => void;
}): JSX.Element {
  const [who, setWho] = React.useState<Who>({ state: 'loading' });
  const [screen, setScreen] = React.useState<ScreenId>(props.initial ?? 'sources');
  const [generation, setGeneration] = React.useState(0);
  const uid = React.useId(); // tab ids unique per console (a view and cells can show several)

  const load = React.useCallback(async () => {
    setWho(w => (w.state === 'admin' ? w : { state: 'loading' }));
    try {
      const me = await client.me();
      setWho(me.is_admin ? { state: 'admin', me } : { state: 'forbidden', me, problem: null });
    } catch (reason) {
      const problem = describe(reason);
      setWho(
        problem.status === 403
          ? { state: 'forbidden', me: null, problem }
          : { state: 'error', problem }
      );
    }
  }, []);

  React.useEffect(() => {
    void load();
  }, [load]);

  React.useEffect(() => {
    if (props.initial) {
      setScreen(props.initial);
    }
  }, [props.initial, props.request]);

  const show = (id: ScreenId): void => {
    setScreen(id);
    props.onScreen?.(id);
  };
  const onChanged = React.useCallback(() => setGeneration(g => g + 1), []);
  const keyDown = (event: React.KeyboardEvent): void => {
    const at = SCREENS.findIndex(s => s.id === screen);
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (step) {
      event.preventDefault();
      const next = SCREENS[(at + step + SCREENS.length) % SCREENS.length];
      show(next.id);
      (
        event.currentTarget.querySelector(`[data-screen="${next.id}"]`) as HTMLElement | null
      )?.focus();
    }
  };

  const frame = `jp-agnes-admin${props.inCell ? ' jp-agnes-admin-incell' : ''}`;
  if (who.state === 'loading') {
    return (
      <div className={frame}>
        <div className="jp-agnes-admin-loading">{__('Loading the admin console…')}</div>
      </div>
    );
  }
  if (who.state === 'forbidden') {
    return (
      <div className={frame}>
        <ForbiddenView me={who.me} problem={who.problem} />
      </div>
    );
  }
  if (who.state === 'error') {
    return (
      <div className={frame}>
        <Problem problem={who.problem} />
        <button className="jp-mod-styled" onClick={() => void load()}>
          {__('Try again')}
        </button>
      </div>
    );
  }
  const current = SCREENS.find(s => s.id === screen) ?? SCREENS[0];
  const Screen = current.component;
  return (
    <div className={frame} data-screen={current.id}>
      <div className="jp-agnes-admin-header">
        <h1 className="jp-agnes-admin-title">{__('Agnes Admin')}</h1>
        <span className="jp-agnes-admin-who" title={who.me.username}>
          {__('Signed in as %1 (admin)', who.me.display_name || who.me.username)}
        </span>
        <ToolbarButtonComponent
          icon={refreshIcon}
          onClick={() => {
            onChanged();
            void load();
          }}
          tooltip={__('Reload this screen')}
          className="jp-agnes-admin-reload"
        />
      </div>
      <div
        className="jp-agnes-admin-tabs"
        role="tablist"
        aria-label={__('Admin screens')}
        onKeyDown={keyDown}
      >
        {SCREENS.map(s => (
          <button
            key={s.id}
            role="tab"
            id={`${uid}-tab-${s.id}`}
            aria-selected={s.id === current.id}
            tabIndex={s.id === current.id ? 0 : -1}
            className={`jp-agnes-admin-tab${s.id === current.id ? ' jp-mod-current' : ''}`}
            data-screen={s.id}
            onClick={() => show(s.id)}
          >
            {s.label()}
          </button>
        ))}
      </div>
      <div
        className="jp-agnes-admin-body"
        role="tabpanel"
        aria-labelledby={`${uid}-tab-${current.id}`}
      >
        <Screen me={who.me} onChanged={onChanged} generation={generation} />
      </div>
    </div>
  );
}
