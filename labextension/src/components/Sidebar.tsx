/** The Agnes left panel: budget, sections (catalog, packages and My Stack, recipes, snapshots). */
import { CommandRegistry } from '@lumino/commands';
import { refreshIcon, settingsIcon, ToolbarButtonComponent } from '@jupyterlab/ui-components';
import * as React from 'react';

import { humanBytes } from '../format';
import { __ } from '../i18n';
import { Section, SidebarModel } from '../model';
import { Bar } from './bits';
import { CatalogExplorer } from './CatalogExplorer';
import { PackagesSection } from './PackagesSection';
import { Problem } from './Problem';
import { CellInserter, RecipesSection } from './RecipesSection';
import { SnapshotsSection } from './SnapshotsSection';

const SECTIONS: Array<[Section, () => string]> = [
  ['catalog', () => __('Catalog')],
  ['packages', () => __('Packages')],
  ['recipes', () => __('Recipes')],
  ['snapshots', () => __('Snapshots')]
];

export function Budget(props: { model: SidebarModel }): JSX.Element | null {
  const usage = props.model.me?.usage;
  if (!usage) {
    return null;
  }
  const used = usage.scanned_bytes;
  const max = usage.daily_scan_bytes_per_user;
  const tone = used > max * 0.9 ? 'error' : used > max * 0.6 ? 'warn' : 'success';
  return (
    <div
      className="jp-agnes-budget"
      title={__('Bytes your gated scans read today (UTC) against your daily budget')}
    >
      <span>{__('Scanned today: %1 of %2', humanBytes(used), humanBytes(max))}</span>
      <Bar value={used} max={max} tone={tone} />
    </div>
  );
}

export function Sidebar(props: {
  model: SidebarModel;
  commands: CommandRegistry;
  insert: CellInserter;
}): JSX.Element {
  const { model } = props;
  const blocking = model.status === 'missing' || model.status === 'mismatch';
  return (
    <div className="jp-agnes-sidebar">
      <div className="jp-agnes-header">
        <h2 className="jp-agnes-title">Agnes</h2>
        {model.me?.is_admin && (
          <ToolbarButtonComponent
            icon={settingsIcon}
            label={__('Admin')}
            onClick={() => void props.commands.execute('agnes:open-admin')}
            tooltip={__('Open the Agnes admin console')}
            className="jp-agnes-open-admin"
          />
        )}
        <ToolbarButtonComponent
          icon={refreshIcon}
          onClick={() => void model.refresh()}
          tooltip={__('Refresh')}
          className="jp-agnes-refresh"
          enabled={model.status !== 'loading'}
        />
      </div>
      <Budget model={model} />
      <div className="jp-agnes-tabs" role="tablist">
        {SECTIONS.map(([id, label]) => (
          <button
            key={id}
            role="tab"
            aria-selected={model.section === id}
            className={`jp-agnes-tab${model.section === id ? ' jp-mod-current' : ''}`}
            data-section={id}
            onClick={() => (model.section = id)}
          >
            {label()}
          </button>
        ))}
      </div>
      {model.status === 'loading' && model.tables.length === 0 && (
        <div className="jp-agnes-status">{__('Loading the catalog…')}</div>
      )}
      <Problem
        problem={model.problem}
        kind={blocking ? 'error' : 'warn'}
        className={`jp-agnes-problem-${model.status}`}
      />
      {!blocking && (
        <div className="jp-agnes-section-body" role="tabpanel">
          {model.section === 'catalog' && (
            <CatalogExplorer model={model} commands={props.commands} />
          )}
          {model.section === 'packages' && <PackagesSection model={model} />}
          {model.section === 'recipes' && <RecipesSection model={model} insert={props.insert} />}
          {model.section === 'snapshots' && <SnapshotsSection model={model} />}
        </div>
      )}
    </div>
  );
}
