/** An error envelope shown in place: its message and its hint, as text. */
import * as React from 'react';

import type { IProblem } from '../model';

export function Problem(props: {
  problem: IProblem | null;
  kind?: 'error' | 'warn';
  className?: string;
}): JSX.Element | null {
  const { problem } = props;
  if (!problem) {
    return null;
  }
  return (
    <div
      className={`jp-agnes-problem jp-agnes-problem-${props.kind ?? 'error'} ${props.className ?? ''}`}
      role="alert"
      data-error-code={problem.code ?? ''}
    >
      <p className="jp-agnes-problem-message">{problem.message}</p>
      {problem.hint && <p className="jp-agnes-problem-hint">{problem.hint}</p>}
    </div>
  );
}
