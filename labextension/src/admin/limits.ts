/**
 * Field limits read from the server's OpenAPI document (GET agnes/v1/openapi.json): the one
 * source of truth for maxLength / maxItems / pattern / minimum of every request schema, so the
 * forms show the limits the server enforces. Pure functions over the JSON document.
 */

/** A JSON Schema fragment, as much of it as the forms read. */
import { __ } from '../i18n';

export interface ISchema {
  $ref?: string;
  type?: string | string[];
  allOf?: ISchema[];
  properties?: Record<string, ISchema>;
  items?: ISchema;
  required?: string[];
  maxLength?: number;
  minLength?: number;
  maxItems?: number;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  enum?: unknown[];
  description?: string;
}

export interface IOpenApiDoc {
  components?: { schemas?: Record<string, ISchema> };
}

/** What a form shows next to one field. */
export interface IFieldLimit {
  maxLength?: number;
  minLength?: number;
  maxItems?: number;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  patterns: string[];
  enum?: unknown[];
  /** For a list: the limits of each item. */
  item?: IFieldLimit;
  required: boolean;
  description?: string;
}

export type Limits = Record<string, IFieldLimit>;

function deref(doc: IOpenApiDoc, schema: ISchema, depth = 0): ISchema {
  if (!schema.$ref || depth > 20) {
    return schema;
  }
  const name = schema.$ref.replace('#/components/schemas/', '');
  const target = doc.components?.schemas?.[name];
  return target ? deref(doc, { ...target, ...{ $ref: undefined } }, depth + 1) : {};
}

/** A schema with its ``$ref`` followed and its ``allOf`` parts merged into one. */
export function flatten(doc: IOpenApiDoc, schema: ISchema, depth = 0): ISchema {
  const base = deref(doc, schema);
  if (!base.allOf || depth > 20) {
    return base;
  }
  const merged: ISchema = { ...base, allOf: undefined };
  const patterns: string[] = base.pattern ? [base.pattern] : [];
  for (const part of base.allOf) {
    const flat = flatten(doc, part, depth + 1);
    if (flat.properties) {
      merged.properties = { ...(merged.properties ?? {}), ...flat.properties };
    }
    if (flat.required) {
      merged.required = [...(merged.required ?? []), ...flat.required];
    }
    for (const key of [
      'maxLength',
      'minLength',
      'maxItems',
      'minItems',
      'minimum',
      'maximum',
      'type',
      'enum',
      'items'
    ] as const) {
      if (flat[key] !== undefined && merged[key] === undefined) {
        (merged as Record<string, unknown>)[key] = flat[key];
      }
    }
    if (flat.pattern) {
      patterns.push(flat.pattern);
    }
  }
  if (patterns.length > 0) {
    merged.pattern = patterns.join('\u0000');
  }
  return merged;
}

function limitOf(doc: IOpenApiDoc, schema: ISchema, required: boolean): IFieldLimit {
  const flat = flatten(doc, schema);
  const limit: IFieldLimit = {
    patterns: flat.pattern ? flat.pattern.split('\u0000') : [],
    required
  };
  for (const key of [
    'maxLength',
    'minLength',
    'maxItems',
    'minItems',
    'minimum',
    'maximum'
  ] as const) {
    if (typeof flat[key] === 'number') {
      limit[key] = flat[key];
    }
  }
  if (flat.enum) {
    limit.enum = flat.enum;
  }
  if (flat.description) {
    limit.description = flat.description;
  }
  if (flat.items) {
    limit.item = limitOf(doc, flat.items, false);
  }
  return limit;
}

/** Every property of a named request schema (e.g. ``PackageInput``) with its limits. */
export function schemaLimits(doc: IOpenApiDoc, name: string): Limits {
  const schema = doc.components?.schemas?.[name];
  if (!schema) {
    return {};
  }
  const flat = flatten(doc, schema);
  const required = new Set(flat.required ?? []);
  const out: Limits = {};
  for (const [field, prop] of Object.entries(flat.properties ?? {})) {
    out[field] = limitOf(doc, prop, required.has(field));
  }
  return out;
}

/** The limit in words, e.g. "at most 200 characters" or "at most 8 items, each at most 30 characters". */
export function limitText(limit: IFieldLimit | undefined): string {
  if (!limit) {
    return '';
  }
  const parts: string[] = [];
  if (limit.maxLength !== undefined) {
    parts.push(__('at most %1 characters', limit.maxLength));
  }
  if (limit.maxItems !== undefined) {
    parts.push(__('at most %1 items', limit.maxItems));
  }
  if (limit.minimum !== undefined && limit.maximum !== undefined) {
    parts.push(__('%1 to %2', limit.minimum, limit.maximum));
  } else if (limit.minimum !== undefined) {
    parts.push(__('at least %1', limit.minimum));
  }
  if (limit.item?.maxLength !== undefined) {
    parts.push(__('each at most %1 characters', limit.item.maxLength));
  }
  return parts.join(', ');
}

/** How full a field is against its limit: "3 / 8" (items) or "12 / 200" (characters). */
export function usageText(limit: IFieldLimit | undefined, value: string | string[]): string {
  if (!limit) {
    return '';
  }
  if (Array.isArray(value) && limit.maxItems !== undefined) {
    return `${value.length} / ${limit.maxItems}`;
  }
  if (typeof value === 'string' && limit.maxLength !== undefined) {
    return `${value.length} / ${limit.maxLength}`;
  }
  return '';
}

/** True when the value is over its limit (the form still sends it; the server's message is shown). */
export function overLimit(limit: IFieldLimit | undefined, value: string | string[]): boolean {
  if (!limit) {
    return false;
  }
  if (Array.isArray(value)) {
    return (
      (limit.maxItems !== undefined && value.length > limit.maxItems) ||
      (limit.item?.maxLength !== undefined &&
        value.some(v => v.length > (limit.item?.maxLength as number)))
    );
  }
  return limit.maxLength !== undefined && value.length > limit.maxLength;
}

/** A list field typed one item per line (or comma-separated for tags): the items, trimmed. */
export function splitList(text: string, separator: 'line' | 'comma'): string[] {
  const parts = separator === 'line' ? text.split('\n') : text.split(/[,\n]/);
  return parts.map(p => p.trim()).filter(p => p.length > 0);
}
