// ESLint runs only the rules that find real faults the compiler cannot: a promise nobody awaits or
// catches (a rejection then kills the process or vanishes), and a promise handed where a plain
// callback is expected (an event listener whose rejection nobody sees). Type-aware: the rules need the
// types, so the parser uses the TypeScript project service over the same files as `pnpm typecheck`.
// Style is left to the formatter; `tsc --noUnusedLocals --noUnusedParameters` stays part of `pnpm lint`.
import tseslint from 'typescript-eslint';

export default [
  {
    ignores: ['**/node_modules/**', '**/dist/**', '.vitest-report.json'],
  },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `void promise` is the explicit "fire and forget, its errors are handled inside" marker.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true, ignoreIIFE: false }],
      // An async function passed as a void callback (event listeners, setInterval, forEach): its
      // rejection is unhandled. JSX-style attributes do not exist here; check everything.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: true, checksConditionals: true, checksSpreads: true }],
    },
  },
];
