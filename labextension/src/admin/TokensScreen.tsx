import * as React from 'react';

import { __ } from '../i18n';
import type { IScreenProps } from './screen';

/** Admin console screen: Tokens. */
export function TokensScreen(props: IScreenProps): JSX.Element {
  void props;
  return (
    <div className="jp-agnes-admin-screen">
      <h2 className="jp-agnes-admin-screen-title">{__('Tokens')}</h2>
    </div>
  );
}
