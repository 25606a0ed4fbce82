/** The status bar item: scan budget used today. */
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import * as React from 'react';

import { humanBytes } from './format';
import { __ } from './i18n';
import { SidebarModel } from './model';

export function budgetWidget(model: SidebarModel, onClick: () => void): ReactWidget {
  const widget = ReactWidget.create(
    <UseSignal signal={model.changed}>
      {() => {
        const usage = model.me?.usage;
        if (!usage) {
          return <span className="jp-agnes-statusbar" />;
        }
        const share = usage.daily_scan_bytes_per_user
          ? (usage.scanned_bytes / usage.daily_scan_bytes_per_user) * 100
          : 0;
        return (
          <span
            className="jp-agnes-statusbar"
            title={__('Agnes: bytes scanned today (UTC) against your daily budget')}
            onClick={onClick}
          >
            {__(
              'Agnes %1 of %2 (%3%)',
              humanBytes(usage.scanned_bytes),
              humanBytes(usage.daily_scan_bytes_per_user),
              share.toFixed(0)
            )}
          </span>
        );
      }}
    </UseSignal>
  );
  widget.addClass('jp-agnes-statusbar-item');
  return widget;
}
