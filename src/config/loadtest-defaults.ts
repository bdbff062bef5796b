/**
 * The defaults of the config file's `loadtest` section: the schema (schema.ts) applies them and
 * the load test's flags show them in --help. A plain object, so --help need not load zod.
 */
export const LOADTEST_DEFAULTS = {
  rate: 10000,
  durationSeconds: 60,
  malformedFraction: 0.01,
  users: 20000,
  products: 2000,
  drainTimeoutSeconds: 120,
  warmupSeconds: 15,
  warmupMaxSeconds: 120,
} as const;
