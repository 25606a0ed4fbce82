/** Recipes: a typed parameter form and *Insert into notebook* (the same cell as recipe().insert()). */
import * as React from 'react';

import type { Recipe, RecipeParameter } from '../apitypes';
import { client } from '../client';
import { __ } from '../i18n';
import { describe, IProblem, SidebarModel } from '../model';
import { Badge, ModeBadge } from './bits';
import { Problem } from './Problem';

export type CellInserter = (text: string) => Promise<void>;

/** A form value as the parameter's JSON type ('' leaves it to the recipe's default). */
export function parameterValue(param: RecipeParameter, raw: string | boolean): unknown {
  if (typeof raw === 'boolean') {
    return raw;
  }
  if (raw === '') {
    return undefined;
  }
  switch (param.type) {
    case 'integer':
      return /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    case 'number':
      return raw.trim() !== '' && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
    default:
      return raw;
  }
}

function ParamInput(props: {
  param: RecipeParameter;
  value: string | boolean;
  onChange: (v: string | boolean) => void;
}): JSX.Element {
  const { param, value } = props;
  const label = `${param.name}${param.required ? ' *' : ''}`;
  let input: JSX.Element;
  if (Array.isArray(param.choices) && param.choices.length) {
    input = (
      <select
        className="jp-mod-styled"
        value={String(value)}
        onChange={e => props.onChange(e.target.value)}
      >
        {!param.required && (
          <option value="">{__('default (%1)', String(param.default ?? ''))}</option>
        )}
        {param.choices.map(c => (
          <option key={String(c)} value={String(c)}>
            {String(c)}
          </option>
        ))}
      </select>
    );
  } else if (param.type === 'boolean') {
    input = (
      <input
        type="checkbox"
        checked={Boolean(value)}
        onChange={e => props.onChange(e.target.checked)}
      />
    );
  } else {
    const type =
      param.type === 'integer' || param.type === 'number'
        ? 'number'
        : param.type === 'date'
          ? 'date'
          : param.type === 'timestamp'
            ? 'datetime-local'
            : 'text';
    input = (
      <input
        className="jp-mod-styled"
        type={type}
        step={param.type === 'number' ? 'any' : undefined}
        value={String(value)}
        placeholder={param.default !== undefined ? String(param.default) : ''}
        onChange={e => props.onChange(e.target.value)}
      />
    );
  }
  return (
    <label className="jp-agnes-param" data-param={param.name}>
      <span className="jp-agnes-param-name">
        {label} <small>{param.type}</small>
      </span>
      {input}
      {param.description && <small className="jp-agnes-param-desc">{param.description}</small>}
    </label>
  );
}

function RecipeCard(props: {
  recipe: Recipe;
  insert: CellInserter;
  open: boolean;
  onOpen: () => void;
}): JSX.Element {
  const { recipe } = props;
  const [values, setValues] = React.useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(
      recipe.parameters.map(p => [
        p.name,
        p.type === 'boolean' ? Boolean(p.default) : p.default !== undefined ? String(p.default) : ''
      ])
    )
  );
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [done, setDone] = React.useState(false);
  const run = async (): Promise<void> => {
    setProblem(null);
    setDone(false);
    const params: Record<string, unknown> = {};
    for (const p of recipe.parameters) {
      const v = parameterValue(p, values[p.name] ?? '');
      if (v !== undefined) {
        params[p.name] = v;
      }
    }
    try {
      const rendered = await client.render(recipe.slug, params);
      await props.insert(rendered.cell);
      setDone(true);
    } catch (reason) {
      setProblem(describe(reason));
    }
  };
  return (
    <li
      className={`jp-agnes-card jp-agnes-recipe${props.open ? ' jp-agnes-card-open' : ''}`}
      data-recipe={recipe.slug}
    >
      <div
        className="jp-agnes-card-head"
        role="button"
        tabIndex={0}
        onClick={props.onOpen}
        onKeyDown={e => (e.key === 'Enter' ? props.onOpen() : undefined)}
      >
        <span className="jp-agnes-card-title">{recipe.title}</span>
        <ModeBadge mode={recipe.mode} />
        {!recipe.runnable && (
          <Badge
            text={__('missing access')}
            tone="error"
            title={__('You may not read every table it uses')}
          />
        )}
      </div>
      <div className="jp-agnes-card-desc">{recipe.description}</div>
      <div className="jp-agnes-card-meta">{__('tables: %1', recipe.tables.join(', '))}</div>
      {props.open && (
        <form
          className="jp-agnes-recipe-form"
          onSubmit={e => {
            e.preventDefault();
            void run();
          }}
        >
          <pre className="jp-agnes-sql">{recipe.sql}</pre>
          {recipe.parameters.map(p => (
            <ParamInput
              key={p.name}
              param={p}
              value={values[p.name] ?? ''}
              onChange={v => setValues({ ...values, [p.name]: v })}
            />
          ))}
          <button type="submit" className="jp-mod-styled jp-mod-accept jp-agnes-insert-recipe">
            {__('Insert into notebook')}
          </button>
          {done && <span className="jp-agnes-ok">{__('Inserted below the active cell.')}</span>}
          <Problem problem={problem} />
        </form>
      )}
    </li>
  );
}

export function RecipesSection(props: { model: SidebarModel; insert: CellInserter }): JSX.Element {
  const { model } = props;
  const [open, setOpen] = React.useState<string | null>(null);
  const recipes = model.recipes.value ?? [];
  return (
    <div className="jp-agnes-section jp-agnes-recipes">
      <Problem problem={model.recipes.problem} />
      {model.recipes.loading && recipes.length === 0 && (
        <div className="jp-agnes-status">{__('Loading…')}</div>
      )}
      {model.recipes.value && recipes.length === 0 && (
        <div className="jp-agnes-empty">{__('No recipes for you yet.')}</div>
      )}
      <ul className="jp-agnes-cards">
        {recipes.map(r => (
          <RecipeCard
            key={r.slug}
            recipe={r}
            insert={props.insert}
            open={open === r.slug}
            onOpen={() => setOpen(open === r.slug ? null : r.slug)}
          />
        ))}
      </ul>
    </div>
  );
}
