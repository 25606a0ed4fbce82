/**
 * Admin console: data packages and recipes — list (soft-deleted ones too), create and edit with
 * every field and its limit (from the OpenAPI document), soft delete with Undo, restore.
 */
import * as React from 'react';

import { requestAPI } from '../api';
import type { Package, Recipe } from '../apitypes';
import { Badge } from '../components/bits';
import { Problem } from '../components/Problem';
import { __ } from '../i18n';
import { describe, type IProblem } from '../model';
import {
  Field,
  Notice,
  problemFor,
  problemOutside,
  ScreenHeader,
  TimeText,
  useLimits,
  useLoad
} from './common';
import { type Limits, overLimit, splitList, usageText } from './limits';
import {
  type IPackageDraft,
  type IParamDraft,
  type IRecipeDraft,
  packageBody,
  recipeBody
} from './forms';
import type { IScreenProps } from './screen';

type Kind = 'package' | 'recipe';

const LIFECYCLE_TONE: Record<string, string> = {
  prod: 'success',
  poc: 'brand',
  'coming-soon': 'warn',
  draft: 'neutral'
};

// ---------------------------------------------------------------------------------------------
// Small inputs

function TextInput(props: {
  value: string;
  onChange: (v: string) => void;
  className?: string;
  disabled?: boolean;
  placeholder?: string;
}): JSX.Element {
  return (
    <input
      className={`jp-mod-styled ${props.className ?? ''}`}
      value={props.value}
      disabled={props.disabled}
      placeholder={props.placeholder}
      onChange={e => props.onChange(e.target.value)}
    />
  );
}

function TextArea(props: {
  value: string;
  onChange: (v: string) => void;
  rows?: number;
  className?: string;
  placeholder?: string;
}): JSX.Element {
  return (
    <textarea
      className={`jp-mod-styled jp-agnes-admin-textarea ${props.className ?? ''}`}
      rows={props.rows ?? 3}
      value={props.value}
      placeholder={props.placeholder}
      onChange={e => props.onChange(e.target.value)}
    />
  );
}

/** A text field with its limit, usage and the server's error. */
function TextField(props: {
  label: string;
  name: string;
  limits: Limits;
  error: unknown;
  value: string;
  onChange: (v: string) => void;
  rows?: number;
  help?: string;
  disabled?: boolean;
  className?: string;
}): JSX.Element {
  const limit = props.limits[props.name];
  return (
    <Field
      label={props.label}
      name={props.name}
      limit={limit}
      usage={usageText(limit, props.value)}
      over={overLimit(limit, props.value)}
      help={props.help}
      error={problemFor(props.error, props.name)}
    >
      {props.rows ? (
        <TextArea
          value={props.value}
          onChange={props.onChange}
          rows={props.rows}
          className={`jp-agnes-admin-input-${props.name} ${props.className ?? ''}`}
        />
      ) : (
        <TextInput
          value={props.value}
          onChange={props.onChange}
          disabled={props.disabled}
          className={`jp-agnes-admin-input-${props.name}`}
        />
      )}
    </Field>
  );
}

/** A list typed one item per line (or comma-separated for tags). */
function ListField(props: {
  label: string;
  name: string;
  limits: Limits;
  error: unknown;
  value: string;
  onChange: (v: string) => void;
  separator: 'line' | 'comma';
}): JSX.Element {
  const limit = props.limits[props.name];
  const items = splitList(props.value, props.separator);
  return (
    <Field
      label={props.label}
      name={props.name}
      limit={limit}
      usage={usageText(limit, items)}
      over={overLimit(limit, items)}
      help={props.separator === 'line' ? __('one per line') : __('separated by commas')}
      error={problemFor(props.error, props.name)}
    >
      {props.separator === 'line' ? (
        <TextArea
          value={props.value}
          onChange={props.onChange}
          rows={3}
          className={`jp-agnes-admin-input-${props.name}`}
        />
      ) : (
        <TextInput
          value={props.value}
          onChange={props.onChange}
          className={`jp-agnes-admin-input-${props.name}`}
        />
      )}
    </Field>
  );
}

/** Registered table ids as removable chips, added from a searchable list. */
function TablePicker(props: {
  value: string[];
  onChange: (ids: string[]) => void;
  known: string[];
  limits: Limits;
  error: unknown;
}): JSX.Element {
  const [typed, setTyped] = React.useState('');
  const limit = props.limits.tables;
  const add = (): void => {
    const id = typed.trim();
    if (id && !props.value.includes(id)) {
      props.onChange([...props.value, id]);
    }
    setTyped('');
  };
  return (
    <Field
      label={__('Tables')}
      name="tables"
      limit={limit}
      usage={usageText(limit, props.value)}
      over={overLimit(limit, props.value)}
      help={__('registered table ids')}
      error={problemFor(props.error, 'tables')}
    >
      <div className="jp-agnes-admin-chips">
        {props.value.map(id => (
          <span key={id} className="jp-agnes-admin-chip" data-table-id={id}>
            {id}
            <button
              type="button"
              className="jp-agnes-admin-chip-remove"
              aria-label={__('Remove %1', id)}
              onClick={() => props.onChange(props.value.filter(v => v !== id))}
            >
              ×
            </button>
          </span>
        ))}
        <input
          className="jp-mod-styled jp-agnes-admin-chip-input"
          list="jp-agnes-admin-table-ids"
          value={typed}
          placeholder={__('add a table…')}
          onChange={e => setTyped(e.target.value)}
          onKeyDown={e => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add();
            }
          }}
        />
        <button type="button" className="jp-Button jp-mod-styled jp-mod-reject" onClick={add}>
          {__('Add')}
        </button>
        <datalist id="jp-agnes-admin-table-ids">
          {props.known.map(id => (
            <option key={id} value={id} />
          ))}
        </datalist>
      </div>
    </Field>
  );
}

// ---------------------------------------------------------------------------------------------
// Package form

function packageDraft(p: Package | null): IPackageDraft {
  return {
    slug: p?.slug ?? '',
    title: p?.title ?? '',
    description: p?.description ?? '',
    lifecycle: p?.lifecycle ?? 'draft',
    category: p?.category ?? '',
    owner_name: p?.owner_name ?? '',
    owner_team: p?.owner_team ?? '',
    cover_image_url: p?.cover_image_url ?? '',
    tags: (p?.tags ?? []).join(', '),
    long_description: p?.long_description ?? '',
    when_to_use: (p?.when_to_use ?? []).join('\n'),
    when_not_to_use: (p?.when_not_to_use ?? []).join('\n'),
    example_questions: (p?.example_questions ?? []).join('\n'),
    tables: (p?.tables ?? []).map(t => (typeof t === 'string' ? t : t.id))
  };
}

const PACKAGE_FIELDS = [
  'slug',
  'title',
  'description',
  'lifecycle',
  'category',
  'owner_name',
  'owner_team',
  'cover_image_url',
  'tags',
  'long_description',
  'when_to_use',
  'when_not_to_use',
  'example_questions',
  'tables'
];

function PackageForm(props: {
  editing: Package | null;
  knownTables: string[];
  onSaved: (p: Package) => void;
  onCancel: () => void;
}): JSX.Element {
  const limits = useLimits(props.editing ? 'PackageUpdate' : 'PackageInput');
  const [d, setD] = React.useState<IPackageDraft>(() => packageDraft(props.editing));
  const [error, setError] = React.useState<unknown>(null);
  const [busy, setBusy] = React.useState(false);
  const set = (key: keyof IPackageDraft) => (value: string) => setD({ ...d, [key]: value });
  const creating = props.editing === null;

  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await requestAPI<Package>(
        creating ? 'admin/packages' : `admin/packages/${encodeURIComponent(d.slug)}`,
        { method: creating ? 'POST' : 'PATCH', body: JSON.stringify(packageBody(d, creating)) }
      );
      props.onSaved(saved);
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };
  const common = { limits, error };
  const lifecycles = (limits.lifecycle?.enum as string[] | undefined) ?? [
    'prod',
    'poc',
    'coming-soon',
    'draft'
  ];
  return (
    <form className="jp-agnes-admin-box jp-agnes-admin-package-form" onSubmit={e => void submit(e)}>
      <h3 className="jp-agnes-admin-subtitle">
        {creating ? __('New package') : __('Edit package %1', d.slug)}
      </h3>
      <div className="jp-agnes-admin-fields-grid">
        <TextField
          {...common}
          label={__('Slug')}
          name="slug"
          value={d.slug}
          onChange={set('slug')}
          disabled={!creating}
          help={
            creating
              ? __('lower-case letters, digits and dashes; never changes')
              : __('never changes')
          }
        />
        <TextField
          {...common}
          label={__('Title')}
          name="title"
          value={d.title}
          onChange={set('title')}
        />
        <Field
          label={__('Lifecycle')}
          name="lifecycle"
          limit={limits.lifecycle}
          help={__('draft: admins only; coming-soon: listed, not subscribable')}
          error={problemFor(error, 'lifecycle')}
        >
          <select
            className="jp-mod-styled jp-agnes-admin-input-lifecycle"
            value={d.lifecycle}
            onChange={e => set('lifecycle')(e.target.value)}
          >
            {lifecycles.map(l => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </Field>
        <TextField
          {...common}
          label={__('Category')}
          name="category"
          value={d.category}
          onChange={set('category')}
        />
        <TextField
          {...common}
          label={__('Owner')}
          name="owner_name"
          value={d.owner_name}
          onChange={set('owner_name')}
        />
        <TextField
          {...common}
          label={__('Owner team')}
          name="owner_team"
          value={d.owner_team}
          onChange={set('owner_team')}
        />
        <TextField
          {...common}
          label={__('Cover image URL')}
          name="cover_image_url"
          value={d.cover_image_url}
          onChange={set('cover_image_url')}
          help={__('http(s)')}
        />
        <ListField
          {...common}
          label={__('Tags')}
          name="tags"
          value={d.tags}
          onChange={set('tags')}
          separator="comma"
        />
      </div>
      <TextField
        {...common}
        label={__('Description')}
        name="description"
        value={d.description}
        onChange={set('description')}
        rows={2}
      />
      <TextField
        {...common}
        label={__('Long description')}
        name="long_description"
        value={d.long_description}
        onChange={set('long_description')}
        rows={4}
      />
      <div className="jp-agnes-admin-fields-grid">
        <ListField
          {...common}
          label={__('When to use')}
          name="when_to_use"
          value={d.when_to_use}
          onChange={set('when_to_use')}
          separator="line"
        />
        <ListField
          {...common}
          label={__('When not to use')}
          name="when_not_to_use"
          value={d.when_not_to_use}
          onChange={set('when_not_to_use')}
          separator="line"
        />
        <ListField
          {...common}
          label={__('Example questions')}
          name="example_questions"
          value={d.example_questions}
          onChange={set('example_questions')}
          separator="line"
        />
      </div>
      <TablePicker
        value={d.tables}
        onChange={tables => setD({ ...d, tables })}
        known={props.knownTables}
        limits={limits}
        error={error}
      />
      <Problem problem={problemOutside(error, PACKAGE_FIELDS)} />
      <div className="jp-agnes-admin-form-actions">
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-save"
          disabled={busy}
        >
          {creating ? __('Create package') : __('Save package')}
        </button>
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-reject"
          onClick={props.onCancel}
        >
          {__('Cancel')}
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// Recipe form

const PARAM_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'timestamp'];

function recipeDraft(r: Recipe | null): IRecipeDraft {
  return {
    slug: r?.slug ?? '',
    title: r?.title ?? '',
    description: r?.description ?? '',
    sql: r?.sql ?? '',
    parameters: (r?.parameters ?? []).map(p => ({
      name: p.name,
      type: p.type,
      default: p.default === undefined || p.default === null ? '' : String(p.default),
      description: p.description ?? '',
      choices: (p.choices ?? []).map(c => String(c)).join(', ')
    }))
  };
}

function ParameterEditor(props: {
  params: IParamDraft[];
  onChange: (params: IParamDraft[]) => void;
  limits: Limits;
  error: unknown;
}): JSX.Element {
  const limit = props.limits.parameters;
  const itemLimits = limit?.item;
  const update = (i: number, patch: Partial<IParamDraft>): void =>
    props.onChange(props.params.map((p, j) => (j === i ? { ...p, ...patch } : p)));
  const fieldProblem = problemFor(props.error, 'parameters');
  // "parameters[2]…" names one row; "parameters" the list (e.g. an undeclared :name in the SQL).
  const rowOfError = (() => {
    const m = /^parameters\[(\d+)\]/.exec(
      String(
        (props.error as { envelope?: { details?: { field?: string } } } | null)?.envelope?.details
          ?.field ?? ''
      )
    );
    return m ? Number(m[1]) : -1;
  })();
  return (
    <Field
      label={__('Parameters')}
      name="parameters"
      limit={limit}
      usage={usageText(
        limit,
        props.params.map(p => p.name)
      )}
      help={__('every :name in the SQL, declared once')}
      error={fieldProblem}
    >
      <table className="jp-agnes-admin-params">
        <thead>
          <tr>
            <th>{__('Name')}</th>
            <th>{__('Type')}</th>
            <th>{__('Default (empty: required)')}</th>
            <th>
              {__('Description')}
              {itemLimits?.maxLength === undefined ? '' : ` (≤ ${itemLimits.maxLength})`}
            </th>
            <th>{__('Choices (comma-separated)')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {props.params.map((p, i) => (
            <tr
              key={i}
              className={i === rowOfError ? 'jp-agnes-admin-row-invalid' : undefined}
              data-param-index={i}
            >
              <td>
                <input
                  className="jp-mod-styled jp-agnes-admin-param-name"
                  value={p.name}
                  onChange={e => update(i, { name: e.target.value })}
                />
              </td>
              <td>
                <select
                  className="jp-mod-styled"
                  value={p.type}
                  onChange={e => update(i, { type: e.target.value })}
                >
                  {PARAM_TYPES.map(t => (
                    <option key={t} value={t}>
                      {t}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <input
                  className="jp-mod-styled"
                  value={p.default}
                  onChange={e => update(i, { default: e.target.value })}
                />
              </td>
              <td>
                <input
                  className="jp-mod-styled"
                  value={p.description}
                  onChange={e => update(i, { description: e.target.value })}
                />
              </td>
              <td>
                <input
                  className="jp-mod-styled"
                  value={p.choices}
                  onChange={e => update(i, { choices: e.target.value })}
                />
              </td>
              <td>
                <button
                  type="button"
                  className="jp-agnes-admin-iconbtn"
                  aria-label={__('Remove parameter')}
                  title={__('Remove parameter')}
                  onClick={() => props.onChange(props.params.filter((_, j) => j !== i))}
                >
                  ×
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button
        type="button"
        className="jp-Button jp-mod-styled jp-mod-reject jp-agnes-admin-add-param"
        onClick={() =>
          props.onChange([
            ...props.params,
            { name: '', type: 'string', default: '', description: '', choices: '' }
          ])
        }
      >
        {__('Add parameter')}
      </button>
    </Field>
  );
}

function RecipeForm(props: {
  editing: Recipe | null;
  onSaved: (r: Recipe) => void;
  onCancel: () => void;
}): JSX.Element {
  const limits = useLimits(props.editing ? 'RecipeUpdate' : 'RecipeInput');
  const [d, setD] = React.useState<IRecipeDraft>(() => recipeDraft(props.editing));
  const [error, setError] = React.useState<unknown>(null);
  const [busy, setBusy] = React.useState(false);
  const creating = props.editing === null;
  const set = (key: 'slug' | 'title' | 'description' | 'sql') => (value: string) =>
    setD({ ...d, [key]: value });

  const submit = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await requestAPI<Recipe>(
        creating ? 'admin/recipes' : `admin/recipes/${encodeURIComponent(d.slug)}`,
        { method: creating ? 'POST' : 'PATCH', body: JSON.stringify(recipeBody(d, creating)) }
      );
      props.onSaved(saved);
    } catch (reason) {
      setError(reason);
    } finally {
      setBusy(false);
    }
  };
  const common = { limits, error };
  return (
    <form className="jp-agnes-admin-box jp-agnes-admin-recipe-form" onSubmit={e => void submit(e)}>
      <h3 className="jp-agnes-admin-subtitle">
        {creating ? __('New recipe') : __('Edit recipe %1', d.slug)}
      </h3>
      <div className="jp-agnes-admin-fields-grid">
        <TextField
          {...common}
          label={__('Slug')}
          name="slug"
          value={d.slug}
          onChange={set('slug')}
          disabled={!creating}
          help={
            creating
              ? __('lower-case letters, digits and dashes; never changes')
              : __('never changes')
          }
        />
        <TextField
          {...common}
          label={__('Title')}
          name="title"
          value={d.title}
          onChange={set('title')}
        />
      </div>
      <TextField
        {...common}
        label={__('Description')}
        name="description"
        value={d.description}
        onChange={set('description')}
        rows={2}
      />
      <TextField
        {...common}
        label={__('SQL')}
        name="sql"
        value={d.sql}
        onChange={set('sql')}
        rows={6}
        className="jp-agnes-admin-sql"
        help={__('one SELECT naming tables by id, with :name parameters')}
      />
      <ParameterEditor
        params={d.parameters}
        onChange={parameters => setD({ ...d, parameters })}
        limits={limits}
        error={error}
      />
      <Problem
        problem={problemOutside(error, ['slug', 'title', 'description', 'sql', 'parameters'])}
      />
      <div className="jp-agnes-admin-form-actions">
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-save"
          disabled={busy}
        >
          {creating ? __('Create recipe') : __('Save recipe')}
        </button>
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-reject"
          onClick={props.onCancel}
        >
          {__('Cancel')}
        </button>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------------------------------------
// The screen

interface IItemRow {
  slug: string;
  title: string;
  deleted_at?: string | null;
  updated_at?: string | null;
  created_at?: string;
}

export function CurationScreen(props: IScreenProps): JSX.Element {
  const [kind, setKind] = React.useState<Kind>('package');
  const [showDeleted, setShowDeleted] = React.useState(false);
  const [editing, setEditing] = React.useState<Package | Recipe | 'new' | null>(null);
  const [notice, setNotice] = React.useState<{ text: string; undo?: IItemRow } | null>(null);
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [search, setSearch] = React.useState('');
  const packages = useLoad(
    () =>
      requestAPI<{ packages: Package[] }>('admin/packages?include_deleted=true').then(
        r => r.packages
      ),
    [props.generation]
  );
  const recipes = useLoad(
    () =>
      requestAPI<{ recipes: Recipe[] }>('admin/recipes?include_deleted=true').then(r => r.recipes),
    [props.generation]
  );
  const tables = useLoad(
    () =>
      requestAPI<{ tables: Array<{ id: string }> }>('admin/tables').then(r =>
        r.tables.map(t => t.id)
      ),
    [props.generation]
  );
  const list = kind === 'package' ? packages : recipes;
  const base = kind === 'package' ? 'admin/packages' : 'admin/recipes';

  const act = async (item: IItemRow, action: 'delete' | 'restore'): Promise<void> => {
    setProblem(null);
    try {
      if (action === 'delete') {
        await requestAPI<unknown>(`${base}/${encodeURIComponent(item.slug)}`, { method: 'DELETE' });
        setNotice({ text: __('Deleted "%1".', item.title), undo: item });
      } else {
        await requestAPI<unknown>(`${base}/${encodeURIComponent(item.slug)}/restore`, {
          method: 'POST'
        });
        setNotice({ text: __('Restored "%1" with its grants and subscriptions.', item.title) });
      }
      list.reload();
      props.onChanged('curation');
    } catch (reason) {
      setProblem(describe(reason));
    }
  };

  const saved = (item: IItemRow): void => {
    setEditing(null);
    setNotice({ text: __('Saved "%1".', item.title) });
    list.reload();
    props.onChanged('curation');
  };

  const needle = search.trim().toLowerCase();
  const rows = ((list.value ?? []) as Array<Package | Recipe>).filter(
    r =>
      (showDeleted ? true : !r.deleted_at) &&
      (needle === '' ||
        r.slug.toLowerCase().includes(needle) ||
        r.title.toLowerCase().includes(needle))
  );
  const deletedCount = ((list.value ?? []) as Array<Package | Recipe>).filter(
    r => r.deleted_at
  ).length;

  return (
    <div className="jp-agnes-admin-screen jp-agnes-admin-curation">
      <ScreenHeader
        title={__('Packages & recipes')}
        description={__(
          'Data packages group tables for a purpose; recipes are parameterised SELECTs. Grant them to groups on the Access screen.'
        )}
      >
        <button
          className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-new"
          onClick={() => setEditing('new')}
          disabled={editing !== null}
        >
          {kind === 'package' ? __('New package') : __('New recipe')}
        </button>
      </ScreenHeader>
      <div className="jp-agnes-admin-toolbar">
        <div className="jp-agnes-admin-segmented" role="tablist">
          {(['package', 'recipe'] as const).map(k => (
            <button
              key={k}
              role="tab"
              aria-selected={kind === k}
              className={`jp-agnes-admin-segment${kind === k ? ' jp-mod-active' : ''}`}
              data-kind={k}
              onClick={() => {
                setKind(k);
                setEditing(null);
              }}
            >
              {k === 'package'
                ? __('Packages (%1)', (packages.value ?? []).filter(p => !p.deleted_at).length)
                : __('Recipes (%1)', (recipes.value ?? []).filter(r => !r.deleted_at).length)}
            </button>
          ))}
        </div>
        <input
          className="jp-mod-styled jp-agnes-admin-search"
          placeholder={__('Search slug or title')}
          value={search}
          onChange={e => setSearch(e.target.value)}
        />
        <label className="jp-agnes-admin-check">
          <input
            type="checkbox"
            className="jp-agnes-admin-show-deleted"
            checked={showDeleted}
            onChange={e => setShowDeleted(e.target.checked)}
          />
          {__('Show deleted (%1)', deletedCount)}
        </label>
      </div>
      {notice && (
        <Notice
          text={notice.text}
          tone={notice.undo ? 'info' : 'success'}
          action={
            notice.undo
              ? { label: __('Undo'), run: () => void act(notice.undo as IItemRow, 'restore') }
              : undefined
          }
          onClose={() => setNotice(null)}
        />
      )}
      <Problem problem={list.problem ?? problem} />
      {editing !== null &&
        (kind === 'package' ? (
          <PackageForm
            key={editing === 'new' ? 'new' : editing.slug}
            editing={editing === 'new' ? null : (editing as Package)}
            knownTables={tables.value ?? []}
            onSaved={saved}
            onCancel={() => setEditing(null)}
          />
        ) : (
          <RecipeForm
            key={editing === 'new' ? 'new' : editing.slug}
            editing={editing === 'new' ? null : (editing as Recipe)}
            onSaved={saved}
            onCancel={() => setEditing(null)}
          />
        ))}
      <table className="jp-agnes-admin-table jp-agnes-admin-curation-list">
        <thead>
          <tr>
            <th>{__('Slug')}</th>
            <th>{__('Title')}</th>
            <th>{kind === 'package' ? __('Lifecycle') : __('Mode')}</th>
            <th>{kind === 'package' ? __('Tags') : __('Parameters')}</th>
            <th>{__('Tables')}</th>
            <th>{__('Changed')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map(r => {
            const p = r as Package;
            const rc = r as Recipe;
            return (
              <tr
                key={r.slug}
                data-slug={r.slug}
                className={r.deleted_at ? 'jp-agnes-admin-row-deleted' : undefined}
              >
                <td>
                  <code>{r.slug}</code>
                </td>
                <td>{r.title}</td>
                <td>
                  {kind === 'package' ? (
                    <Badge text={p.lifecycle} tone={LIFECYCLE_TONE[p.lifecycle]} />
                  ) : (
                    <Badge text={rc.mode} />
                  )}
                  {r.deleted_at && <Badge text={__('deleted')} tone="error" />}
                </td>
                <td className="jp-agnes-admin-tags">
                  {kind === 'package'
                    ? p.tags.map(t => (
                        <span key={t} className="jp-agnes-tag">
                          {t}
                        </span>
                      ))
                    : rc.parameters.map(x => x.name).join(', ')}
                </td>
                <td>{r.tables.length}</td>
                <td>
                  <TimeText iso={r.deleted_at ?? r.updated_at ?? r.created_at} />
                </td>
                <td className="jp-agnes-admin-cell-actions">
                  {r.deleted_at ? (
                    <button
                      className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-restore"
                      onClick={() => void act(r, 'restore')}
                    >
                      {__('Restore')}
                    </button>
                  ) : (
                    <>
                      <button
                        className="jp-Button jp-mod-styled jp-mod-reject jp-agnes-admin-edit"
                        onClick={() => setEditing(r)}
                      >
                        {__('Edit')}
                      </button>
                      <button
                        className="jp-Button jp-mod-styled jp-mod-warn jp-agnes-admin-delete"
                        onClick={() => void act(r, 'delete')}
                      >
                        {__('Delete')}
                      </button>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
          {!list.loading && rows.length === 0 && (
            <tr>
              <td colSpan={7} className="jp-agnes-admin-empty">
                {needle !== ''
                  ? __('Nothing matches "%1".', search.trim())
                  : kind === 'package'
                    ? __('No packages.')
                    : __('No recipes.')}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
