/**
 * Pieces the admin screens share: the confirm dialog, a form field with its limit and the
 * server's error next to it, field limits from the OpenAPI document, an SSE reader that
 * reconnects with back-off, and times shown local + relative.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import * as React from 'react';

import { Problem } from '../components/Problem';
import { __ } from '../i18n';
import { describe, type IProblem } from '../model';
import { API_NAMESPACE } from '../tokens';
import { type IFieldLimit, type IOpenApiDoc, type Limits, limitText, schemaLimits } from './limits';
import { relativeTime } from './forms';
import { openApiDocument } from './openapi';
export { errorDetails, errorField, problemFor, problemOutside } from './errors';
import { backoffDelay } from './stream';

/** Ask before a destructive action; resolves true when the admin accepts. */
export async function confirmAction(
  title: string,
  body: string,
  accept: string,
  danger = true
): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [
      Dialog.cancelButton({ label: __('Cancel') }),
      danger ? Dialog.warnButton({ label: accept }) : Dialog.okButton({ label: accept })
    ]
  });
  return result.button.accept;
}

/** The limits of a request schema, read once from the served OpenAPI document. */
export function useLimits(schema: string): Limits {
  const [limits, setLimits] = React.useState<Limits>({});
  React.useEffect(() => {
    let live = true;
    openApiDocument().then(
      doc => live && setLimits(schemaLimits(doc as IOpenApiDoc, schema)),
      () => undefined // limits are a help; the server still validates
    );
    return () => {
      live = false;
    };
  }, [schema]);
  return limits;
}

/** A labelled form field: the limit from the OpenAPI document, a usage counter, the server's error. */
export function Field(props: {
  label: string;
  name: string;
  limit?: IFieldLimit;
  usage?: string;
  over?: boolean;
  help?: string;
  error?: IProblem | null;
  children: React.ReactNode;
}): JSX.Element {
  const limit = limitText(props.limit);
  const required = props.limit?.required;
  return (
    <div
      className={`jp-agnes-admin-field${props.error ? ' jp-agnes-admin-field-invalid' : ''}`}
      data-field={props.name}
    >
      <label className="jp-agnes-admin-field-label">
        <span className="jp-agnes-admin-field-name">
          {props.label}
          {required && <span className="jp-agnes-admin-required"> *</span>}
        </span>
        {props.children}
      </label>
      <div className="jp-agnes-admin-field-meta">
        {props.help && <span className="jp-agnes-admin-field-help">{props.help}</span>}
        {limit && (
          <span
            className="jp-agnes-admin-field-limit"
            data-limit={props.name}
            title={props.limit?.patterns.length ? props.limit.patterns.join('\n') : undefined}
          >
            {limit}
          </span>
        )}
        {props.usage && (
          <span className={`jp-agnes-admin-field-usage${props.over ? ' jp-agnes-admin-over' : ''}`}>
            {props.usage}
          </span>
        )}
      </div>
      <Problem problem={props.error ?? null} className="jp-agnes-admin-field-error" />
    </div>
  );
}

/** A time as local time with its age: "02/12/2026, 01:02:03 (5 min ago)". */
export function TimeText(props: { iso: string | null | undefined }): JSX.Element {
  if (!props.iso) {
    return <span className="jp-agnes-admin-time">{__('never')}</span>;
  }
  const when = new Date(props.iso);
  return (
    <span className="jp-agnes-admin-time" title={props.iso}>
      {when.toLocaleString()}{' '}
      <span className="jp-agnes-admin-age">({relativeTime(props.iso)})</span>
    </span>
  );
}

/** Load something when the screen opens and whenever ``generation`` moves. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: React.DependencyList
): {
  value: T | null;
  problem: IProblem | null;
  loading: boolean;
  reload: () => void;
  set: (value: T) => void;
} {
  const [value, setValue] = React.useState<T | null>(null);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [loading, setLoading] = React.useState(true);
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
      v => {
        if (live) {
          setValue(v);
          setProblem(null);
          setLoading(false);
        }
      },
      reason => {
        if (live) {
          setProblem(describe(reason));
          setLoading(false);
        }
      }
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return {
    value,
    problem,
    loading,
    reload: () => setTick(t => t + 1),
    set: setValue
  };
}

export type StreamStatus = 'connecting' | 'live' | 'reconnecting';

export interface IStreamState {
  status: StreamStatus;
  /** Failures in a row (0 while live). */
  attempt: number;
  /** When the next attempt starts (ms since epoch), while reconnecting. */
  retryAt: number | null;
}

/**
 * Follow a Server-Sent Events route of the Agnes API (the browser sends the Jupyter session
 * cookie, as ``followJob`` does). When the stream drops, reconnect after 1 s, 2 s, 4 s … (at
 * most 30 s) and say so; a stream the server ends normally (after ``endEvent``) is reopened at
 * once, without counting as a drop.
 */
export function useEventStream(
  path: string,
  events: ReadonlyArray<string>,
  onEvent: (event: string, data: Record<string, unknown>) => void,
  endEvent?: string
): IStreamState {
  const handler = React.useRef(onEvent);
  handler.current = onEvent;
  const [state, setState] = React.useState<IStreamState>({
    status: 'connecting',
    attempt: 0,
    retryAt: null
  });
  const eventKey = events.join(',');
  React.useEffect(() => {
    const settings = ServerConnection.makeSettings();
    const url = URLExt.join(settings.baseUrl, API_NAMESPACE, path);
    let source: EventSource | null = null;
    let timer: number | null = null;
    let attempt = 0;
    let stopped = false;
    let ended = false;

    const connect = (): void => {
      if (stopped) {
        return;
      }
      ended = false;
      source = new EventSource(url, { withCredentials: true });
      source.onopen = () => {
        attempt = 0;
        setState({ status: 'live', attempt: 0, retryAt: null });
      };
      for (const name of eventKey.split(',')) {
        source.addEventListener(name, event => {
          let data: Record<string, unknown>;
          try {
            data = JSON.parse((event as MessageEvent).data) as Record<string, unknown>;
          } catch {
            return; // a malformed event is skipped; the next snapshot brings the state back
          }
          if (name === endEvent) {
            ended = true;
          }
          handler.current(name, data);
        });
      }
      source.onerror = () => {
        source?.close();
        source = null;
        if (stopped) {
          return;
        }
        if (ended) {
          // The server closed the stream after the run completed: follow the next run.
          timer = window.setTimeout(connect, 250);
          return;
        }
        const delay = backoffDelay(attempt);
        attempt += 1;
        setState({ status: 'reconnecting', attempt, retryAt: Date.now() + delay });
        timer = window.setTimeout(connect, delay);
      };
    };
    connect();
    return () => {
      stopped = true;
      source?.close();
      if (timer !== null) {
        window.clearTimeout(timer);
      }
    };
  }, [path, eventKey, endEvent]);
  return state;
}

/** A short notice under a screen's header (e.g. "Package deleted. Undo"). */
export function Notice(props: {
  text: string;
  action?: { label: string; run: () => void };
  onClose: () => void;
  tone?: 'info' | 'success';
}): JSX.Element {
  return (
    <div className={`jp-agnes-admin-notice jp-agnes-admin-notice-${props.tone ?? 'info'}`}>
      <span className="jp-agnes-admin-notice-text">{props.text}</span>
      {props.action && (
        <button
          className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-notice-action"
          onClick={props.action.run}
        >
          {props.action.label}
        </button>
      )}
      <button
        className="jp-agnes-admin-iconbtn"
        aria-label={__('Dismiss')}
        title={__('Dismiss')}
        onClick={props.onClose}
      >
        ×
      </button>
    </div>
  );
}

/** A screen's heading with a one-line description and its actions on the right. */
export function ScreenHeader(props: {
  title: string;
  description: string;
  children?: React.ReactNode;
}): JSX.Element {
  return (
    <div className="jp-agnes-admin-screen-head">
      <div>
        <h2 className="jp-agnes-admin-screen-title">{props.title}</h2>
        <p className="jp-agnes-admin-screen-desc">{props.description}</p>
      </div>
      <div className="jp-agnes-admin-screen-actions">{props.children}</div>
    </div>
  );
}
