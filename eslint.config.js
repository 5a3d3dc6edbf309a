// ESLint flat config: typescript-eslint with type information, so promise
// mistakes (a forgotten await on the call path) are caught before review.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.cache/**',
      'recordings/**',
      'bench-results/**',
      'eslint.config.js',
      '.mocharc.cjs',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false, attributes: false } },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Command-line tools and tests talk to a human on stdout.
    files: ['scripts/**', '**/test/**', '**/cli.ts', '**/cli/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Tests poke into loosely shaped protocol JSON on purpose.
    files: ['**/test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
