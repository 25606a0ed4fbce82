import * as React from 'react';

import { __ } from '../i18n';
import type { IScreenProps } from './screen';

/** Admin console screen: Packages & recipes. */
export function CurationScreen(props: IScreenProps): JSX.Element {
  void props;
  return (
    <div className="jp-agnes-admin-screen">
      <h2 className="jp-agnes-admin-screen-title">{__('Packages & recipes')}</h2>
    </div>
  );
}
