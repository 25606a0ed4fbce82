import {
  ILayoutRestorer,
  IRouter,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  MainAreaWidget,
  Notification,
  ReactWidget,
  UseSignal,
  WidgetTracker
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator } from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { screenOf } from './admin/AdminConsole';
import {
  AdminConsoleContent,
  adminConsoleRendererFactory,
  ADMIN_VIEW_ID,
  createAdminView,
  OPEN_ADMIN_COMMAND
} from './admin/widget';
import { ibisCell, sqlCell } from './catalog';
import { client } from './client';
import { Sidebar } from './components/Sidebar';
import { TableDetail } from './components/TableView';
import { __, setTranslationBundle } from './i18n';
import { describe, Section, SidebarModel } from './model';
import { insertCell } from './notebook';
import { budgetWidget } from './statusbar';
import { CommandIDs, PluginIDs } from './tokens';

const agnesIconSvg =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="#616161">' +
  '<ellipse cx="12" cy="5" rx="8" ry="3"/>' +
  '<path d="M4 7v4c0 1.7 3.6 3 8 3s8-1.3 8-3V7c0 1.7-3.6 3-8 3S4 8.7 4 7z"/>' +
  '<path d="M4 13v4c0 1.7 3.6 3 8 3s8-1.3 8-3v-4c0 1.7-3.6 3-8 3s-8-1.3-8-3z"/>' +
  '</g></svg>';

export const agnesIcon = new LabIcon({ name: 'agnes-jupyter:icon', svgstr: agnesIconSvg });

/** The left panel; polling runs only while it is shown. */
class AgnesPanel extends ReactWidget {
  constructor(
    readonly model: SidebarModel,
    private readonly _render: () => JSX.Element
  ) {
    super();
  }

  protected render(): JSX.Element {
    return <UseSignal signal={this.model.changed}>{() => this._render()}</UseSignal>;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.setVisible(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.model.setVisible(false);
  }
}

interface ISettings {
  pollInterval: number;
  estimateDebounce: number;
  sampleRows: number;
  showStatusBar: boolean;
}

const DEFAULTS: ISettings = {
  pollInterval: 60,
  estimateDebounce: 400,
  sampleRows: 10,
  showStatusBar: true
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.sidebar,
  description:
    'The Agnes panel: the governed catalog, tables, estimates and snapshots, packages and recipes.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    INotebookTracker,
    ISettingRegistry,
    ITranslator,
    IStatusBar,
    IRouter,
    IRenderMimeRegistry
  ],
  activate: async (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    notebooks: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null,
    translator: ITranslator | null,
    statusBar: IStatusBar | null,
    router: IRouter | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    if (translator) {
      setTranslationBundle(translator.load('agnes_jupyter'));
    }
    const settings: ISettings = { ...DEFAULTS };
    const model = new SidebarModel({ pollSeconds: settings.pollInterval });
    const insert = (text: string): Promise<void> => insertCell(app, notebooks, text);

    const panel = new AgnesPanel(model, () => (
      <Sidebar model={model} commands={app.commands} insert={insert} />
    ));
    panel.id = 'jp-agnes-sidebar';
    panel.title.icon = agnesIcon;
    panel.title.caption = __('Agnes: your governed data');
    panel.addClass('jp-agnes-panel');
    app.shell.add(panel, 'left', { rank: 850 });
    restorer?.add(panel, 'agnes-sidebar');

    // Table views in the main area, restored with the layout.
    const tracker = new WidgetTracker<MainAreaWidget>({ namespace: 'agnes-table' });
    const openTable = (id: string, focusForm = false): MainAreaWidget => {
      let view = tracker.find(w => w.id === `agnes-table-${id}`);
      if (!view) {
        const content = ReactWidget.create(
          <TableDetail
            tableId={id}
            model={model}
            insert={insert}
            debounceMs={settings.estimateDebounce}
            sampleRows={settings.sampleRows}
            onSnapshot={() => model.notifySnapshotsChanged()}
          />
        );
        content.addClass('jp-agnes-tableview-host');
        view = new MainAreaWidget({ content });
        view.id = `agnes-table-${id}`;
        view.title.label = id;
        view.title.icon = agnesIcon;
        view.title.caption = __('Agnes table %1', id);
        view.title.closable = true;
        void tracker.add(view);
        app.shell.add(view, 'main');
      }
      app.shell.activateById(view.id);
      if (focusForm) {
        requestAnimationFrame(() =>
          view?.node.querySelector('.jp-agnes-estimate-form')?.scrollIntoView({ block: 'start' })
        );
      }
      return view;
    };
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openTable,
        args: w => ({ id: w.id.replace(/^agnes-table-/, '') }),
        name: w => w.id
      });
    }

    // The table a command is about: its argument, or the row under the context menu.
    const tableOf = (args: Record<string, unknown>): string | null => {
      if (typeof args.id === 'string' && args.id) {
        return args.id;
      }
      const node = app.contextMenuHitTest(n => n.dataset.tableId !== undefined);
      return node?.dataset.tableId ?? null;
    };
    const report = (reason: unknown): void => {
      const p = describe(reason);
      Notification.error(p.hint ? `${p.message} — ${p.hint}` : p.message, { autoClose: 8000 });
    };
    const withEntry = (
      args: Record<string, unknown>,
      run: (id: string) => Promise<unknown> | void
    ): void => {
      const id = tableOf(args);
      if (id) {
        void Promise.resolve(run(id)).catch(report);
      }
    };
    const showSection = (section: Section): void => {
      app.shell.activateById(panel.id);
      model.section = section;
    };

    // In the palette a command says it is Agnes's; in the Agnes menu and context menus it need not.
    const inPalette = (args: Record<string, unknown>, label: string): string =>
      args.isPalette ? __('Agnes: %1', label) : label;
    const { commands } = app;
    commands.addCommand(CommandIDs.refreshCatalog, {
      label: args => inPalette(args, __('Refresh')),
      caption: __('Read the catalog, your budget and the open section again'),
      execute: () => model.refresh()
    });
    commands.addCommand(CommandIDs.openSidebar, {
      label: args => inPalette(args, __('Show Catalog')),
      icon: agnesIcon,
      execute: () => showSection('catalog')
    });
    commands.addCommand(CommandIDs.openTable, {
      label: args => (args.id ? __('Open %1', String(args.id)) : __('Open Table')),
      caption: __('Open the table: schema, preview, estimate & snapshot'),
      execute: args => withEntry(args, id => void openTable(id))
    });
    commands.addCommand(CommandIDs.insertIbis, {
      label: __('Insert ibis Code'),
      execute: args =>
        withEntry(args, id => {
          const entry = model.entry(id);
          return entry ? insert(ibisCell(entry)) : undefined;
        })
    });
    commands.addCommand(CommandIDs.insertSql, {
      label: __('Insert %1 Cell', '%%agnes'),
      execute: args =>
        withEntry(args, id => {
          const entry = model.entry(id);
          return entry ? insert(sqlCell(entry)) : undefined;
        })
    });
    commands.addCommand(CommandIDs.copyId, {
      label: __('Copy Table Id'),
      execute: args => withEntry(args, id => Clipboard.copyToSystem(id))
    });
    commands.addCommand(CommandIDs.addToStack, {
      label: __('Add to My Stack'),
      execute: args =>
        withEntry(args, async id => {
          await client.addToStack('tables', id);
          Notification.success(__('%1 is in My Stack; Sync now downloads it.', id), {
            autoClose: 4000
          });
        })
    });
    commands.addCommand(CommandIDs.estimateSnapshot, {
      label: __('Estimate & Snapshot…'),
      isVisible: args => {
        const id = tableOf(args);
        return id !== null && model.entry(id)?.query_mode === 'remote';
      },
      execute: args => withEntry(args, id => void openTable(id, true))
    });
    commands.addCommand(CommandIDs.showPackages, {
      label: args => inPalette(args, __('Packages and My Stack')),
      execute: () => showSection('packages')
    });
    commands.addCommand(CommandIDs.showRecipes, {
      label: args => inPalette(args, __('Recipes')),
      execute: () => showSection('recipes')
    });
    commands.addCommand(CommandIDs.showSnapshots, {
      label: args => inPalette(args, __('Snapshots')),
      execute: () => showSection('snapshots')
    });
    commands.addCommand(CommandIDs.sync, {
      label: args => inPalette(args, __('Sync Now')),
      caption: __('Download the tables of My Stack into your workspace'),
      execute: () => {
        showSection('packages');
        return model.sync();
      }
    });
    // The admin console: a main-area view (one), a URL (?agnes-admin[=screen]) and a cell output.
    const adminTracker = new WidgetTracker<MainAreaWidget<AdminConsoleContent>>({
      namespace: 'agnes-admin'
    });
    const openAdmin = (screen: unknown, restoring = false): void => {
      let view = adminTracker.find(w => w.id === ADMIN_VIEW_ID);
      if (!view || view.isDisposed) {
        view = createAdminView(screenOf(screen), agnesIcon);
        void adminTracker.add(view);
        app.shell.add(view, 'main');
      } else if (restoring) {
        // The layout restores the screen shown last; a bookmark (?agnes-admin=…) opened first wins.
        return;
      } else if (screenOf(screen)) {
        view.content.screen = screenOf(screen);
      }
      app.shell.activateById(view.id);
    };
    commands.addCommand(OPEN_ADMIN_COMMAND, {
      label: args => inPalette(args, __('Admin Console')),
      caption: __('Sources, tables, access, packages, tokens, settings, audit, metadata (admins)'),
      icon: args => (args.isPalette ? undefined : agnesIcon),
      // Shown to admins only; the console itself says 403 to anyone else who opens it.
      isVisible: () => model.me?.is_admin === true,
      execute: args => openAdmin(args.screen, args.restoring === true)
    });
    if (restorer) {
      void restorer.restore(adminTracker, {
        command: OPEN_ADMIN_COMMAND,
        args: w => ({ screen: w.content.current ?? '', restoring: true }),
        name: () => ADMIN_VIEW_ID
      });
    }
    if (router) {
      // /lab?agnes-admin or /lab?agnes-admin=tables, under any base URL: a bookmark.
      const ADMIN_URL = /[?&]agnes-admin(=([a-z]+))?(&|#|$)/;
      const routeCommand = 'agnes:route-admin';
      commands.addCommand(routeCommand, {
        execute: args => {
          const match = ADMIN_URL.exec(String((args as { search?: string }).search ?? ''));
          openAdmin(match?.[2]);
        }
      });
      router.register({ command: routeCommand, pattern: ADMIN_URL, rank: 60 });
    }
    if (rendermime) {
      rendermime.addFactory(adminConsoleRendererFactory, 10);
    }

    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.refreshCatalog,
        CommandIDs.showPackages,
        CommandIDs.showRecipes,
        CommandIDs.showSnapshots,
        CommandIDs.sync,
        OPEN_ADMIN_COMMAND
      ]) {
        palette.addItem({ command, category: 'Agnes' });
      }
    }

    let statusItem: { dispose(): void } | null = null;
    const applySettings = (): void => {
      model.setPollSeconds(settings.pollInterval);
      if (statusBar && settings.showStatusBar && !statusItem) {
        statusItem = statusBar.registerStatusItem(`${PluginIDs.sidebar}:budget`, {
          item: budgetWidget(model, () => showSection('catalog')),
          align: 'left',
          rank: 900,
          isActive: () => model.me !== null
        });
      } else if (statusItem && !settings.showStatusBar) {
        statusItem.dispose();
        statusItem = null;
      }
    };
    if (settingRegistry) {
      try {
        const loaded = await settingRegistry.load(plugin.id);
        const read = (): void => {
          Object.assign(settings, loaded.composite as unknown as ISettings);
          applySettings();
        };
        read();
        loaded.changed.connect(read);
      } catch (reason) {
        console.warn('agnes-jupyter: cannot read the settings; using the defaults', reason);
        applySettings();
      }
    } else {
      applySettings();
    }
    void app.restored.then(() => model.start());
  }
};

export default [plugin];
