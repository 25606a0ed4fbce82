/**
 * The group × item access matrix as plain data: the grants in force, the edits pending, the
 * cycle a cell click steps through, and the batch (`POST admin/grants:batch`) the edits become.
 * No React and no requests here, so the logic is unit-tested on its own.
 */

export type ResourceType = 'table' | 'package' | 'recipe';
export type Requirement = 'available' | 'required';
/** A cell's level: no grant, available (the group may add it), required (auto-subscribed). */
export type Level = Requirement | null;

export interface IGrantLike {
  group: string;
  resource_type: ResourceType;
  resource_id: string;
  requirement: Requirement;
}

export interface IChange {
  group: string;
  resource_type: ResourceType;
  resource_id: string;
  requirement: Level;
}

export interface IItem {
  type: ResourceType;
  id: string;
  title: string;
}

/** One key per cell: group, item type and item id (none of them can contain a NUL). */
export function cellKey(group: string, type: ResourceType, id: string): string {
  return `${group}\u0000${type}\u0000${id}`;
}

export function itemKey(type: ResourceType, id: string): string {
  return `${type}\u0000${id}`;
}

export function splitKey(key: string): { group: string; type: ResourceType; id: string } {
  const [group, type, id] = key.split('\u0000');
  return { group, type: type as ResourceType, id };
}

/** The grants in force, by cell. */
export function grantsByCell(grants: ReadonlyArray<IGrantLike>): Map<string, Requirement> {
  const map = new Map<string, Requirement>();
  for (const g of grants) {
    const key = cellKey(g.group, g.resource_type, g.resource_id);
    // Two grants for one cell cannot both hold; "required" is the stronger one.
    if (map.get(key) !== 'required') {
      map.set(key, g.requirement);
    }
  }
  return map;
}

/** none → available → required → none. */
export function cycle(level: Level): Level {
  if (level === null) {
    return 'available';
  }
  return level === 'available' ? 'required' : null;
}

/** A cell's level as shown: the pending edit when there is one, else the grant in force. */
export function effective(
  current: ReadonlyMap<string, Requirement>,
  pending: ReadonlyMap<string, Level>,
  key: string
): Level {
  return pending.has(key) ? (pending.get(key) as Level) : (current.get(key) ?? null);
}

/**
 * Step one cell through the cycle. Returns a new pending map; an edit that brings the cell back
 * to the grant in force is dropped, so "pending" always means "differs from the server".
 */
export function toggle(
  current: ReadonlyMap<string, Requirement>,
  pending: ReadonlyMap<string, Level>,
  key: string
): Map<string, Level> {
  return setLevel(current, pending, key, cycle(effective(current, pending, key)));
}

/** Set one cell to a level (same rule as ``toggle``: no pending edit equal to the grant). */
export function setLevel(
  current: ReadonlyMap<string, Requirement>,
  pending: ReadonlyMap<string, Level>,
  key: string,
  level: Level
): Map<string, Level> {
  const next = new Map(pending);
  if ((current.get(key) ?? null) === level) {
    next.delete(key);
  } else {
    next.set(key, level);
  }
  return next;
}

/** The pending edits as the batch's ``changes``, in a stable order (group, type, id). */
export function changesOf(pending: ReadonlyMap<string, Level>): IChange[] {
  return [...pending.keys()].sort().map(key => {
    const { group, type, id } = splitKey(key);
    return {
      group,
      resource_type: type,
      resource_id: id,
      requirement: pending.get(key) as Level
    };
  });
}

export interface IBatchError {
  index: number;
  field?: string;
  message: string;
}

/** Per-item errors of a refused batch, by the cell of the change each one names. */
export function errorsByCell(
  changes: ReadonlyArray<IChange>,
  errors: ReadonlyArray<IBatchError>
): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of errors) {
    const change = changes[e.index];
    if (!change) {
      continue;
    }
    const key = cellKey(change.group, change.resource_type, change.resource_id);
    const text = map.has(key) ? `${map.get(key)}; ${e.message}` : e.message;
    map.set(key, text);
  }
  return map;
}

/** Items shown: of one type (or all) whose id or title contains the search, case-insensitive. */
export function filterItems(
  items: ReadonlyArray<IItem>,
  type: ResourceType | 'all',
  search: string,
  onlyKeys?: ReadonlySet<string>
): IItem[] {
  const needle = search.trim().toLowerCase();
  return items.filter(
    item =>
      (type === 'all' || item.type === type) &&
      (needle === '' ||
        item.id.toLowerCase().includes(needle) ||
        item.title.toLowerCase().includes(needle)) &&
      (!onlyKeys || onlyKeys.has(itemKey(item.type, item.id)))
  );
}

/** The items that have a pending edit in any group. */
export function pendingItems(pending: ReadonlyMap<string, Level>): Set<string> {
  const keys = new Set<string>();
  for (const key of pending.keys()) {
    const { type, id } = splitKey(key);
    keys.add(itemKey(type, id));
  }
  return keys;
}
