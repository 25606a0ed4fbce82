import { describe, expect, it } from 'vitest';

import { loadsMagics } from '../src/catalog';

describe('loadsMagics', () => {
  it('finds the %load_ext line in any cell', () => {
    expect(loadsMagics(['import x', 'x = 1\n%load_ext agnes_jupyter\n'])).toBe(true);
  });

  it('does not take a comment or other text for it', () => {
    expect(loadsMagics(['# %load_ext agnes_jupyter', 'print("%load_ext agnes_jupyter")'])).toBe(
      false
    );
    expect(loadsMagics([])).toBe(false);
  });
});
