// ESLint with typescript-eslint's type-aware rules over all TypeScript in the repository.
// `npm run lint` runs it beside `tsc --noEmit`, dependency-cruiser (layering) and knip (unused code).
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/db/generated/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: path.resolve(import.meta.dirname, '..') },
    },
    rules: {
      // oidc-provider's hooks and the adapter interface are specified as returning promises;
      // `async` on a body that happens not to await keeps a thrown error a rejection.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Refusing control characters at the boundaries means matching them on purpose.
      'no-control-regex': 'off',
    },
  },
  {
    // Jest's asymmetric matchers (expect.any, expect.objectContaining) are typed `any`, and
    // `expect(obj.method)` passes methods unbound on purpose.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  // Scripts served to browsers from /static (views/static): plain scripts with the browser's globals.
  { files: ['views/static/**/*.js'], languageOptions: { sourceType: 'script', globals: { window: 'readonly', document: 'readonly', fetch: 'readonly' } } },
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' }, languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly' } } },
);
