/** The Agnes left panel: the catalog the current user may read. */
import { refreshIcon, ToolbarButtonComponent } from '@jupyterlab/ui-components';
import * as React from 'react';

import { Freshness, ICatalogEntry } from '../api';
import { humanAge, humanBytes, humanCount } from '../format';
import { SidebarModel } from '../model';

const FRESHNESS_LABELS: Record<Freshness, string> = {
  fresh: 'fresh',
  stale: 'stale',
  error: 'could not be read',
  never_fetched: 'not read yet'
};

function freshnessTitle(table: ICatalogEntry): string {
  const when = table.query_mode === 'remote' ? table.refreshed_at : table.updated;
  const verb = table.query_mode === 'remote' ? 'metadata refreshed' : 'extracted';
  return [
    `${FRESHNESS_LABELS[table.freshness] ?? table.freshness} — ${verb} ${humanAge(when)}`,
    `${humanCount(table.rows)}, ${humanBytes(table.size_bytes)}`
  ].join('\n');
}

const MODE_TITLES: Record<string, string> = {
  local: 'Extracted on the server and synced to your workspace',
  remote: 'Stays in the source; reached through cost-gated scans',
  materialized: 'A scheduled query, written to Parquet and synced like a local table'
};

function TableRow(props: { table: ICatalogEntry }): JSX.Element {
  const { table } = props;
  // Everything here is user-supplied text; React renders it as text, never as HTML.
  return (
    <li className="jp-agnes-table" data-table-id={table.id} title={table.description || table.id}>
      <span className="jp-agnes-table-name">
        <span
          className={`jp-agnes-freshness jp-agnes-freshness-${table.freshness}`}
          data-freshness={table.freshness}
          title={freshnessTitle(table)}
        />
        {table.name}
      </span>
      <span className="jp-agnes-table-source">{table.source}</span>
      <span
        className={`jp-agnes-mode jp-agnes-mode-${table.query_mode}`}
        title={MODE_TITLES[table.query_mode] ?? table.query_mode}
      >
        {table.query_mode}
      </span>
    </li>
  );
}

export function Sidebar(props: { model: SidebarModel }): JSX.Element {
  const { model } = props;
  const problem = model.problem;
  return (
    <div className="jp-agnes-sidebar">
      <div className="jp-agnes-header">
        <h2 className="jp-agnes-title">Agnes</h2>
        <ToolbarButtonComponent
          icon={refreshIcon}
          onClick={() => void model.refresh()}
          tooltip="Refresh the catalog"
          className="jp-agnes-refresh"
          enabled={model.status !== 'loading'}
        />
      </div>
      {model.status === 'loading' && <div className="jp-agnes-status">Loading the catalog…</div>}
      {problem && (
        <div className={`jp-agnes-problem jp-agnes-problem-${model.status}`} role="alert">
          <p className="jp-agnes-problem-message">{problem.message}</p>
          {problem.hint && <p className="jp-agnes-problem-hint">{problem.hint}</p>}
        </div>
      )}
      {model.status === 'ready' && model.tables.length === 0 && (
        <div className="jp-agnes-empty">
          No tables yet. An admin registers them, e.g. <code>jupyter agnes demo</code> for the
          demo lake.
        </div>
      )}
      {model.tables.length > 0 && (
        <>
          <div className="jp-agnes-list-header">
            <span>Table</span>
            <span>Source</span>
            <span>Mode</span>
          </div>
          <ul className="jp-agnes-catalog">
            {model.tables.map(t => (
              <TableRow key={t.id} table={t} />
            ))}
          </ul>
          <div className="jp-agnes-footer">
            {model.tables.length} table{model.tables.length === 1 ? '' : 's'}
          </div>
        </>
      )}
    </div>
  );
}
