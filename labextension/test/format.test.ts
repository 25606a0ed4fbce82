import { describe, expect, it } from 'vitest';

import { humanAge, humanBytes, humanCount } from '../src/format';

describe('humanBytes', () => {
  it('says the size is unknown for null', () => {
    expect(humanBytes(null)).toBe('size unknown');
  });

  it('prints whole bytes below 1 KiB without a decimal', () => {
    expect(humanBytes(0)).toBe('0 B');
    expect(humanBytes(1)).toBe('1 B');
    expect(humanBytes(1023)).toBe('1023 B');
  });

  it('switches unit at exactly 1024 and prints one decimal', () => {
    expect(humanBytes(1024)).toBe('1.0 KiB');
    expect(humanBytes(1536)).toBe('1.5 KiB');
    expect(humanBytes(1024 ** 2)).toBe('1.0 MiB');
    expect(humanBytes(5.25 * 1024 ** 3)).toBe('5.3 GiB');
    expect(humanBytes(2 * 1024 ** 4)).toBe('2.0 TiB');
  });

  it('stays in TiB past the largest unit instead of running off the table', () => {
    expect(humanBytes(1024 ** 5)).toBe('1024.0 TiB');
    expect(humanBytes(3 * 1024 ** 6)).toBe('3145728.0 TiB');
  });

  // Known bug, reported: 1 MiB - 1 B rounds to "1024.0 KiB" instead of "1.0 MiB". Drop `.fails`
  // when format.ts rounds before choosing the unit.
  it('never prints 1024.0 of a unit below the largest', () => {
    expect(humanBytes(1024 ** 2 - 1)).toBe('1.0 MiB');
  });
});

describe('humanCount', () => {
  it('says the row count is unknown for null', () => {
    expect(humanCount(null)).toBe('rows unknown');
  });

  it('counts zero rows', () => {
    expect(humanCount(0)).toBe('0 rows');
  });

  it('groups thousands the en-US way whatever the locale', () => {
    expect(humanCount(999)).toBe('999 rows');
    expect(humanCount(1000)).toBe('1,000 rows');
    expect(humanCount(1234567890)).toBe('1,234,567,890 rows');
  });

  // Known bug, reported: one row reads "1 rows". Drop `.fails` when format.ts says "1 row".
  it('uses the singular for one row', () => {
    expect(humanCount(1)).toBe('1 row');
  });
});

describe('humanAge', () => {
  const now = new Date('2026-12-01T12:00:00Z');
  const ago = (seconds: number): string => new Date(now.getTime() - seconds * 1000).toISOString();

  it('says never for null and for the empty string', () => {
    expect(humanAge(null, now)).toBe('never');
    expect(humanAge('', now)).toBe('never');
  });

  it('says just now under a minute, and for times slightly in the future (clock skew)', () => {
    expect(humanAge(ago(0), now)).toBe('just now');
    expect(humanAge(ago(59.9), now)).toBe('just now');
    expect(humanAge(ago(-30), now)).toBe('just now');
  });

  it('counts whole minutes from 60 s to just under an hour', () => {
    expect(humanAge(ago(60), now)).toBe('1 min ago');
    expect(humanAge(ago(119), now)).toBe('1 min ago');
    expect(humanAge(ago(3599), now)).toBe('59 min ago');
  });

  it('counts whole hours from one hour to just under a day', () => {
    expect(humanAge(ago(3600), now)).toBe('1 h ago');
    expect(humanAge(ago(86399), now)).toBe('23 h ago');
  });

  it('counts whole days from one day to just under 30 days', () => {
    expect(humanAge(ago(86400), now)).toBe('1 d ago');
    expect(humanAge(ago(29 * 86400 + 86399), now)).toBe('29 d ago');
  });

  it('counts 30-day months from 30 days on', () => {
    expect(humanAge(ago(30 * 86400), now)).toBe('1 mo ago');
    expect(humanAge(ago(365 * 86400), now)).toBe('12 mo ago');
  });

  it('reads the timezone of the ISO string', () => {
    expect(humanAge('2026-12-01T13:00:00+02:00', now)).toBe('1 h ago');
  });

  it('uses the current time when no clock is given', () => {
    expect(humanAge(new Date(Date.now() - 2 * 3600 * 1000).toISOString())).toBe('2 h ago');
  });

  // Known bug, reported: an unparseable timestamp prints "NaN mo ago". Drop `.fails` when
  // format.ts handles an invalid date.
  it('does not print NaN for an unparseable timestamp', () => {
    expect(humanAge('not a date', now)).not.toContain('NaN');
  });
});
