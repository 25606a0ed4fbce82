/**
 * Pure pieces of the admin forms (no DOM, no JupyterLab): the audit query, the request bodies of
 * the package and recipe forms, and where a gate limit comes from. Unit-tested on their own.
 */
import { humanAge } from '../format';
import { __ } from '../i18n';
import type { components } from '../schema';
import { splitList } from './limits';

export type GateSettings = components['schemas']['GateSettings'] & {
  /** The built-in defaults, when the server reports them. */
  defaults?: Record<string, number>;
};

export interface IAuditFilters {
  user: string;
  action: string;
  resource: string;
  /** ``datetime-local`` input values (local time, no zone). */
  since: string;
  until: string;
}

export const PAGE_SIZE = 50;

/** The query string of GET admin/audit for these filters and this page. */
export function auditQuery(filters: IAuditFilters, offset: number, limit = PAGE_SIZE): string {
  const params = new URLSearchParams();
  if (filters.user.trim()) {
    params.set('user', filters.user.trim());
  }
  if (filters.action.trim()) {
    params.set('action', filters.action.trim());
  }
  if (filters.resource.trim()) {
    params.set('resource', filters.resource.trim());
  }
  for (const key of ['since', 'until'] as const) {
    if (filters[key]) {
      const when = new Date(filters[key]);
      if (!Number.isNaN(when.getTime())) {
        params.set(key, when.toISOString());
      }
    }
  }
  params.set('limit', String(limit));
  if (offset > 0) {
    params.set('offset', String(offset));
  }
  return params.toString();
}

export interface IPackageDraft {
  slug: string;
  title: string;
  description: string;
  lifecycle: string;
  category: string;
  owner_name: string;
  owner_team: string;
  cover_image_url: string;
  tags: string;
  long_description: string;
  when_to_use: string;
  when_not_to_use: string;
  example_questions: string;
  tables: string[];
}

/** The request body of a package draft (slug only when creating; empty optional texts → null). */
export function packageBody(d: IPackageDraft, creating: boolean): Record<string, unknown> {
  const orNull = (s: string): string | null => (s.trim() === '' ? null : s);
  const body: Record<string, unknown> = {
    title: d.title,
    description: d.description,
    lifecycle: d.lifecycle,
    category: orNull(d.category),
    owner_name: orNull(d.owner_name),
    owner_team: orNull(d.owner_team),
    cover_image_url: orNull(d.cover_image_url),
    tags: splitList(d.tags, 'comma'),
    long_description: d.long_description,
    when_to_use: splitList(d.when_to_use, 'line'),
    when_not_to_use: splitList(d.when_not_to_use, 'line'),
    example_questions: splitList(d.example_questions, 'line'),
    tables: d.tables
  };
  if (creating) {
    body.slug = d.slug;
  }
  return body;
}

export interface IParamDraft {
  name: string;
  type: string;
  default: string;
  description: string;
  choices: string;
}

export interface IRecipeDraft {
  slug: string;
  title: string;
  description: string;
  sql: string;
  parameters: IParamDraft[];
}

/** A typed value from its text: numbers for integer/number, true/false for boolean. */
export function typedValue(type: string, text: string): unknown {
  const t = text.trim();
  if (type === 'integer' || type === 'number') {
    return t !== '' && !Number.isNaN(Number(t)) ? Number(t) : t;
  }
  if (type === 'boolean') {
    return t === 'true' ? true : t === 'false' ? false : t;
  }
  return text;
}

export function recipeBody(d: IRecipeDraft, creating: boolean): Record<string, unknown> {
  const body: Record<string, unknown> = {
    title: d.title,
    description: d.description,
    sql: d.sql,
    parameters: d.parameters.map(p => {
      const out: Record<string, unknown> = { name: p.name, type: p.type };
      if (p.default.trim() !== '') {
        out.default = typedValue(p.type, p.default);
      }
      if (p.description.trim() !== '') {
        out.description = p.description;
      }
      const choices = splitList(p.choices, 'comma');
      if (choices.length > 0) {
        out.choices = choices.map(c => typedValue(p.type, c));
      }
      return out;
    })
  };
  if (creating) {
    body.slug = d.slug;
  }
  return body;
}

/** Where the value in force comes from: a stored override, the configuration, or the default. */
export function originOf(
  settings: GateSettings,
  key: string
): 'override' | 'configured' | 'default' {
  if (key in (settings.overrides ?? {})) {
    return 'override';
  }
  const configured = (settings.configured as Record<string, number>)[key];
  if (settings.defaults && settings.defaults[key] === configured) {
    return 'default';
  }
  return 'configured';
}

/** How long ago a time was, or how far ahead it is ("5 min ago", "in 89 d"). */
export function relativeTime(iso: string, now: Date = new Date()): string {
  const ahead = new Date(iso).getTime() - now.getTime();
  if (ahead > 60_000) {
    const mirrored = new Date(now.getTime() - ahead).toISOString();
    return __('in %1', humanAge(mirrored, now).replace(/ ago$/, ''));
  }
  return humanAge(iso, now);
}
