// Unit tests of the labextension: `jlpm test` (vitest run). Tests live in test/ (not src/, so tsc's
// build and the bundle never include them) and are named *.test.ts or *.test.tsx.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.{ts,tsx}'],
    // jsdom: components and anything touching `document` (PageConfig, React) work as in the browser.
    environment: 'jsdom',
    restoreMocks: true,
    testTimeout: 10000
  }
});
