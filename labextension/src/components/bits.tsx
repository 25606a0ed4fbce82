/** Small pieces shared by the panel and the table views: badges, freshness, bars. */
import * as React from 'react';

import type { CatalogEntry } from '../apitypes';
import { humanAge, humanBytes, humanCount } from '../format';
import { __ } from '../i18n';

export function freshnessLabel(freshness: string): string {
  switch (freshness) {
    case 'fresh':
      return __('fresh');
    case 'stale':
      return __('stale');
    case 'error':
      return __('could not be read');
    case 'never_fetched':
      return __('not read yet');
    default:
      return freshness;
  }
}

export function modeTitle(mode: string): string {
  switch (mode) {
    case 'local':
      return __('Extracted on the server and synced to your workspace');
    case 'remote':
      return __('Stays in the source; reached through cost-gated scans');
    case 'materialized':
      return __('A scheduled query, written to Parquet and synced like a local table');
    default:
      return mode;
  }
}

/** When the table's data or metadata was last read, and how. */
export function freshnessText(entry: CatalogEntry): string {
  const remote = entry.query_mode === 'remote';
  const when = remote ? entry.refreshed_at : (entry.updated ?? entry.refreshed_at);
  const verb = remote ? __('metadata read') : __('extracted');
  const text = `${freshnessLabel(entry.freshness)} — ${verb} ${humanAge(when ?? null)}`;
  const changed = entry.source_changed_at;
  return changed ? `${text}; ${__('data changed in the source %1', humanAge(changed))}` : text;
}

export function sizesText(entry: CatalogEntry): string {
  const parts = [humanCount(entry.rows ?? null), humanBytes(entry.size_bytes ?? null)];
  if (entry.uncompressed_bytes !== null && entry.uncompressed_bytes !== undefined) {
    parts.push(__('%1 uncompressed', humanBytes(entry.uncompressed_bytes)));
  }
  return parts.join(' · ');
}

export function FreshnessDot(props: { entry: CatalogEntry }): JSX.Element {
  const { entry } = props;
  return (
    <span
      className={`jp-agnes-freshness jp-agnes-freshness-${entry.freshness}`}
      data-freshness={entry.freshness}
      title={`${freshnessText(entry)}\n${sizesText(entry)}`}
      aria-label={freshnessLabel(entry.freshness)}
    />
  );
}

export function ModeBadge(props: { mode: string }): JSX.Element {
  return (
    <span className={`jp-agnes-mode jp-agnes-mode-${props.mode}`} title={modeTitle(props.mode)}>
      {props.mode}
    </span>
  );
}

export function Badge(props: { text: string; tone?: string; title?: string }): JSX.Element {
  return (
    <span
      className={`jp-agnes-badge jp-agnes-badge-${props.tone ?? 'neutral'}`}
      title={props.title}
    >
      {props.text}
    </span>
  );
}

/** A horizontal bar: ``value`` of ``max``, with an optional marker (e.g. the confirm threshold). */
export function Bar(props: {
  value: number;
  max: number;
  tone: 'success' | 'warn' | 'error' | 'brand';
  marker?: number;
  title?: string;
  className?: string;
}): JSX.Element {
  const share = props.max > 0 ? Math.min(props.value / props.max, 1) * 100 : 0;
  const marker =
    props.marker !== undefined && props.max > 0
      ? Math.min(props.marker / props.max, 1) * 100
      : null;
  return (
    <div
      className={`jp-agnes-bar ${props.className ?? ''}`}
      title={props.title}
      role="meter"
      aria-valuemin={0}
      aria-valuemax={props.max}
      aria-valuenow={props.value}
    >
      <div
        className={`jp-agnes-bar-fill jp-agnes-tone-${props.tone}`}
        style={{ width: `${share}%` }}
      />
      {marker !== null && <div className="jp-agnes-bar-marker" style={{ left: `${marker}%` }} />}
    </div>
  );
}

/** A progress bar for a running job (indeterminate when the total is unknown). */
export function Progress(props: {
  done: number;
  total: number | null;
  label: string;
}): JSX.Element {
  const known = props.total !== null && props.total > 0;
  const share = known ? Math.min(props.done / (props.total as number), 1) * 100 : 0;
  return (
    <div className="jp-agnes-progress" role="progressbar" aria-valuenow={known ? share : undefined}>
      <div className="jp-agnes-progress-track">
        <div
          className={`jp-agnes-progress-fill${known ? '' : ' jp-agnes-progress-indeterminate'}`}
          style={known ? { width: `${share}%` } : undefined}
        />
      </div>
      <div className="jp-agnes-progress-label">{props.label}</div>
    </div>
  );
}
