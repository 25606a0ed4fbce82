/** Packages as cards, their detail, My Stack (required items explained), and Sync now. */
import * as React from 'react';

import type { Package, SyncReport, WorkspaceJob } from '../apitypes';
import { humanBytes } from '../format';
import { __, _n } from '../i18n';
import { IProblem, SidebarModel } from '../model';
import { Badge, Progress } from './bits';
import { Problem } from './Problem';

function SyncReportView(props: { job: WorkspaceJob }): JSX.Element | null {
  const result = props.job.result as SyncReport | null;
  if (!result || !('summary' in result)) {
    return null;
  }
  const groups: Array<[string, string[]]> = [
    [__('downloaded'), result.downloaded],
    [__('unchanged'), result.unchanged],
    [__('removed'), result.removed],
    [__('remote (stay in the source)'), result.skipped_remote],
    [__('not extracted yet'), result.pending]
  ];
  return (
    <div className="jp-agnes-sync-report" data-status={props.job.status}>
      <div className="jp-agnes-sync-summary">{result.summary}</div>
      <ul>
        {groups.map(([label, ids]) =>
          ids.length ? (
            <li key={label}>
              <b>{label}</b>: {ids.join(', ')}
            </li>
          ) : null
        )}
        {Object.entries(result.failed).map(([table, why]) => (
          <li key={table} className="jp-agnes-sync-failed">
            <b>{table}</b>: {why}
          </li>
        ))}
      </ul>
    </div>
  );
}

function SyncBox(props: { model: SidebarModel }): JSX.Element {
  const { model } = props;
  const job = model.syncJob;
  const running = job?.status === 'running';
  const progress = job?.progress;
  return (
    <div className="jp-agnes-sync">
      <button
        className="jp-mod-styled jp-mod-accept jp-agnes-sync-now"
        disabled={running}
        onClick={() => void model.sync()}
        title={__('Download the tables of My Stack into your workspace (what agnes.sync() does)')}
      >
        {running ? __('Syncing…') : __('Sync now')}
      </button>
      {running && (
        <Progress
          done={progress?.done_bytes ?? 0}
          total={progress?.total_bytes ?? null}
          label={
            progress?.message ||
            `${humanBytes(progress?.done_bytes ?? 0)}${progress?.total_bytes ? ` / ${humanBytes(progress.total_bytes)}` : ''}`
          }
        />
      )}
      <Problem problem={model.syncProblem} />
      {job && !running && <SyncReportView job={job} />}
    </div>
  );
}

function PackageCard(props: {
  pkg: Package;
  model: SidebarModel;
  open: boolean;
  onOpen: () => void;
}): JSX.Element {
  const { pkg, model } = props;
  const [problem, setProblem] = React.useState<IProblem | null>(null);
  const [busy, setBusy] = React.useState(false);
  const required = pkg.requirement === 'required';
  const toggle = async (): Promise<void> => {
    setBusy(true);
    setProblem(await model.setInStack('packages', pkg.slug, !pkg.in_stack));
    setBusy(false);
  };
  return (
    <li
      className={`jp-agnes-card${props.open ? ' jp-agnes-card-open' : ''}`}
      data-package={pkg.slug}
    >
      <div
        className="jp-agnes-card-head"
        onClick={props.onOpen}
        role="button"
        tabIndex={0}
        onKeyDown={e => (e.key === 'Enter' ? props.onOpen() : undefined)}
      >
        <span className="jp-agnes-card-title">{pkg.title}</span>
        <Badge
          text={pkg.lifecycle ?? ''}
          tone={pkg.lifecycle === 'prod' ? 'success' : 'warn'}
          title={__('lifecycle')}
        />
        {pkg.curated && <Badge text={__('curated')} tone="brand" />}
        {pkg.new && <Badge text={__('new')} tone="brand" />}
        {pkg.in_stack && (
          <Badge text={required ? __('required') : __('in My Stack')} tone="success" />
        )}
      </div>
      <div className="jp-agnes-card-desc">{pkg.description}</div>
      <div className="jp-agnes-card-meta">
        {(pkg.tags ?? []).map(t => (
          <span key={t} className="jp-agnes-tag">
            {t}
          </span>
        ))}
        {pkg.owner_name && (
          <span className="jp-agnes-owner">
            {__('owner: %1', [pkg.owner_name, pkg.owner_team].filter(Boolean).join(', '))}
          </span>
        )}
      </div>
      {props.open && (
        <div className="jp-agnes-card-detail">
          {pkg.long_description && <p>{pkg.long_description}</p>}
          <div className="jp-agnes-card-tables">
            <b>{_n('%1 table', '%1 tables', pkg.tables.length, pkg.tables.length)}</b>
            <ul>
              {pkg.tables.map(item => {
                const t =
                  typeof item === 'string' ? { id: item, query_mode: '', readable: true } : item;
                return (
                  <li key={t.id} data-table-id={t.id}>
                    <code>{t.id}</code>{' '}
                    {t.query_mode && (
                      <span className={`jp-agnes-mode jp-agnes-mode-${t.query_mode}`}>
                        {t.query_mode}
                      </span>
                    )}
                    {!t.readable && <Badge text={__('no access')} tone="error" />}
                  </li>
                );
              })}
            </ul>
          </div>
          {(pkg.example_questions ?? []).length > 0 && (
            <div className="jp-agnes-card-questions">
              <b>{__('Example questions')}</b>
              <ul>
                {(pkg.example_questions ?? []).map(q => (
                  <li key={q}>{q}</li>
                ))}
              </ul>
            </div>
          )}
        </div>
      )}
      <div className="jp-agnes-card-actions">
        {required ? (
          <span
            className="jp-agnes-required-note"
            title={__('An admin granted it to your group as required')}
          >
            {__('Required for your group: always in My Stack')}
          </span>
        ) : (
          <button
            className="jp-mod-styled jp-agnes-stack-toggle"
            disabled={busy}
            onClick={() => void toggle()}
          >
            {pkg.in_stack ? __('Remove from My Stack') : __('Add to My Stack')}
          </button>
        )}
      </div>
      <Problem problem={problem} />
    </li>
  );
}

export function PackagesSection(props: { model: SidebarModel }): JSX.Element {
  const { model } = props;
  const [open, setOpen] = React.useState<string | null>(null);
  const [filter, setFilter] = React.useState('');
  const packages = model.packages.value ?? [];
  const stack = model.stack.value;
  const shown = packages.filter(p =>
    [p.slug, p.title, p.description ?? '', ...(p.tags ?? [])]
      .join(' ')
      .toLowerCase()
      .includes(filter.toLowerCase())
  );
  return (
    <div className="jp-agnes-section jp-agnes-packages">
      <h3 className="jp-agnes-subtitle">{__('My Stack')}</h3>
      <div className="jp-agnes-stack-summary">
        {stack
          ? [
              _n('%1 package', '%1 packages', stack.packages.length, stack.packages.length),
              _n('%1 recipe', '%1 recipes', stack.recipes.length, stack.recipes.length),
              _n('%1 table', '%1 tables', stack.tables.length, stack.tables.length)
            ].join(' · ')
          : '…'}
      </div>
      <SyncBox model={model} />
      <h3 className="jp-agnes-subtitle">{__('Packages')}</h3>
      <input
        className="jp-mod-styled jp-agnes-search"
        type="search"
        placeholder={__('Filter packages…')}
        value={filter}
        onChange={e => setFilter(e.target.value)}
      />
      <Problem problem={model.packages.problem} />
      {model.packages.loading && packages.length === 0 && (
        <div className="jp-agnes-status">{__('Loading…')}</div>
      )}
      {!model.packages.loading && model.packages.value && packages.length === 0 && (
        <div className="jp-agnes-empty">{__('No packages are granted to you yet.')}</div>
      )}
      <ul className="jp-agnes-cards">
        {shown.map(p => (
          <PackageCard
            key={p.slug}
            pkg={p}
            model={model}
            open={open === p.slug}
            onOpen={() => setOpen(open === p.slug ? null : p.slug)}
          />
        ))}
      </ul>
    </div>
  );
}
