import { describe, expect, it } from 'vitest';

import type { CatalogEntry } from '../src/apitypes';
import {
  buildRows,
  filterEntries,
  ibisCell,
  matchesText,
  NO_FILTERS,
  packagesOf,
  pyName,
  sqlCell,
  sqlIdent
} from '../src/catalog';

function entry(id: string, patch: Partial<CatalogEntry> = {}): CatalogEntry {
  return {
    id,
    name: id,
    description: '',
    source: 'lake',
    source_type: 'lake',
    query_mode: 'local',
    sql_flavor: 'duckdb',
    folder: null,
    packages: [],
    rows: 1,
    size_bytes: 1,
    partition_by: null,
    clustered_by: null,
    entity_type: 'table',
    freshness: 'fresh',
    refreshed_at: null,
    updated: null,
    where_examples: [],
    ...patch
  } as CatalogEntry;
}

const EVENTS = entry('events', {
  query_mode: 'remote',
  folder: 'Product',
  description: 'Product events, partitioned by day',
  packages: ['product'],
  where_examples: ["country = 'AT'"]
});
const ORDERS = entry('orders', { folder: 'Sales', packages: ['sales'], freshness: 'stale' });
const CUSTOMERS = entry('customers', { folder: 'Sales', packages: ['sales'] });
const MEMOS = entry('memos', { source: 'pg', folder: null });
const ALL = [CUSTOMERS, EVENTS, MEMOS, ORDERS];

describe('matchesText', () => {
  it('needs every word, in any of id, name, description, folder and source', () => {
    expect(matchesText(EVENTS, 'product DAY')).toBe(true);
    expect(matchesText(EVENTS, 'product orders')).toBe(false);
    expect(matchesText(ORDERS, 'sales')).toBe(true);
    expect(matchesText(MEMOS, 'pg')).toBe(true);
    expect(matchesText(MEMOS, '   ')).toBe(true);
  });
});

describe('filterEntries', () => {
  it('combines mode, package, freshness and text', () => {
    expect(filterEntries(ALL, { ...NO_FILTERS, mode: 'remote' }).map(e => e.id)).toEqual([
      'events'
    ]);
    expect(filterEntries(ALL, { ...NO_FILTERS, package: 'sales' }).map(e => e.id)).toEqual([
      'customers',
      'orders'
    ]);
    expect(
      filterEntries(ALL, { ...NO_FILTERS, package: 'sales', freshness: 'stale' }).map(e => e.id)
    ).toEqual(['orders']);
  });

  it('keeps the tables the server matched by a column name the entry does not show', () => {
    const filters = { ...NO_FILTERS, text: 'session_id' };
    expect(filterEntries(ALL, filters)).toEqual([]);
    expect(filterEntries(ALL, filters, new Set(['events'])).map(e => e.id)).toEqual(['events']);
    // ... but the other filters still apply to them
    expect(filterEntries(ALL, { ...filters, mode: 'local' }, new Set(['events']))).toEqual([]);
  });
});

describe('buildRows', () => {
  it('nests source → folder → table, folderless tables last under their source', () => {
    const rows = buildRows(ALL, new Set());
    expect(
      rows.map(r => (r.kind === 'table' ? `${r.depth}:${r.entry.id}` : `${r.kind}:${r.key}`))
    ).toEqual([
      'source:s:lake',
      'folder:f:lake/Product',
      '2:events',
      'folder:f:lake/Sales',
      '2:customers',
      '2:orders',
      'source:s:pg',
      '1:memos'
    ]);
    const lake = rows[0];
    expect(lake.kind === 'source' && lake.count).toBe(3);
  });

  it('hides the children of collapsed nodes and says so', () => {
    const rows = buildRows(ALL, new Set(['s:lake', 'f:pg/none']));
    expect(rows.map(r => r.key)).toEqual(['s:lake', 's:pg', 't:memos']);
    expect(rows[0].kind === 'source' && rows[0].expanded).toBe(false);
    const folded = buildRows(ALL, new Set(['f:lake/Sales']));
    expect(folded.filter(r => r.kind === 'table').map(r => r.key)).toEqual(['t:events', 't:memos']);
  });

  it('is a flat list by id when searching', () => {
    expect(buildRows([ORDERS, EVENTS], new Set(), true).map(r => r.key)).toEqual([
      't:events',
      't:orders'
    ]);
  });

  it('handles 5,000 tables', () => {
    const many = Array.from({ length: 5000 }, (_, i) =>
      entry(`t${String(i).padStart(4, '0')}`, { folder: `f${i % 50}` })
    );
    const rows = buildRows(many, new Set());
    expect(rows.length).toBe(1 + 50 + 5000);
  });
});

describe('cells', () => {
  it('an ibis cell binds a variable named after the table', () => {
    const cell = ibisCell(entry('daily-sales'));
    expect(cell).toContain('import agnes_jupyter as agnes');
    expect(cell).toContain('daily_sales = agnes.table("daily-sales")');
  });

  it('a remote %%agnes cell goes through the gate and uses a WHERE example', () => {
    expect(sqlCell(EVENTS)).toBe(
      "%%agnes --remote\nSELECT *\nFROM events\nWHERE country = 'AT'\nLIMIT 10"
    );
    expect(sqlCell(ORDERS)).toBe('%%agnes\nSELECT *\nFROM orders\nLIMIT 10');
  });

  it('quotes what is not a plain identifier, in SQL and in Python', () => {
    expect(sqlIdent('a"b c')).toBe('"a""b c"');
    expect(pyName('9lives')).toBe('t_9lives');
    expect(ibisCell(entry('x"y'))).toContain('agnes.table("x\\"y")');
  });
});

describe('packagesOf', () => {
  it('lists each package once, sorted', () => {
    expect(packagesOf(ALL)).toEqual(['product', 'sales']);
  });
});
