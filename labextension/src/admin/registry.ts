/**
 * Pure pieces of the Sources and Tables screens (no DOM, no JupyterLab): field limits read from
 * the served OpenAPI document, the options each known connector takes, table ids proposed for
 * discovered tables, range selection, and the row a batch error names.
 */
import type { components } from '../schema';

type Schemas = components['schemas'];
export type Source = Schemas['Source'];
export type Table = Schemas['Table'];
export type TableInput = Schemas['TableInput'];
export type TableUpdate = Schemas['TableUpdate'];
export type Discovery = Schemas['Discovery'];
export type DiscoveredTable = Discovery['tables'][number];
export type Run = Schemas['Run'];
export type RunHistory = Schemas['RunHistory'];
export type SchemaChange = Schemas['SchemaChange'];
export type QueryMode = Schemas['QueryMode'];

/** GET admin/tables: the stored registration with its last run (and the run in flight). */
export type RegistryEntry = Schemas['AdminTable'];
/** POST admin/tables:batch, its body and its answer. */
export type TableBatchInput = Schemas['TableBatchInput'];
export type TableBatch = Schemas['TableBatch'];

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function resolveRef(doc: JsonObject, node: unknown): unknown {
  if (isObject(node) && typeof node.$ref === 'string' && node.$ref.startsWith('#/')) {
    let at: unknown = doc;
    for (const part of node.$ref.slice(2).split('/')) {
      at = isObject(at) ? at[part] : undefined;
    }
    return at;
  }
  return node;
}

/** The secrets' value pattern (environment-variable names) of a source schema. */
export function secretPattern(doc: unknown, schemaName = 'SourceInput'): string | null {
  if (!isObject(doc)) {
    return null;
  }
  const schemas = isObject(doc.components) ? doc.components.schemas : undefined;
  const schema = resolveRef(doc, isObject(schemas) ? schemas[schemaName] : undefined);
  const secrets =
    isObject(schema) && isObject(schema.properties) ? schema.properties.secrets : null;
  const extra = isObject(secrets) ? secrets.additionalProperties : null;
  const pattern = isObject(extra) ? extra.pattern : null;
  return typeof pattern === 'string' ? pattern : null;
}

/** Does ``value`` match a JSON-schema pattern? (An invalid pattern is not ours to enforce.) */
export function matchesPattern(value: string, pattern: string | undefined): boolean {
  if (!pattern) {
    return true;
  }
  try {
    return new RegExp(pattern, 'u').test(value);
  } catch {
    return true;
  }
}

/** An installed connector with its source form, as GET admin/connectors describes it. */
export type ConnectorInfo = components['schemas']['Connector'];
/** One field of a source form (for a secret: the NAME of an environment variable). */
export type FormFieldInfo = components['schemas']['FormField'];

/** The form of a connector: the options and secrets it declares (the server still checks them). */
export interface IConnectorForm {
  options: FormFieldInfo[];
  secrets: FormFieldInfo[];
}

/**
 * Whether a connector's options are drawn as fields: when it declares them. A connector that
 * declares none (a plugin that predates forms) gets one JSON options field.
 */
export function hasOptionFields(form: IConnectorForm | undefined): form is IConnectorForm {
  return !!form && form.options.length > 0;
}

/** Option values typed in a form, as the JSON the server takes (empty fields left out). */
export function optionsFromForm(
  form: IConnectorForm,
  values: Record<string, string>
): { options: Record<string, unknown>; error: { field: string; message: string } | null } {
  const options: Record<string, unknown> = {};
  for (const option of form.options) {
    const raw = (values[option.name] ?? '').trim();
    if (!raw) {
      continue;
    }
    if (option.kind === 'integer') {
      if (!/^[0-9]+$/.test(raw)) {
        return {
          options,
          error: {
            field: `options.${option.name}`,
            message: `${option.name} must be a whole number`
          }
        };
      }
      options[option.name] = Number(raw);
    } else if (option.kind === 'list') {
      options[option.name] = splitList(raw);
    } else {
      options[option.name] = raw;
    }
  }
  return { options, error: null };
}

/** "a, b  c" → ["a", "b", "c"]. */
export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map(s => s.trim())
    .filter(s => s.length > 0);
}

const TABLE_ID = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * A table id for a discovered table: its name made an identifier (letters, digits, _; not
 * starting with a digit; at most 64), prefixed by its bucket when the bare name is taken, and
 * numbered when both are.
 */
export function proposeTableId(
  bucket: string | null,
  sourceTable: string,
  taken: ReadonlySet<string>
): string {
  const clean = (text: string): string => {
    let out = text
      .toLowerCase()
      .replace(/\.parquet$/, '')
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/^_+|_+$/g, '');
    if (!out) {
      out = 'table';
    }
    if (/^[0-9]/.test(out)) {
      out = `t_${out}`;
    }
    return out.slice(0, 64);
  };
  const candidates = [clean(sourceTable)];
  if (bucket) {
    candidates.push(clean(`${bucket}_${sourceTable}`));
  }
  for (const candidate of candidates) {
    if (!taken.has(candidate) && TABLE_ID.test(candidate)) {
      return candidate;
    }
  }
  const base = candidates[candidates.length - 1].slice(0, 60);
  for (let n = 2; ; n++) {
    const candidate = `${base}_${n}`;
    if (!taken.has(candidate)) {
      return candidate;
    }
  }
}

export function isTableId(value: string): boolean {
  return TABLE_ID.test(value);
}

/** The key of a discovered table (bucket and name), unique within one discovery. */
export function discoveredKey(t: { bucket: string | null; source_table: string }): string {
  return `${t.bucket ?? ''}\u0000${t.source_table}`;
}

/**
 * Select or clear the keys from ``anchor`` to ``target`` (inclusive) in the order shown, as a
 * shift-click does; without an anchor (or one no longer shown) only ``target`` changes.
 */
export function selectRange(
  selected: ReadonlySet<string>,
  shown: readonly string[],
  anchor: string | null,
  target: string,
  on: boolean
): Set<string> {
  const out = new Set(selected);
  const a = anchor === null ? -1 : shown.indexOf(anchor);
  const b = shown.indexOf(target);
  const [from, to] = a < 0 || b < 0 ? [b, b] : [Math.min(a, b), Math.max(a, b)];
  if (from < 0) {
    return out;
  }
  for (let i = from; i <= to; i++) {
    if (on) {
      out.add(shown[i]);
    } else {
      out.delete(shown[i]);
    }
  }
  return out;
}

/** Which batch row (and which of its fields) an error envelope's details name, if any. */
export function batchErrorRow(details: unknown): { index: number; field: string | null } | null {
  if (!isObject(details) || typeof details.index !== 'number') {
    return null;
  }
  return { index: details.index, field: typeof details.field === 'string' ? details.field : null };
}

/** A schema change in words: "+ a, b · − c · x: int32 → int64". */
export function schemaChangeText(change: SchemaChange): string {
  const parts: string[] = [];
  if (change.added.length) {
    parts.push(`+ ${change.added.join(', ')}`);
  }
  if (change.removed.length) {
    parts.push(`− ${change.removed.join(', ')}`);
  }
  for (const t of change.type_changed) {
    parts.push(`${t.name}: ${t.from} → ${t.to}`);
  }
  return parts.join(' · ');
}

/** The run a schema change was detected by, keyed by run id. */
export function changesByRun(changes: readonly SchemaChange[]): Map<string, SchemaChange> {
  const out = new Map<string, SchemaChange>();
  for (const change of changes) {
    if (change.run_id) {
      out.set(change.run_id, change);
    }
  }
  return out;
}

/** The fields of a registration edit that differ from the stored table (a PATCH body). */
export function tablePatch(table: Table, edit: Record<string, string>): TableUpdate {
  const patch: Record<string, unknown> = {};
  const text = (key: keyof Table, value: string): void => {
    const before = (table[key] as string | null | undefined) ?? '';
    if (value.trim() !== before) {
      patch[key] = value.trim() === '' ? null : value.trim();
    }
  };
  if (edit.name !== undefined) {
    text('name', edit.name);
  }
  if (edit.description !== undefined) {
    const before = table.description ?? '';
    if (edit.description !== before) {
      patch.description = edit.description === '' ? null : edit.description;
    }
  }
  for (const key of ['folder', 'schedule', 'incremental_key'] as const) {
    if (edit[key] !== undefined) {
      text(key, edit[key]);
    }
  }
  if (edit.query_mode !== undefined && edit.query_mode !== table.query_mode) {
    patch.query_mode = edit.query_mode;
  }
  if (edit.primary_key !== undefined) {
    const keys = splitList(edit.primary_key);
    if (keys.join(',') !== table.primary_key.join(',')) {
      patch.primary_key = keys;
    }
  }
  return patch as TableUpdate;
}
