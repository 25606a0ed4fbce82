/** Put a cell into the active notebook at the cursor (below the active cell, or into it if empty). */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';

import { AgnesApiError } from './api';
import { LOAD_EXT, loadsMagics } from './catalog';
import { __ } from './i18n';

function place(notebook: Notebook, text: string): void {
  const active = notebook.activeCell;
  if (
    active &&
    active.model.type === 'code' &&
    active.model.sharedModel.getSource().trim() === ''
  ) {
    active.model.sharedModel.setSource(text);
    return;
  }
  NotebookActions.insertBelow(notebook);
  notebook.activeCell?.model.sharedModel.setSource(text);
}

export async function insertCell(
  app: JupyterFrontEnd,
  tracker: INotebookTracker | null,
  text: string
): Promise<void> {
  if (!tracker) {
    throw new AgnesApiError(0, {
      error: 'no_notebook',
      message: __('Notebooks are not available in this JupyterLab.'),
      hint: null,
      details: {}
    });
  }
  let panel: NotebookPanel | null = tracker.currentWidget;
  if (!panel) {
    panel = (await app.commands.execute('notebook:create-new', {
      kernelName: 'python3'
    })) as NotebookPanel;
    // A new notebook is shown; an open one stays where it is, so several cells can be inserted
    // from a table view in a row.
    app.shell.activateById(panel.id);
  }
  await panel.context.ready;
  const notebook = panel.content;
  const model = notebook.model;
  if (text.startsWith('%%agnes') && model) {
    const sources: string[] = [];
    for (let i = 0; i < model.cells.length; i++) {
      sources.push(model.cells.get(i).sharedModel.getSource());
    }
    if (!loadsMagics(sources)) {
      // A cell magic needs the extension loaded first: add the line that does it, visibly.
      place(notebook, LOAD_EXT);
    }
  }
  place(notebook, text);
}
