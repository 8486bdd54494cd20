import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'services/*/src/**/*.test.ts', 'services/*/test/**/*.test.ts', 'chaos/**/*.test.ts', 'infra/**/*.test.ts', 'scripts/**/*.test.ts'],
    // Builds the migrated template database once; each test file then clones it (see packages/testing).
    globalSetup: ['packages/testing/src/containers.ts', 'packages/db/src/testing/global-setup.ts'],
    // Files run in parallel: each has its own database and Redis key prefix.
    pool: 'forks',
    fileParallelism: true,
    // The JSON report is what .ci/run turns into its closing `N passed, N failed` line.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
