// ESLint flat config for the labextension: `jlpm lint` (fix) and `jlpm lint:check` (CI).
// Formatting is prettier's (.prettierrc); eslint-config-prettier turns off the rules it owns.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import react from 'eslint-plugin-react';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // schema.d.ts is generated (`jlpm gen:api`); lib/ is tsc's output.
    ignores: ['lib/', 'node_modules/', '.yarn/', 'src/schema.d.ts']
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.{ts,tsx}', 'test/**/*.{ts,tsx}'],
    plugins: { react, 'react-hooks': reactHooks },
    languageOptions: {
      globals: { ...globals.browser },
      parserOptions: { ecmaFeatures: { jsx: true } }
    },
    settings: { react: { version: 'detect' } },
    rules: {
      ...react.configs.flat.recommended.rules,
      // TypeScript checks props; `import * as React` is in scope in every .tsx file.
      'react/prop-types': 'off',
      'react/react-in-jsx-scope': 'off',
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'warn',
      // User-supplied text is rendered as text (STYLE.md): never as HTML.
      'react/no-danger': 'error',
      'no-restricted-properties': [
        'error',
        {
          property: 'innerHTML',
          message: 'Render user text as text (textContent), never as HTML.'
        },
        {
          property: 'outerHTML',
          message: 'Render user text as text (textContent), never as HTML.'
        },
        {
          property: 'insertAdjacentHTML',
          message: 'Render user text as text (textContent), never as HTML.'
        }
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }
      ],
      // JupyterLab's idiom for ids and command names (tokens.ts).
      '@typescript-eslint/no-namespace': 'off',
      eqeqeq: ['error', 'smart']
    }
  },
  {
    files: ['test/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.node } }
  },
  {
    files: ['*.{js,mjs,cjs}', 'scripts/**/*.js'],
    languageOptions: { globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' }
  },
  prettier,
  {
    // After eslint-config-prettier, which turns `curly` off; braces on every block do not fight it.
    files: ['src/**/*.{ts,tsx}', 'test/**/*.{ts,tsx}'],
    rules: { curly: ['error', 'all'] }
  }
);
