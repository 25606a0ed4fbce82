/**
 * The catalog explorer: search (names, descriptions and — through the server — column names),
 * filters, and a keyboard-navigable, virtualised tree source → folder → table.
 */
import { CommandRegistry } from '@lumino/commands';
import * as React from 'react';

import { CatalogRow, FreshnessFilter, ICatalogFilters } from '../catalog';
import { humanAge, humanBytes, humanCount } from '../format';
import { __, _n } from '../i18n';
import { SidebarModel } from '../model';
import { CommandIDs } from '../tokens';
import { FreshnessDot, ModeBadge } from './bits';
import { VirtualList } from './VirtualList';

export const ROW_HEIGHT = 40;

function TableRowView(props: {
  row: Extract<CatalogRow, { kind: 'table' }>;
  active: boolean;
}): JSX.Element {
  const { entry } = props.row;
  const when =
    entry.query_mode === 'remote' ? entry.refreshed_at : (entry.updated ?? entry.refreshed_at);
  // Everything here is user-supplied text; React renders it as text, never as HTML.
  return (
    <div
      className={`jp-agnes-row jp-agnes-table${props.active ? ' jp-mod-active' : ''}`}
      data-table-id={entry.id}
      role="treeitem"
      aria-level={props.row.depth + 1}
      aria-selected={props.active}
      title={entry.description || entry.id}
      style={{ paddingLeft: 6 + props.row.depth * 14 }}
    >
      <div className="jp-agnes-row-line">
        <FreshnessDot entry={entry} />
        <span className="jp-agnes-table-name">{entry.name}</span>
        {entry.name !== entry.id && <span className="jp-agnes-table-id">{entry.id}</span>}
        <span className="jp-agnes-table-source" hidden>
          {entry.source}
        </span>
        <ModeBadge mode={entry.query_mode} />
      </div>
      <div className="jp-agnes-row-meta">
        {humanCount(entry.rows ?? null)} · {humanBytes(entry.size_bytes ?? null)}
        {entry.uncompressed_bytes ? ` (${humanBytes(entry.uncompressed_bytes)} raw)` : ''} ·{' '}
        {humanAge(when ?? null)}
      </div>
    </div>
  );
}

function GroupRowView(props: {
  row: Exclude<CatalogRow, { kind: 'table' }>;
  active: boolean;
  onToggle: () => void;
}): JSX.Element {
  const { row } = props;
  return (
    <div
      className={`jp-agnes-row jp-agnes-group jp-agnes-group-${row.kind}${props.active ? ' jp-mod-active' : ''}`}
      data-node={row.key}
      role="treeitem"
      aria-level={row.depth + 1}
      aria-expanded={row.expanded}
      aria-selected={props.active}
      onClick={props.onToggle}
      style={{ paddingLeft: 6 + row.depth * 14 }}
    >
      <span
        className={`jp-agnes-caret${row.expanded ? ' jp-agnes-caret-open' : ''}`}
        aria-hidden="true"
      >
        ▸
      </span>
      <span className="jp-agnes-group-label">{row.label}</span>
      <span className="jp-agnes-group-count">{row.count}</span>
    </div>
  );
}

function Filters(props: { model: SidebarModel }): JSX.Element {
  const { model } = props;
  const f = model.filters;
  const set = (patch: Partial<ICatalogFilters>): void => model.setFilters(patch);
  return (
    <div className="jp-agnes-filters">
      <input
        className="jp-agnes-search jp-mod-styled"
        type="search"
        placeholder={__('Search tables, descriptions, columns…')}
        aria-label={__('Search the catalog')}
        value={f.text}
        onChange={e => set({ text: e.target.value })}
      />
      <div className="jp-agnes-filter-row">
        <select
          className="jp-mod-styled jp-agnes-filter-mode"
          aria-label={__('Mode')}
          value={f.mode}
          onChange={e => set({ mode: e.target.value as ICatalogFilters['mode'] })}
        >
          <option value="">{__('Mode')}</option>
          <option value="local">local</option>
          <option value="remote">remote</option>
          <option value="materialized">materialized</option>
        </select>
        <select
          className="jp-mod-styled jp-agnes-filter-package"
          aria-label={__('Package')}
          value={f.package}
          onChange={e => set({ package: e.target.value })}
        >
          <option value="">{__('Package')}</option>
          {model.packageChoices.map(p => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
        <select
          className="jp-mod-styled jp-agnes-filter-freshness"
          aria-label={__('Freshness')}
          value={f.freshness}
          onChange={e => set({ freshness: e.target.value as FreshnessFilter })}
        >
          <option value="">{__('Freshness')}</option>
          <option value="fresh">{__('fresh')}</option>
          <option value="stale">{__('stale')}</option>
          <option value="error">{__('error')}</option>
          <option value="never_fetched">{__('not read yet')}</option>
        </select>
      </div>
    </div>
  );
}

export function CatalogExplorer(props: {
  model: SidebarModel;
  commands: CommandRegistry;
}): JSX.Element {
  const { model, commands } = props;
  const rows = model.rows;
  const [active, setActive] = React.useState(0);
  const index = Math.min(active, rows.length - 1);

  const open = (row: CatalogRow | undefined): void => {
    if (!row) {
      return;
    }
    if (row.kind === 'table') {
      void commands.execute(CommandIDs.openTable, { id: row.entry.id });
    } else {
      model.toggle(row.key);
    }
  };

  const onKeyDown = (event: React.KeyboardEvent<HTMLDivElement>): void => {
    const row = rows[index];
    switch (event.key) {
      case 'ArrowDown':
        setActive(Math.min(index + 1, rows.length - 1));
        break;
      case 'ArrowUp':
        setActive(Math.max(index - 1, 0));
        break;
      case 'Home':
        setActive(0);
        break;
      case 'End':
        setActive(rows.length - 1);
        break;
      case 'ArrowRight':
        if (row && row.kind !== 'table') {
          model.toggle(row.key, true);
        }
        break;
      case 'ArrowLeft':
        if (row && row.kind !== 'table') {
          model.toggle(row.key, false);
        }
        break;
      case 'Enter':
        open(row);
        break;
      default:
        return;
    }
    event.preventDefault();
    event.stopPropagation();
  };

  // For benchmarks/panel.py: when a catalog or a search result was last committed to the DOM.
  React.useLayoutEffect(() => {
    performance.mark('agnes:rendered');
  });
  const tables = model.visibleTables.length;
  const total = model.tables.length;
  return (
    <div className="jp-agnes-explorer" data-searched={model.searchedText}>
      <Filters model={model} />
      {model.status === 'ready' && total === 0 && (
        <div className="jp-agnes-empty">
          {__(
            'No tables yet. An admin registers them, e.g. `jupyter agnes demo` for the demo lake.'
          )}
        </div>
      )}
      {total > 0 && tables === 0 && (
        <div className="jp-agnes-empty">
          {__('No table matches. Clear the search or the filters.')}
        </div>
      )}
      {rows.length > 0 && (
        <VirtualList
          className="jp-agnes-catalog"
          items={rows}
          rowHeight={ROW_HEIGHT}
          activeIndex={index}
          role="tree"
          label={__('Catalog')}
          onKeyDown={onKeyDown}
          renderRow={(row, i) => (
            <div
              onClick={() => {
                setActive(i);
                if (row.kind === 'table') {
                  open(row);
                }
              }}
            >
              {row.kind === 'table' ? (
                <TableRowView row={row} active={i === index} />
              ) : (
                <GroupRowView
                  row={row}
                  active={i === index}
                  onToggle={() => model.toggle(row.key)}
                />
              )}
            </div>
          )}
        />
      )}
      <div className="jp-agnes-footer">
        {tables === total
          ? _n('%1 table', '%1 tables', total, total)
          : __('%1 of %2 tables', tables, total)}
      </div>
    </div>
  );
}
