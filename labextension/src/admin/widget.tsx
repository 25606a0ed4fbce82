/**
 * Hosts of the admin console: the "Agnes Admin" main-area view, and the renderer of
 * ``application/vnd.agnes.admin-console+json`` outputs (``agnes.admin.console()`` in a cell).
 */
import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { __ } from '../i18n';
import { AdminConsole, ScreenId, screenOf } from './AdminConsole';

export const ADMIN_CONSOLE_MIME = 'application/vnd.agnes.admin-console+json';
export const ADMIN_VIEW_ID = 'agnes-admin-console';

/** The console as a Lumino widget; ``screen`` can be changed after it is shown. */
export class AdminConsoleContent extends ReactWidget {
  constructor(
    private _screen: ScreenId | null,
    private readonly _inCell = false
  ) {
    super();
    this._current = _screen;
    this.addClass('jp-agnes-admin-host');
  }

  get screen(): ScreenId | null {
    return this._screen;
  }

  set screen(value: ScreenId | null) {
    this._screen = value;
    this._current = value;
    this._requests += 1; // asked again for the screen it shows first: show it again
    this.update();
  }

  /** The screen shown now (restored with the layout). */
  get current(): ScreenId | null {
    return this._current;
  }

  protected render(): JSX.Element {
    return (
      <AdminConsole
        initial={this._screen}
        request={this._requests}
        inCell={this._inCell}
        onScreen={screen => (this._current = screen)}
      />
    );
  }

  private _current: ScreenId | null;
  private _requests = 0;
}

/** The main-area view (one per page). */
export function createAdminView(
  screen: ScreenId | null,
  icon: LabIcon
): MainAreaWidget<AdminConsoleContent> {
  const content = new AdminConsoleContent(screen);
  const view = new MainAreaWidget({ content });
  view.id = ADMIN_VIEW_ID;
  view.title.label = __('Agnes Admin');
  view.title.caption = __(
    'Agnes admin console: sources, tables, access, packages, tokens, settings, audit'
  );
  view.title.icon = icon;
  view.title.closable = true;
  view.addClass('jp-agnes-admin-view');
  return view;
}

/** Renders an admin-console output: the same console, inside the output area. */
export class AdminConsoleRenderer extends ReactWidget implements IRenderMime.IRenderer {
  private _screen: ScreenId | null = null;
  private _rendered = false;

  constructor() {
    super();
    this.addClass('jp-agnes-admin-host');
    this.addClass('jp-agnes-admin-output');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[ADMIN_CONSOLE_MIME] as { screen?: unknown } | undefined;
    this._screen = screenOf(data?.screen);
    this._rendered = true;
    this.update();
    return Promise.resolve();
  }

  protected render(): JSX.Element | null {
    return this._rendered ? <AdminConsole initial={this._screen} inCell={true} /> : null;
  }
}

/** The renderer factory registered with the notebook's rendermime registry. */
export const adminConsoleRendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [ADMIN_CONSOLE_MIME],
  defaultRank: 10,
  createRenderer: () => new AdminConsoleRenderer()
};

/** Opens the admin console (palette, Agnes menu, the panel's Admin button). */
export const OPEN_ADMIN_COMMAND = 'agnes:open-admin';
