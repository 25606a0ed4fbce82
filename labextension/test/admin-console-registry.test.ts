import { describe, expect, it } from 'vitest';

import {
  batchErrorRow,
  type FormFieldInfo,
  hasOptionFields,
  type IConnectorForm,
  optionsFromForm,
  proposeTableId,
  schemaChangeText,
  secretPattern,
  selectRange,
  splitList,
  type Table,
  tablePatch
} from '../src/admin/registry';

describe('proposeTableId', () => {
  it('makes the source table name an identifier', () => {
    expect(proposeTableId(null, 'Daily-Orders.v2', new Set())).toBe('daily_orders_v2');
    expect(proposeTableId(null, '2024_sales', new Set())).toBe('t_2024_sales');
    expect(proposeTableId(null, '---', new Set())).toBe('table');
  });

  it('prefixes the bucket when the bare name is taken, then numbers', () => {
    expect(proposeTableId('sales', 'orders', new Set(['orders']))).toBe('sales_orders');
    expect(proposeTableId('sales', 'orders', new Set(['orders', 'sales_orders']))).toBe(
      'sales_orders_2'
    );
    expect(proposeTableId(null, 'orders', new Set(['orders', 'orders_2']))).toBe('orders_3');
  });

  it('stays within 64 characters', () => {
    const id = proposeTableId(null, 'x'.repeat(200), new Set(['x'.repeat(64)]));
    expect(id.length).toBeLessThanOrEqual(64);
    expect(id).toMatch(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/);
  });
});

describe('selectRange', () => {
  const shown = ['a', 'b', 'c', 'd', 'e'];

  it('selects from the anchor to the target, in either direction', () => {
    expect([...selectRange(new Set(), shown, 'b', 'd', true)].sort()).toEqual(['b', 'c', 'd']);
    expect([...selectRange(new Set(), shown, 'd', 'b', true)].sort()).toEqual(['b', 'c', 'd']);
  });

  it('clears a range and keeps what is outside it', () => {
    const all = new Set(shown);
    expect([...selectRange(all, shown, 'a', 'c', false)].sort()).toEqual(['d', 'e']);
  });

  it('without an anchor, or one filtered away, changes only the target', () => {
    expect([...selectRange(new Set(['a']), shown, null, 'c', true)].sort()).toEqual(['a', 'c']);
    expect([...selectRange(new Set(), shown, 'zz', 'c', true)]).toEqual(['c']);
    expect([...selectRange(new Set(['a']), shown, null, 'zz', true)]).toEqual(['a']);
  });
});

describe('batchErrorRow', () => {
  it('reads the row and field a batch refusal names', () => {
    expect(batchErrorRow({ index: 3, id: 'x', field: 'schedule' })).toEqual({
      index: 3,
      field: 'schedule'
    });
    expect(batchErrorRow({ index: 0 })).toEqual({ index: 0, field: null });
    expect(batchErrorRow({ field: 'id' })).toBeNull();
    expect(batchErrorRow(null)).toBeNull();
  });
});

const field = (name: string, kind: FormFieldInfo['kind']): FormFieldInfo => ({
  name,
  kind,
  help: '',
  required: false,
  choices: [],
  placeholder: ''
});
/** Forms as GET admin/connectors describes them (the connectors declare their fields). */
const POSTGRES: IConnectorForm = {
  options: [
    field('schemas', 'list'),
    field('unconstrained_numeric', 'choice'),
    field('statement_timeout_ms', 'integer')
  ],
  secrets: [field('dsn', 'text')]
};
const LAKE: IConnectorForm = {
  options: [field('path', 'text'), field('threads', 'integer')],
  secrets: []
};

describe('hasOptionFields', () => {
  it('draws fields for a connector that declares options, JSON for one that does not', () => {
    expect(hasOptionFields(LAKE)).toBe(true);
    expect(hasOptionFields({ options: [], secrets: [] })).toBe(false);
    expect(hasOptionFields(undefined)).toBe(false);
  });
});

describe('optionsFromForm', () => {
  it('leaves empty fields out, types integers and splits lists', () => {
    const { options, error } = optionsFromForm(POSTGRES, {
      schemas: 'public, sales',
      statement_timeout_ms: '5000',
      unconstrained_numeric: ''
    });
    expect(error).toBeNull();
    expect(options).toEqual({ schemas: ['public', 'sales'], statement_timeout_ms: 5000 });
  });

  it('names the option that is not a whole number', () => {
    const { error } = optionsFromForm(LAKE, { path: '/d', threads: 'four' });
    expect(error?.field).toBe('options.threads');
  });
});

describe('secretPattern', () => {
  it('reads the environment-variable pattern of SourceInput.secrets', () => {
    const doc = {
      components: {
        schemas: {
          SourceInput: {
            properties: {
              secrets: { additionalProperties: { type: 'string', pattern: '^[A-Z_]+$' } }
            }
          }
        }
      }
    };
    expect(secretPattern(doc)).toBe('^[A-Z_]+$');
    expect(secretPattern({})).toBeNull();
  });
});

describe('schemaChangeText', () => {
  it('lists added, removed and retyped columns', () => {
    expect(
      schemaChangeText({
        added: ['a', 'b'],
        removed: ['c'],
        type_changed: [{ name: 'x', from: 'int32', to: 'int64' }]
      })
    ).toBe('+ a, b · − c · x: int32 → int64');
  });
});

describe('tablePatch', () => {
  const table = {
    id: 't',
    name: 't',
    description: '',
    source: 's',
    bucket: null,
    source_table: 't',
    query_mode: 'local',
    primary_key: ['id'],
    folder: null,
    schedule: 'every 6h',
    sql: null,
    incremental_key: null,
    created_at: '',
    updated_at: ''
  } as Table;

  it('sends only what changed; an emptied field becomes null', () => {
    expect(
      tablePatch(table, {
        name: 't',
        folder: 'Sales',
        schedule: '',
        primary_key: 'id',
        query_mode: 'local'
      })
    ).toEqual({ folder: 'Sales', schedule: null });
    expect(tablePatch(table, { primary_key: 'id, day', query_mode: 'remote' })).toEqual({
      primary_key: ['id', 'day'],
      query_mode: 'remote'
    });
  });

  it('splits key lists on commas and spaces', () => {
    expect(splitList(' a, b  c,,')).toEqual(['a', 'b', 'c']);
  });
});
