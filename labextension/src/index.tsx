import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { Sidebar } from './components/Sidebar';
import { SidebarModel } from './model';
import { CommandIDs, PluginIDs } from './tokens';

const agnesIconSvg =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="#616161">' +
  '<ellipse cx="12" cy="5" rx="8" ry="3"/>' +
  '<path d="M4 7v4c0 1.7 3.6 3 8 3s8-1.3 8-3V7c0 1.7-3.6 3-8 3S4 8.7 4 7z"/>' +
  '<path d="M4 13v4c0 1.7 3.6 3 8 3s8-1.3 8-3v-4c0 1.7-3.6 3-8 3s-8-1.3-8-3z"/>' +
  '</g></svg>';

export const agnesIcon = new LabIcon({ name: 'agnes-jupyter:icon', svgstr: agnesIconSvg });

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: PluginIDs.sidebar,
  description: 'The Agnes left panel: the governed catalog.',
  autoStart: true,
  optional: [ILayoutRestorer, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null
  ) => {
    const model = new SidebarModel();
    const widget = ReactWidget.create(
      <UseSignal signal={model.changed}>{() => <Sidebar model={model} />}</UseSignal>
    );
    widget.id = 'jp-agnes-sidebar';
    widget.title.icon = agnesIcon;
    widget.title.caption = 'Agnes';
    widget.addClass('jp-agnes-panel');
    app.shell.add(widget, 'left', { rank: 850 });
    if (restorer) {
      restorer.add(widget, 'agnes-sidebar');
    }

    app.commands.addCommand(CommandIDs.refreshCatalog, {
      label: 'Agnes: Refresh Catalog',
      execute: () => model.refresh()
    });
    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Agnes: Show Catalog',
      execute: () => app.shell.activateById(widget.id)
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.refreshCatalog, category: 'Agnes' });
      palette.addItem({ command: CommandIDs.openSidebar, category: 'Agnes' });
    }
    void app.restored.then(() => model.refresh());
    console.log('JupyterLab extension agnes-jupyter is activated!');
  }
};

export default [sidebarPlugin];
