import * as React from 'react';

import { __ } from '../i18n';
import type { IScreenProps } from './screen';

/** Admin console screen: Metadata. */
export function MetadataScreen(props: IScreenProps): JSX.Element {
  void props;
  return (
    <div className="jp-agnes-admin-screen">
      <h2 className="jp-agnes-admin-screen-title">{__('Metadata')}</h2>
    </div>
  );
}
