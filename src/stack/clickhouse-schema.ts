import { applyMigrations, applyRetention } from '../clients/clickhouse.ts';
import type { StackEndpoints } from '../base/stack.ts';
import type { Step } from '../base/step.ts';

/** Shared by both targets: applies the versioned ClickHouse DDL from src/contract, then the configured retention. */
export function applyClickHouseSchemaStep(endpoints: () => Promise<StackEndpoints>, retentionDays: number): Step {
  return {
    name: 'Apply ClickHouse schema',
    async execute() {
      const ch = (await endpoints()).clickhouse;
      const { applied, skipped } = await applyMigrations(ch);
      const retention = await applyRetention(ch, retentionDays);
      const migrations = applied.length ? `applied ${applied.join(', ')}` : `up to date (${skipped.length} migrations)`;
      return `${migrations}; retention ${retentionDays} days${retention.length ? ` (set on ${retention.length} tables)` : ''}`;
    },
  };
}
