import * as React from 'react';

import { __ } from '../i18n';
import type { IScreenProps } from './screen';

/** Admin console screen: Access. */
export function AccessScreen(props: IScreenProps): JSX.Element {
  void props;
  return (
    <div className="jp-agnes-admin-screen">
      <h2 className="jp-agnes-admin-screen-title">{__('Access')}</h2>
    </div>
  );
}
