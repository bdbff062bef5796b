import { defineConfig } from 'vitest/config';

// unit: pure code and fakes, seconds. integration: one real server each (ClickHouse front, Kafka).
// e2e: the whole local stack (Kafka + Spark + ClickHouse), minutes. faults: the stack under load
// while a dependency fails (docs/reliability.md), ~15 minutes; run by npm run test:faults.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
      {
        test: { name: 'bench-smoke', include: ['test/bench-smoke/**/*.test.ts'], testTimeout: 1_800_000, hookTimeout: 900_000 },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
