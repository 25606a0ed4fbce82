import { describe, expect, it } from 'vitest';

import { AgnesApiError } from '../src/api';
import { errorField, problemFor, problemOutside } from '../src/admin/errors';

import {
  auditQuery,
  originOf,
  packageBody,
  recipeBody,
  relativeTime,
  typedValue
} from '../src/admin/forms';
import { limitText, overLimit, schemaLimits, splitList, usageText } from '../src/admin/limits';
import {
  cellKey,
  changesOf,
  cycle,
  effective,
  errorsByCell,
  filterItems,
  grantsByCell,
  type Level,
  pendingItems,
  setLevel,
  toggle
} from '../src/admin/matrix';
import { applyEvent, backoffDelay, countStates, doneCount } from '../src/admin/stream';

describe('access matrix', () => {
  const grants = [
    {
      group: 'analysts',
      resource_type: 'package' as const,
      resource_id: 'sales',
      requirement: 'available' as const
    },
    {
      group: 'finance',
      resource_type: 'table' as const,
      resource_id: 'orders',
      requirement: 'required' as const
    }
  ];

  it('cycles none → available → required → none', () => {
    expect(cycle(null)).toBe('available');
    expect(cycle('available')).toBe('required');
    expect(cycle('required')).toBe(null);
  });

  it('reads the grants in force by cell, the stronger one when a cell has two', () => {
    const current = grantsByCell([
      ...grants,
      { group: 'finance', resource_type: 'table', resource_id: 'orders', requirement: 'available' }
    ]);
    expect(current.get(cellKey('analysts', 'package', 'sales'))).toBe('available');
    expect(current.get(cellKey('finance', 'table', 'orders'))).toBe('required');
    expect(current.size).toBe(2);
  });

  it('keeps an edit pending only while it differs from the grant in force', () => {
    const current = grantsByCell(grants);
    const key = cellKey('analysts', 'package', 'sales');
    let pending = toggle(current, new Map(), key); // available → required
    expect(pending.get(key)).toBe('required');
    expect(effective(current, pending, key)).toBe('required');
    pending = toggle(current, pending, key); // required → none
    expect(pending.get(key)).toBe(null);
    expect(pending.has(key)).toBe(true);
    pending = toggle(current, pending, key); // none → available: back to the grant, not pending
    expect(pending.has(key)).toBe(false);
    expect(effective(current, pending, key)).toBe('available');
  });

  it('turns pending edits into the batch changes, sorted, with null for a revoke', () => {
    const current = grantsByCell(grants);
    let pending = new Map<string, Level>();
    pending = setLevel(current, pending, cellKey('finance', 'table', 'orders'), null);
    pending = setLevel(
      current,
      pending,
      cellKey('analysts', 'recipe', 'top-customers'),
      'required'
    );
    pending = setLevel(current, pending, cellKey('analysts', 'package', 'sales'), 'available'); // no-op
    expect(changesOf(pending)).toEqual([
      {
        group: 'analysts',
        resource_type: 'recipe',
        resource_id: 'top-customers',
        requirement: 'required'
      },
      { group: 'finance', resource_type: 'table', resource_id: 'orders', requirement: null }
    ]);
    expect([...pendingItems(pending)].sort()).toEqual([
      'recipe\u0000top-customers',
      'table\u0000orders'
    ]);
  });

  it('puts each per-item error of a refused batch on the cell its index names', () => {
    const changes = [
      {
        group: 'gone',
        resource_type: 'package' as const,
        resource_id: 'sales',
        requirement: 'available' as const
      },
      {
        group: 'finance',
        resource_type: 'table' as const,
        resource_id: 'orders',
        requirement: null
      }
    ];
    const errors = errorsByCell(changes, [
      { index: 0, field: 'group', message: "no group 'gone'" },
      { index: 7, message: 'out of range: ignored' }
    ]);
    expect([...errors.entries()]).toEqual([
      [cellKey('gone', 'package', 'sales'), "no group 'gone'"]
    ]);
  });

  it('filters items by type, by id or title, and to pending ones', () => {
    const items = [
      { type: 'table' as const, id: 'orders', title: 'Orders' },
      { type: 'package' as const, id: 'sales', title: 'Sales overview' },
      { type: 'recipe' as const, id: 'top', title: 'Top orders' }
    ];
    expect(filterItems(items, 'table', '').map(i => i.id)).toEqual(['orders']);
    expect(filterItems(items, 'all', 'ORDERS').map(i => i.id)).toEqual(['orders', 'top']);
    expect(filterItems(items, 'all', '', new Set(['package\u0000sales'])).map(i => i.id)).toEqual([
      'sales'
    ]);
  });
});

describe('field limits from the OpenAPI document', () => {
  const doc = {
    components: {
      schemas: {
        Tag: {
          type: 'string',
          minLength: 1,
          maxLength: 30,
          allOf: [{ pattern: '^a' }, { pattern: '\\S' }]
        },
        PackageFields: {
          type: 'object',
          properties: {
            title: {
              type: 'string',
              maxLength: 200,
              allOf: [{ pattern: '^x' }, { pattern: '^y' }]
            },
            tags: {
              type: ['array', 'null'],
              maxItems: 8,
              items: { $ref: '#/components/schemas/Tag' }
            },
            lifecycle: { type: 'string', enum: ['prod', 'draft'] }
          }
        },
        PackageInput: {
          allOf: [
            { $ref: '#/components/schemas/PackageFields' },
            {
              type: 'object',
              required: ['slug', 'title'],
              properties: { slug: { type: 'string', pattern: '^[a-z]+$' } }
            }
          ]
        },
        TokenInput: {
          type: 'object',
          properties: { expires_in_days: { type: ['integer', 'null'], minimum: 1, maximum: 365 } }
        }
      }
    }
  };

  it('follows $ref and merges allOf into one field list with required flags', () => {
    const limits = schemaLimits(doc, 'PackageInput');
    expect(Object.keys(limits).sort()).toEqual(['lifecycle', 'slug', 'tags', 'title']);
    expect(limits.title.maxLength).toBe(200);
    expect(limits.title.patterns).toEqual(['^x', '^y']);
    expect(limits.title.required).toBe(true);
    expect(limits.slug.patterns).toEqual(['^[a-z]+$']);
    expect(limits.tags.required).toBe(false);
    expect(limits.tags.maxItems).toBe(8);
    expect(limits.tags.item?.maxLength).toBe(30);
    expect(limits.lifecycle.enum).toEqual(['prod', 'draft']);
  });

  it('says the limit in words, and how full the field is', () => {
    const limits = schemaLimits(doc, 'PackageInput');
    expect(limitText(limits.title)).toBe('at most 200 characters');
    expect(limitText(limits.tags)).toBe('at most 8 items, each at most 30 characters');
    expect(limitText(schemaLimits(doc, 'TokenInput').expires_in_days)).toBe('1 to 365');
    expect(usageText(limits.tags, ['a', 'b', 'c'])).toBe('3 / 8');
    expect(usageText(limits.title, 'hello')).toBe('5 / 200');
  });

  it('marks nine tags (or one too long) as over the limit', () => {
    const limits = schemaLimits(doc, 'PackageInput');
    const nine = splitList('a, b, c, d, e, f, g, h, i', 'comma');
    expect(nine).toHaveLength(9);
    expect(overLimit(limits.tags, nine)).toBe(true);
    expect(overLimit(limits.tags, nine.slice(0, 8))).toBe(false);
    expect(overLimit(limits.tags, ['x'.repeat(31)])).toBe(true);
  });

  it('answers no limits for an unknown schema', () => {
    expect(schemaLimits(doc, 'Nope')).toEqual({});
    expect(schemaLimits({}, 'PackageInput')).toEqual({});
  });
});

describe('warm-up stream state', () => {
  const start = {
    run_id: 'r1',
    kind: 'warmup',
    total: 2,
    started_at: '2026-12-02T00:00:00Z',
    rows: [
      { table_id: 'a', state: 'pending', ms: null, error: null },
      { table_id: 'b', state: 'pending', ms: null, error: null }
    ]
  };

  it('folds start, row and complete into counts and progress', () => {
    let run = applyEvent(null, 'start', start);
    expect(countStates(run)).toEqual({ pending: 2, warming: 0, fresh: 0, no_data: 0, error: 0 });
    run = applyEvent(run, 'row', {
      run_id: 'r1',
      table_id: 'a',
      state: 'warming',
      ms: null,
      error: null
    });
    run = applyEvent(run, 'row', {
      run_id: 'r1',
      table_id: 'b',
      state: 'error',
      ms: 12,
      error: 'boom'
    });
    expect(countStates(run)).toEqual({ pending: 0, warming: 1, fresh: 0, no_data: 0, error: 1 });
    run = applyEvent(run, 'row', {
      run_id: 'r1',
      table_id: 'a',
      state: 'fresh',
      ms: 30,
      error: null
    });
    expect(doneCount(countStates(run))).toBe(2);
    expect(run?.rows.get('b')?.error).toBe('boom');
    run = applyEvent(run, 'complete', { run_id: 'r1', total: 2 });
    expect(run?.status).toBe('complete');
  });

  it('ignores rows of another run and reads both snapshot shapes', () => {
    const run = applyEvent(null, 'start', start);
    expect(applyEvent(run, 'row', { run_id: 'other', table_id: 'a', state: 'fresh' })).toBe(run);
    expect(applyEvent(run, 'snapshot', { status: 'never_run' })).toBe(null);
    const nested = applyEvent(null, 'snapshot', {
      tables: [],
      run: { ...start, status: 'complete' }
    });
    expect(nested?.status).toBe('complete');
    expect(nested?.rows.size).toBe(2);
  });

  it('backs off 1 s, 2 s, 4 s … up to 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map(a => backoffDelay(a))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000
    ]);
  });
});

describe('screen request bodies', () => {
  it('builds the audit query: trimmed filters, local times as UTC, limit and offset', () => {
    const q = new URLSearchParams(
      auditQuery(
        { user: ' alice ', action: 'grant.', resource: '', since: '2026-12-01T10:00', until: '' },
        50
      )
    );
    expect(q.get('user')).toBe('alice');
    expect(q.get('action')).toBe('grant.');
    expect(q.has('resource')).toBe(false);
    expect(q.get('since')).toBe(new Date('2026-12-01T10:00').toISOString());
    expect(q.get('limit')).toBe('50');
    expect(q.get('offset')).toBe('50');
    expect(
      new URLSearchParams(
        auditQuery({ user: '', action: '', resource: '', since: '', until: '' }, 0)
      ).has('offset')
    ).toBe(false);
  });

  it('sends a package draft with lists split, empty optional texts as null, slug only on create', () => {
    const draft = {
      slug: 'sales',
      title: 'Sales',
      description: '',
      lifecycle: 'draft',
      category: '',
      owner_name: 'Ann',
      owner_team: '',
      cover_image_url: '',
      tags: 'a, b,,c',
      long_description: '',
      when_to_use: 'one\n\n two ',
      when_not_to_use: '',
      example_questions: '',
      tables: ['orders']
    };
    const body = packageBody(draft, true);
    expect(body.slug).toBe('sales');
    expect(body.tags).toEqual(['a', 'b', 'c']);
    expect(body.when_to_use).toEqual(['one', 'two']);
    expect(body.category).toBe(null);
    expect(body.owner_name).toBe('Ann');
    expect('slug' in packageBody(draft, false)).toBe(false);
  });

  it('sends recipe parameters typed, without empty defaults', () => {
    const body = recipeBody(
      {
        slug: 'r',
        title: 'R',
        description: '',
        sql: 'SELECT 1',
        parameters: [
          { name: 'n', type: 'integer', default: '10', description: '', choices: '1, 10' },
          { name: 'flag', type: 'boolean', default: '', description: 'a flag', choices: '' }
        ]
      },
      true
    );
    expect(body.parameters).toEqual([
      { name: 'n', type: 'integer', default: 10, choices: [1, 10] },
      { name: 'flag', type: 'boolean', description: 'a flag' }
    ]);
    expect(typedValue('number', 'x')).toBe('x');
    expect(typedValue('boolean', 'true')).toBe(true);
  });

  it('says where a gate limit comes from', () => {
    const settings = {
      limits: { scan_max_bytes: 5, max_result_rows: 7 },
      configured: { scan_max_bytes: 10, max_result_rows: 7 },
      overrides: { scan_max_bytes: 5 },
      updated_by: 'admin',
      updated_at: null
    } as never;
    expect(originOf(settings, 'scan_max_bytes')).toBe('override');
    expect(originOf(settings, 'max_result_rows')).toBe('configured');
    expect(
      originOf(
        { ...(settings as object), defaults: { max_result_rows: 7 } } as never,
        'max_result_rows'
      )
    ).toBe('default');
  });
});

describe('errors next to their field', () => {
  const refused = (field: string | undefined) =>
    new AgnesApiError(400, {
      error: 'validation_error',
      message: `bad ${field}`,
      hint: 'fix it',
      details: field === undefined ? {} : { field }
    });

  it('shows an error on the field it names, its items and its sub-fields', () => {
    expect(problemFor(refused('tags'), 'tags')?.message).toBe('bad tags');
    expect(problemFor(refused('tags[3]'), 'tags')?.hint).toBe('fix it');
    expect(problemFor(refused('parameters[0].name'), 'parameters')).not.toBeNull();
    expect(problemFor(refused('limits.max_result_rows'), 'limits.max_result_rows')).not.toBeNull();
    expect(problemFor(refused('title'), 'tags')).toBeNull();
    expect(problemFor(refused('tagsx'), 'tags')).toBeNull();
  });

  it('shows an error that names no field of the form once, at the top', () => {
    expect(problemOutside(refused('slug'), ['slug', 'title'])).toBeNull();
    expect(problemOutside(refused('body'), ['slug', 'title'])?.message).toBe('bad body');
    expect(problemOutside(refused(undefined), ['slug'])?.message).toBe('bad undefined');
    expect(problemOutside(null, ['slug'])).toBeNull();
    expect(errorField(new Error('plain'))).toBeNull();
  });
});

describe('times', () => {
  const now = new Date('2026-12-02T12:00:00Z');
  it('says how long ago a past time was and how far ahead a future one is', () => {
    expect(relativeTime('2026-12-02T11:55:00Z', now)).toBe('5 min ago');
    expect(relativeTime('2026-12-02T12:00:30Z', now)).toBe('just now');
    expect(relativeTime('2027-03-02T12:00:00Z', now)).toBe('in 3 mo');
    expect(relativeTime('2026-12-05T12:00:00Z', now)).toBe('in 3 d');
  });
});
