/** Human-readable sizes, counts and ages for the sidebar. */

export function humanBytes(n: number | null): string {
  if (n === null) {
    return 'size unknown';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function humanCount(n: number | null): string {
  return n === null ? 'rows unknown' : `${n.toLocaleString('en-US')} rows`;
}

export function humanAge(iso: string | null, now: Date = new Date()): string {
  if (!iso) {
    return 'never';
  }
  const seconds = (now.getTime() - new Date(iso).getTime()) / 1000;
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
