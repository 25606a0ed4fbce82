/** Human-readable sizes, counts and ages for the panel and the table views. */

export function humanBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) {
    return 'size unknown';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  // Move up a unit also when one decimal would round to 1024.0 (1 MiB - 1 B is "1.0 MiB").
  while (unit < units.length - 1 && (value >= 1024 || (unit > 0 && value >= 1023.95))) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function humanCount(n: number | null | undefined): string {
  if (n === null || n === undefined) {
    return 'rows unknown';
  }
  return `${n.toLocaleString('en-US')} ${n === 1 ? 'row' : 'rows'}`;
}

export function humanAge(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) {
    return 'never';
  }
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) {
    return 'at an unknown time';
  }
  const seconds = (now.getTime() - then) / 1000;
  if (seconds < 60) {
    return 'just now';
  }
  const steps: [number, string][] = [
    [3600, 'min'],
    [86400, 'h'],
    [86400 * 30, 'd']
  ];
  const divisors: Record<string, number> = { min: 60, h: 3600, d: 86400 };
  for (const [limit, unit] of steps) {
    if (seconds < limit) {
      return `${Math.floor(seconds / divisors[unit])} ${unit} ago`;
    }
  }
  return `${Math.floor(seconds / (86400 * 30))} mo ago`;
}
