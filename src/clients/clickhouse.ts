import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { loadMigrations, pipeline, type Migration } from '../contract/index.ts';
import type { StackEndpoints } from '../base/stack.ts';

/** The official client, pointed at the stack's database, as the writer user. */
export function clickhouseClient(ch: StackEndpoints['clickhouse'], opts: { database?: string } = {}): ClickHouseClient {
  return createClient({
    url: ch.url,
    username: ch.username,
    password: ch.password,
    database: opts.database ?? ch.database,
    request_timeout: 60_000,
    // The embedded engine's HTTP front does not do ClickHouse's native compression; gzip is not worth it on loopback.
    compression: { request: false, response: false },
    clickhouse_settings: { date_time_input_format: 'best_effort' },
    // Failures surface as errors with a fix; the client's own console warnings would only repeat them.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/**
 * The client for dashboard reads (status, the load test's panels and viewers, the benchmark): the
 * read-only dashboard user with its profile, so these reads cannot starve the job's inserts. A stack
 * made before the dashboard user existed has none; its writer reads instead until it is recreated.
 */
export function dashboardClient(ch: StackEndpoints['clickhouse'], opts: { maxOpenConnections?: number } = {}): ClickHouseClient {
  const who = ch.dashboard ?? { username: ch.username, password: ch.password };
  return createClient({
    url: ch.url,
    username: who.username,
    password: who.password,
    database: ch.database,
    request_timeout: 60_000,
    compression: { request: false, response: false },
    max_open_connections: opts.maxOpenConnections ?? 10,
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/**
 * A table's TTL as ClickHouse shows it in `engine_full`: exactly `TTL <expression> + toIntervalDay(<days>)`,
 * then SETTINGS or the end (a TTL with more clauses, WHERE or TO VOLUME is not ours to rewrite).
 */
const TTL_DAYS = /\bTTL (.+?) \+ toIntervalDay\((\d+)\)(?= SETTINGS |$)/;

/** The retention part of a table's `engine_full`, or undefined when it has no TTL of that form. */
export function parseTtlDays(engineFull: string): { expression: string; days: number } | undefined {
  const m = TTL_DAYS.exec(engineFull);
  return m ? { expression: m[1]!, days: Number(m[2]) } : undefined;
}

/**
 * Sets the TTL of the project's tables (pipeline.json; the migrations create them with 7 days) to
 * `days`, where it differs. Idempotent. ClickHouse re-applies the new TTL to the rows already stored
 * (MATERIALIZE TTL, waited for: mutations_sync = 2), so a shorter retention deletes what it
 * expires now and a longer one keeps parts that the old TTL would have dropped. Returns the tables changed.
 */
export async function applyRetention(ch: StackEndpoints['clickhouse'], days: number): Promise<string[]> {
  if (!Number.isInteger(days) || days < 1) throw new Error(`retention must be a whole number of days >= 1, got ${days}`);
  const ours = Object.values(pipeline.clickhouse.tables);
  const client = clickhouseClient(ch);
  try {
    const rs = await client.query({
      query: 'SELECT name, engine_full FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)} ORDER BY name',
      query_params: { db: ch.database, names: ours },
      format: 'JSONEachRow',
    });
    const changed: string[] = [];
    for (const t of (await rs.json()) as Array<{ name: string; engine_full: string }>) {
      const ttl = parseTtlDays(t.engine_full);
      if (!ttl || ttl.days === days) continue;
      await client.command({
        query: `ALTER TABLE \`${t.name}\` MODIFY TTL ${ttl.expression} + INTERVAL ${days} DAY`,
        clickhouse_settings: { materialize_ttl_after_modify: 1, mutations_sync: '2' },
      });
      changed.push(t.name);
    }
    return changed;
  } finally {
    await client.close();
  }
}

export async function clickhouseVersion(client: ClickHouseClient): Promise<string> {
  const rs = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
  const rows = (await rs.json()) as Array<{ v: string }>;
  return rows[0]?.v ?? 'unknown';
}

/**
 * Applies the versioned migrations not yet recorded in schema_migrations. Idempotent: every
 * statement is CREATE ... IF NOT EXISTS, and applied versions are skipped.
 */
export async function applyMigrations(
  ch: StackEndpoints['clickhouse'],
  migrations: Migration[] = loadMigrations(),
): Promise<{ applied: string[]; skipped: string[] }> {
  const admin = clickhouseClient(ch, { database: 'default' });
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${ch.database}` });
  } finally {
    await admin.close();
  }
  const client = clickhouseClient(ch);
  const table = pipeline.clickhouse.tables.schemaMigrations;
  try {
    await client.command({
      query: `CREATE TABLE IF NOT EXISTS ${table} (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
              ENGINE = ReplacingMergeTree ORDER BY version`,
    });
    const rs = await client.query({ query: `SELECT version FROM ${table} FINAL`, format: 'JSONEachRow' });
    const done = new Set(((await rs.json()) as Array<{ version: number }>).map((r) => Number(r.version)));
    const applied: string[] = [];
    const skipped: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) {
        skipped.push(m.name);
        continue;
      }
      for (const statement of m.statements) await client.command({ query: statement });
      await client.insert({ table, values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' });
      applied.push(m.name);
    }
    return { applied, skipped };
  } finally {
    await client.close();
  }
}
