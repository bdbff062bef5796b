import { applyMigrations } from '../clients/clickhouse.ts';
import type { StackEndpoints } from '../targets/target.ts';
import type { Step } from './step.ts';

/** Shared by both targets: applies the versioned ClickHouse DDL from src/contract. */
export function applyClickHouseSchemaStep(endpoints: () => Promise<StackEndpoints>): Step {
  return {
    name: 'Apply ClickHouse schema',
    async execute() {
      const { applied, skipped } = await applyMigrations((await endpoints()).clickhouse);
      return applied.length ? `applied ${applied.join(', ')}` : `up to date (${skipped.length} migrations)`;
    },
  };
}
