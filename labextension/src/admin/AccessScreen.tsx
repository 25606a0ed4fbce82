/**
 * Admin console: groups and their members, and the group × item access matrix (tables,
 * packages, recipes). Cell edits stay pending until reviewed (a dry run of
 * POST admin/grants:batch) and applied as one batch: all or nothing, per-item errors on the
 * cells they name.
 */
import * as React from 'react';

import { requestAPI } from '../api';
import type { Package, Recipe } from '../apitypes';
import { Badge } from '../components/bits';
import { Problem } from '../components/Problem';
import { VirtualList } from '../components/VirtualList';
import { __, _n } from '../i18n';
import { describe, type IProblem } from '../model';
import type { components } from '../schema';
import {
  confirmAction,
  errorDetails,
  Field,
  Notice,
  problemFor,
  problemOutside,
  ScreenHeader,
  useLimits,
  useLoad
} from './common';
import {
  cellKey,
  changesOf,
  effective,
  errorsByCell,
  filterItems,
  grantsByCell,
  type IBatchError,
  type IChange,
  type IGrantLike,
  type IItem,
  type Level,
  pendingItems,
  type ResourceType,
  toggle
} from './matrix';
import type { IScreenProps } from './screen';

type Group = components['schemas']['Group'];
type User = components['schemas']['User'];

interface IBatchResult {
  dry_run: boolean;
  applied: boolean;
  changes: Array<{
    group: string;
    resource_type: ResourceType;
    resource_id: string;
    before: Level;
    after: Level;
    action: 'create' | 'update' | 'delete' | 'none';
  }>;
}

const ROW_HEIGHT = 34;
const TYPE_LABEL: Record<ResourceType, string> = {
  table: 'table',
  package: 'package',
  recipe: 'recipe'
};

function levelText(level: Level): string {
  return level === null ? __('none') : level === 'available' ? __('available') : __('required');
}

// ---------------------------------------------------------------------------------------------
// Groups and members

function GroupsPanel(props: {
  groups: Group[];
  users: User[];
  selected: string | null;
  onSelect: (name: string | null) => void;
  onChanged: () => void;
  onUsersChanged: () => void;
}): JSX.Element {
  const groupLimits = useLimits('GroupInput');
  const userLimits = useLimits('UserInput');
  const [name, setName] = React.useState('');
  const [description, setDescription] = React.useState('');
  const [groupError, setGroupError] = React.useState<unknown>(null);
  const [memberError, setMemberError] = React.useState<IProblem | null>(null);
  const [member, setMember] = React.useState('');
  const [newUser, setNewUser] = React.useState('');
  const [newUserName, setNewUserName] = React.useState('');
  const [userError, setUserError] = React.useState<unknown>(null);
  const group = props.groups.find(g => g.name === props.selected) ?? null;

  const createGroup = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setGroupError(null);
    try {
      const created = await requestAPI<Group>('admin/groups', {
        method: 'POST',
        body: JSON.stringify({ name, description: description || null })
      });
      setName('');
      setDescription('');
      props.onChanged();
      props.onSelect(created.name);
    } catch (reason) {
      setGroupError(reason);
    }
  };

  const deleteGroup = async (g: Group): Promise<void> => {
    const ok = await confirmAction(
      __('Delete group?'),
      __(
        'Delete the group "%1"? Its %2 memberships and all its grants go with it; members lose what only this group gave them.',
        g.name,
        g.members.length
      ),
      __('Delete group')
    );
    if (!ok) {
      return;
    }
    try {
      await requestAPI<void>(`admin/groups/${encodeURIComponent(g.name)}`, { method: 'DELETE' });
      props.onSelect(null);
      props.onChanged();
    } catch (reason) {
      setMemberError(describe(reason));
    }
  };

  const addMember = async (): Promise<void> => {
    if (!group || !member) {
      return;
    }
    setMemberError(null);
    try {
      await requestAPI<Group>(`admin/groups/${encodeURIComponent(group.name)}/members`, {
        method: 'POST',
        body: JSON.stringify({ username: member })
      });
      setMember('');
      props.onChanged();
    } catch (reason) {
      setMemberError(describe(reason));
    }
  };

  const removeMember = async (username: string): Promise<void> => {
    if (!group) {
      return;
    }
    const ok = await confirmAction(
      __('Remove member?'),
      __('Remove %1 from "%2"?', username, group.name),
      __('Remove')
    );
    if (!ok) {
      return;
    }
    try {
      await requestAPI<void>(
        `admin/groups/${encodeURIComponent(group.name)}/members/${encodeURIComponent(username)}`,
        { method: 'DELETE' }
      );
      props.onChanged();
    } catch (reason) {
      setMemberError(describe(reason));
    }
  };

  const createUser = async (event: React.FormEvent): Promise<void> => {
    event.preventDefault();
    setUserError(null);
    try {
      await requestAPI<User>('admin/users', {
        method: 'POST',
        body: JSON.stringify({ username: newUser, display_name: newUserName || null })
      });
      setMember(newUser);
      setNewUser('');
      setNewUserName('');
      props.onUsersChanged();
    } catch (reason) {
      setUserError(reason);
    }
  };

  const candidates = props.users.filter(
    u => u.is_active && !(group?.members ?? []).includes(u.username)
  );
  return (
    <aside className="jp-agnes-admin-groups">
      <h3 className="jp-agnes-admin-subtitle">{__('Groups')}</h3>
      <ul className="jp-agnes-admin-group-list" role="listbox" aria-label={__('Groups')}>
        {props.groups.map(g => (
          <li
            key={g.name}
            role="option"
            aria-selected={g.name === props.selected}
            data-group={g.name}
            className={`jp-agnes-admin-group-item${g.name === props.selected ? ' jp-mod-selected' : ''}`}
            onClick={() => props.onSelect(g.name === props.selected ? null : g.name)}
          >
            <span className="jp-agnes-admin-group-name">{g.name}</span>
            <span className="jp-agnes-admin-muted">
              {g.implicit_members
                ? __('everyone')
                : _n('%1 member', '%1 members', g.members.length, g.members.length)}
            </span>
          </li>
        ))}
      </ul>
      {group && (
        <div className="jp-agnes-admin-members" data-group={group.name}>
          <div className="jp-agnes-admin-members-head">
            <strong>{group.name}</strong>
            {!group.implicit_members && (
              <button
                className="jp-Button jp-mod-styled jp-mod-warn jp-agnes-admin-delete-group"
                onClick={() => void deleteGroup(group)}
              >
                {__('Delete group')}
              </button>
            )}
          </div>
          {group.description && <p className="jp-agnes-admin-muted">{group.description}</p>}
          {group.implicit_members ? (
            <p className="jp-agnes-admin-muted">{__('Every user is a member of this group.')}</p>
          ) : (
            <>
              <ul className="jp-agnes-admin-member-list">
                {group.members.map(m => (
                  <li key={m} data-member={m}>
                    <span>{m}</span>
                    <button
                      className="jp-agnes-admin-iconbtn jp-agnes-admin-remove-member"
                      aria-label={__('Remove %1', m)}
                      title={__('Remove %1', m)}
                      onClick={() => void removeMember(m)}
                    >
                      ×
                    </button>
                  </li>
                ))}
                {group.members.length === 0 && (
                  <li className="jp-agnes-admin-muted">{__('No members yet.')}</li>
                )}
              </ul>
              <div className="jp-agnes-admin-add-member">
                <select
                  className="jp-mod-styled jp-agnes-admin-member-select"
                  value={member}
                  onChange={e => setMember(e.target.value)}
                  aria-label={__('User to add')}
                >
                  <option value="">{__('Add a user…')}</option>
                  {candidates.map(u => (
                    <option key={u.username} value={u.username}>
                      {u.username}
                    </option>
                  ))}
                </select>
                <button
                  className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-add-member-btn"
                  disabled={!member}
                  onClick={() => void addMember()}
                >
                  {__('Add')}
                </button>
              </div>
            </>
          )}
          <Problem problem={memberError} />
        </div>
      )}
      <form
        className="jp-agnes-admin-box jp-agnes-admin-new-group"
        onSubmit={e => void createGroup(e)}
      >
        <h4 className="jp-agnes-admin-minor">{__('New group')}</h4>
        <Field
          label={__('Name')}
          name="name"
          limit={groupLimits.name}
          help={__('letters, digits, - and _')}
          error={problemFor(groupError, 'name')}
        >
          <input
            className="jp-mod-styled jp-agnes-admin-group-name-input"
            value={name}
            onChange={e => setName(e.target.value)}
          />
        </Field>
        <Field
          label={__('Description')}
          name="description"
          limit={groupLimits.description}
          error={problemFor(groupError, 'description')}
        >
          <input
            className="jp-mod-styled"
            value={description}
            onChange={e => setDescription(e.target.value)}
          />
        </Field>
        <Problem problem={problemOutside(groupError, ['name', 'description'])} />
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept"
          disabled={!name.trim()}
        >
          {__('Create group')}
        </button>
      </form>
      <form
        className="jp-agnes-admin-box jp-agnes-admin-new-user"
        onSubmit={e => void createUser(e)}
      >
        <h4 className="jp-agnes-admin-minor">{__('New user')}</h4>
        <Field
          label={__('Username')}
          name="username"
          limit={userLimits.username}
          error={problemFor(userError, 'username')}
        >
          <input
            className="jp-mod-styled"
            value={newUser}
            onChange={e => setNewUser(e.target.value)}
          />
        </Field>
        <Field
          label={__('Display name')}
          name="display_name"
          limit={userLimits.display_name}
          error={problemFor(userError, 'display_name')}
        >
          <input
            className="jp-mod-styled"
            value={newUserName}
            onChange={e => setNewUserName(e.target.value)}
          />
        </Field>
        <Problem problem={problemOutside(userError, ['username', 'display_name'])} />
        <button
          type="submit"
          className="jp-Button jp-mod-styled jp-mod-accept"
          disabled={!newUser.trim()}
        >
          {__('Add user')}
        </button>
      </form>
    </aside>
  );
}

// ---------------------------------------------------------------------------------------------
// The matrix

function Cell(props: {
  level: Level;
  was: Level;
  pending: boolean;
  error: string | undefined;
  group: string;
  item: IItem;
  onClick: () => void;
}): JSX.Element {
  const { level, pending, error } = props;
  const name = level ?? 'none';
  const title = [
    `${props.group} × ${props.item.type} ${props.item.id}: ${levelText(level)}`,
    pending ? __('pending (was %1)', levelText(props.was)) : '',
    error ?? '',
    __('Click: none → available → required → none')
  ]
    .filter(Boolean)
    .join('\n');
  return (
    <button
      type="button"
      className={
        `jp-agnes-admin-cell jp-agnes-admin-cell-${name}` +
        (pending ? ' jp-agnes-admin-cell-pending' : '') +
        (error ? ' jp-agnes-admin-cell-error' : '')
      }
      data-group={props.group}
      data-level={name}
      data-pending={pending ? 'true' : undefined}
      title={title}
      aria-label={title}
      onClick={props.onClick}
    >
      <span className="jp-agnes-admin-cell-mark" aria-hidden="true">
        {level === 'required' ? '●' : level === 'available' ? '○' : '·'}
      </span>
      <span className="jp-agnes-admin-cell-text">{level === null ? '' : levelText(level)}</span>
    </button>
  );
}

function Legend(): JSX.Element {
  return (
    <div className="jp-agnes-admin-legend">
      <span>
        <span className="jp-agnes-admin-cell jp-agnes-admin-cell-none jp-agnes-admin-legend-swatch">
          ·
        </span>
        {__('none: the group cannot see it')}
      </span>
      <span>
        <span className="jp-agnes-admin-cell jp-agnes-admin-cell-available jp-agnes-admin-legend-swatch">
          ○
        </span>
        {__('available: members may add it to My Stack')}
      </span>
      <span>
        <span className="jp-agnes-admin-cell jp-agnes-admin-cell-required jp-agnes-admin-legend-swatch">
          ●
        </span>
        {__('required: members are subscribed automatically')}
      </span>
      <span>
        <span className="jp-agnes-admin-cell jp-agnes-admin-cell-available jp-agnes-admin-cell-pending jp-agnes-admin-legend-swatch">
          ○
        </span>
        {__('pending: not applied yet')}
      </span>
    </div>
  );
}

function Preview(props: {
  result: IBatchResult;
  busy: boolean;
  onApply: () => void;
  onCancel: () => void;
}): JSX.Element {
  const changes = props.result.changes.filter(c => c.action !== 'none');
  const byGroup = new Map<string, IBatchResult['changes']>();
  for (const c of changes) {
    byGroup.set(c.group, [...(byGroup.get(c.group) ?? []), c]);
  }
  const count = (action: string) => changes.filter(c => c.action === action).length;
  return (
    <div className="jp-agnes-admin-preview" role="region" aria-label={__('Review changes')}>
      <div className="jp-agnes-admin-preview-head">
        <strong>{__('Review changes')}</strong>
        <span className="jp-agnes-admin-muted">
          {__(
            '%1 to create, %2 to change, %3 to remove',
            count('create'),
            count('update'),
            count('delete')
          )}
        </span>
      </div>
      {[...byGroup.entries()].map(([group, list]) => (
        <div key={group} className="jp-agnes-admin-preview-group" data-group={group}>
          <div className="jp-agnes-admin-preview-group-name">{group}</div>
          <ul>
            {list.map(c => (
              <li
                key={`${c.resource_type}/${c.resource_id}`}
                className="jp-agnes-admin-preview-change"
                data-action={c.action}
                data-item={`${c.resource_type}/${c.resource_id}`}
              >
                <Badge
                  text={c.action}
                  tone={
                    c.action === 'create' ? 'success' : c.action === 'delete' ? 'error' : 'warn'
                  }
                />
                <span className="jp-agnes-admin-muted">{TYPE_LABEL[c.resource_type]}</span>{' '}
                <code>{c.resource_id}</code>: {levelText(c.before)} → {levelText(c.after)}
              </li>
            ))}
          </ul>
        </div>
      ))}
      {changes.length === 0 && (
        <p className="jp-agnes-admin-muted">{__('Nothing would change.')}</p>
      )}
      <div className="jp-agnes-admin-form-actions">
        <button
          className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-apply"
          disabled={props.busy || changes.length === 0}
          onClick={props.onApply}
        >
          {_n('Apply %1 change', 'Apply %1 changes', changes.length, changes.length)}
        </button>
        <button className="jp-Button jp-mod-styled jp-mod-reject" onClick={props.onCancel}>
          {__('Back to editing')}
        </button>
      </div>
    </div>
  );
}

/** The per-item errors of a refused batch (``details.errors``, or one ``details.index``). */
function batchErrors(reason: unknown): IBatchError[] {
  const details = errorDetails(reason);
  if (Array.isArray(details.errors)) {
    return (details.errors as IBatchError[]).filter(e => typeof e.index === 'number');
  }
  if (typeof details.index === 'number') {
    return [
      {
        index: details.index,
        field: details.field as string | undefined,
        message: (reason as Error).message
      }
    ];
  }
  return [];
}

export function AccessScreen(props: IScreenProps): JSX.Element {
  const [tick, setTick] = React.useState(0);
  const [usersTick, setUsersTick] = React.useState(0);
  const groups = useLoad(
    () => requestAPI<{ groups: Group[] }>('admin/groups').then(r => r.groups),
    [props.generation, tick]
  );
  const users = useLoad(
    () => requestAPI<{ users: User[] }>('admin/users').then(r => r.users),
    [props.generation, usersTick]
  );
  const grants = useLoad(
    () => requestAPI<{ grants: IGrantLike[] }>('admin/grants').then(r => r.grants),
    [props.generation, tick]
  );
  const items = useLoad(async () => {
    const [t, p, r] = await Promise.all([
      requestAPI<{ tables: Array<{ id: string; name?: string }> }>('admin/tables'),
      requestAPI<{ packages: Package[] }>('admin/packages'),
      requestAPI<{ recipes: Recipe[] }>('admin/recipes')
    ]);
    const out: IItem[] = [
      ...p.packages.map(x => ({ type: 'package' as const, id: x.slug, title: x.title })),
      ...r.recipes.map(x => ({ type: 'recipe' as const, id: x.slug, title: x.title })),
      ...t.tables.map(x => ({ type: 'table' as const, id: x.id, title: x.name ?? x.id }))
    ];
    return out;
  }, [props.generation]);

  const [selected, setSelected] = React.useState<string | null>(null);
  const [pending, setPending] = React.useState<Map<string, Level>>(new Map());
  const [type, setType] = React.useState<ResourceType | 'all'>('all');
  const [search, setSearch] = React.useState('');
  const [onlyPending, setOnlyPending] = React.useState(false);
  const [preview, setPreview] = React.useState<{ changes: IChange[]; result: IBatchResult } | null>(
    null
  );
  const [cellErrors, setCellErrors] = React.useState<Map<string, string>>(new Map());
  const [failed, setFailed] = React.useState<{
    problem: IProblem;
    errors: IBatchError[];
    changes: IChange[];
  } | null>(null);
  const [busy, setBusy] = React.useState(false);
  const [notice, setNotice] = React.useState<string | null>(null);

  const current = React.useMemo(() => grantsByCell(grants.value ?? []), [grants.value]);
  const groupNames = (groups.value ?? []).map(g => g.name);
  // A group deleted elsewhere keeps its column while it has pending edits, so their errors show.
  const pendingGroups = [...new Set([...pending.keys()].map(k => k.split('\u0000')[0]))];
  const columns = [...groupNames, ...pendingGroups.filter(g => !groupNames.includes(g))];
  const shownItems = React.useMemo(
    () =>
      filterItems(items.value ?? [], type, search, onlyPending ? pendingItems(pending) : undefined),
    [items.value, type, search, onlyPending, pending]
  );

  const click = (group: string, item: IItem): void => {
    const key = cellKey(group, item.type, item.id);
    setPending(p => toggle(current, p, key));
    setPreview(null);
    if (cellErrors.has(key)) {
      const next = new Map(cellErrors);
      next.delete(key);
      setCellErrors(next);
    }
  };

  const send = async (dryRun: boolean): Promise<void> => {
    const changes = dryRun ? changesOf(pending) : (preview?.changes ?? changesOf(pending));
    setBusy(true);
    setFailed(null);
    try {
      const result = await requestAPI<IBatchResult>('admin/grants:batch', {
        method: 'POST',
        body: JSON.stringify({ changes, dry_run: dryRun })
      });
      setCellErrors(new Map());
      if (dryRun) {
        setPreview({ changes, result });
      } else {
        const n = result.changes.filter(c => c.action !== 'none').length;
        setPreview(null);
        setPending(new Map());
        setNotice(_n('Applied %1 change.', 'Applied %1 changes.', n, n));
        setTick(t => t + 1);
        props.onChanged('access');
      }
    } catch (reason) {
      const errors = batchErrors(reason);
      setPreview(null);
      setCellErrors(errorsByCell(changes, errors));
      setFailed({ problem: describe(reason), errors, changes });
      // The registry may have moved under the edits (a group deleted meanwhile): show it as it is.
      setTick(t => t + 1);
    } finally {
      setBusy(false);
    }
  };

  const gridWidth = 300 + columns.length * 104;
  const problem = groups.problem ?? grants.problem ?? items.problem ?? users.problem;
  return (
    <div className="jp-agnes-admin-screen jp-agnes-admin-access">
      <ScreenHeader
        title={__('Access')}
        description={__(
          'Who may read what: groups, their members, and each group’s grants on tables, packages and recipes. A package grant grants its tables.'
        )}
      />
      <Problem problem={problem} />
      <div className="jp-agnes-admin-access-body">
        <GroupsPanel
          groups={groups.value ?? []}
          users={users.value ?? []}
          selected={selected}
          onSelect={setSelected}
          onChanged={() => {
            setTick(t => t + 1);
            props.onChanged('access');
          }}
          onUsersChanged={() => setUsersTick(t => t + 1)}
        />
        <section className="jp-agnes-admin-matrix-wrap">
          <div className="jp-agnes-admin-toolbar">
            <select
              className="jp-mod-styled jp-agnes-admin-matrix-type"
              value={type}
              aria-label={__('Item type')}
              onChange={e => setType(e.target.value as ResourceType | 'all')}
            >
              <option value="all">{__('All items')}</option>
              <option value="table">{__('Tables')}</option>
              <option value="package">{__('Packages')}</option>
              <option value="recipe">{__('Recipes')}</option>
            </select>
            <input
              className="jp-mod-styled jp-agnes-admin-search jp-agnes-admin-matrix-search"
              placeholder={__('Search id or title')}
              value={search}
              onChange={e => setSearch(e.target.value)}
            />
            <label className="jp-agnes-admin-check">
              <input
                type="checkbox"
                checked={onlyPending}
                onChange={e => setOnlyPending(e.target.checked)}
              />
              {__('Only pending')}
            </label>
            <span className="jp-agnes-admin-count jp-agnes-admin-matrix-count">
              {__('%1 of %2 items', shownItems.length, items.value?.length ?? 0)}
            </span>
          </div>
          <div className="jp-agnes-admin-toolbar jp-agnes-admin-matrix-actions">
            <Legend />
            <span className="jp-agnes-admin-spacer" />
            <span className="jp-agnes-admin-pending-count" data-pending={pending.size}>
              {_n('%1 pending change', '%1 pending changes', pending.size, pending.size)}
            </span>
            <button
              className="jp-Button jp-mod-styled jp-mod-reject jp-agnes-admin-discard"
              disabled={pending.size === 0 || busy}
              onClick={() => {
                setPending(new Map());
                setPreview(null);
                setCellErrors(new Map());
                setFailed(null);
              }}
            >
              {__('Discard')}
            </button>
            <button
              className="jp-Button jp-mod-styled jp-mod-accept jp-agnes-admin-review"
              disabled={pending.size === 0 || busy}
              onClick={() => void send(true)}
            >
              {__('Review changes')}
            </button>
          </div>
          {notice && <Notice text={notice} tone="success" onClose={() => setNotice(null)} />}
          {failed && (
            <div className="jp-agnes-admin-batch-failed">
              <Problem problem={failed.problem} />
              {failed.errors.length > 0 && (
                <ul className="jp-agnes-admin-batch-errors">
                  {failed.errors.map(e => {
                    const c = failed.changes[e.index];
                    return (
                      <li key={`${e.index}-${e.field ?? ''}`} data-index={e.index}>
                        {c ? (
                          <>
                            <strong>{c.group}</strong> × {TYPE_LABEL[c.resource_type]}{' '}
                            <code>{c.resource_id}</code>
                            {e.field ? ` (${e.field})` : ''}:{' '}
                          </>
                        ) : null}
                        {e.message}
                      </li>
                    );
                  })}
                </ul>
              )}
              <p className="jp-agnes-admin-muted">
                {__('Nothing was applied. Fix or discard the marked cells, then review again.')}
              </p>
            </div>
          )}
          {preview && (
            <Preview
              result={preview.result}
              busy={busy}
              onApply={() => void send(false)}
              onCancel={() => setPreview(null)}
            />
          )}
          <div
            className="jp-agnes-admin-matrix"
            style={{
              ['--jp-agnes-admin-matrix-height' as string]: `${Math.max(1, shownItems.length) * ROW_HEIGHT + 2}px`
            }}
          >
            <div className="jp-agnes-admin-matrix-inner" style={{ width: gridWidth }}>
              <div className="jp-agnes-admin-matrix-head">
                <div className="jp-agnes-admin-matrix-item">{__('Item')}</div>
                {columns.map(g => (
                  <div
                    key={g}
                    className={`jp-agnes-admin-matrix-col${groupNames.includes(g) ? '' : ' jp-agnes-admin-matrix-col-gone'}`}
                    title={groupNames.includes(g) ? g : __('%1 (no longer exists)', g)}
                    data-group={g}
                  >
                    {g}
                  </div>
                ))}
              </div>
              <VirtualList
                items={shownItems}
                rowHeight={ROW_HEIGHT}
                activeIndex={-1}
                className="jp-agnes-admin-matrix-body"
                label={__('Access matrix')}
                renderRow={item => {
                  const rowError = columns.some(g =>
                    cellErrors.has(cellKey(g, item.type, item.id))
                  );
                  return (
                    <div
                      className={`jp-agnes-admin-matrix-row${rowError ? ' jp-agnes-admin-row-invalid' : ''}`}
                      data-item={`${item.type}/${item.id}`}
                    >
                      <div className="jp-agnes-admin-matrix-item" title={`${item.type} ${item.id}`}>
                        <span className={`jp-agnes-admin-type jp-agnes-admin-type-${item.type}`}>
                          {TYPE_LABEL[item.type]}
                        </span>
                        <span className="jp-agnes-admin-matrix-id">{item.id}</span>
                        {item.title !== item.id && (
                          <span className="jp-agnes-admin-matrix-title">{item.title}</span>
                        )}
                      </div>
                      {columns.map(g => {
                        const key = cellKey(g, item.type, item.id);
                        return (
                          <Cell
                            key={g}
                            group={g}
                            item={item}
                            level={effective(current, pending, key)}
                            was={current.get(key) ?? null}
                            pending={pending.has(key)}
                            error={cellErrors.get(key)}
                            onClick={() => click(g, item)}
                          />
                        );
                      })}
                    </div>
                  );
                }}
              />
              {!items.loading && shownItems.length === 0 && (
                <div className="jp-agnes-admin-empty">{__('No items match.')}</div>
              )}
            </div>
          </div>
        </section>
      </div>
    </div>
  );
}
