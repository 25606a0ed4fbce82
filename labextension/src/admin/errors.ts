/**
 * Which form field an API error names (``details.field``), so the server's message is shown
 * next to that field. Pure functions; no DOM.
 */
import { AgnesApiError } from '../api';
import { describe, type IProblem } from '../model';

/** The details of an API error (its envelope's ``details``), or an empty object. */
export function errorDetails(reason: unknown): Record<string, unknown> {
  if (reason instanceof AgnesApiError) {
    const details = reason.envelope.details as Record<string, unknown> | undefined;
    return details ?? {};
  }
  return {};
}

/** The field an error names (``details.field``), or null. */
export function errorField(reason: unknown): string | null {
  const field = errorDetails(reason).field;
  return typeof field === 'string' ? field : null;
}

/**
 * The error, when it names this field (``tags``, ``tags[3]``, ``limits.scan_max_bytes`` and
 * ``parameters[0].name`` all name their first part), else null.
 */
export function problemFor(reason: unknown, field: string): IProblem | null {
  const named = errorField(reason);
  if (named === null) {
    return null;
  }
  const matches =
    named === field ||
    named.startsWith(`${field}.`) ||
    named.startsWith(`${field}[`) ||
    field.startsWith(`${named}.`);
  return matches ? describe(reason) : null;
}

/** The error, when it names none of the form's fields (shown at the top of the form). */
export function problemOutside(reason: unknown, fields: ReadonlyArray<string>): IProblem | null {
  if (!reason) {
    return null;
  }
  return fields.some(f => problemFor(reason, f) !== null) ? null : describe(reason);
}
