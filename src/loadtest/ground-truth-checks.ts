import type { ClickHouseClient } from '@clickhouse/client';
import { DEAD_LETTER_REASONS, pipeline, SESSION_COUNTERS } from '../contract/index.ts';
import type { ProduceResult } from '../loadgen/producer.ts';
import type { Check } from './checks.ts';
import {
  cartAbandoned,
  closedAt,
  computeGroundTruth,
  DEFAULT_WATERMARK_DELAY_MS,
  emptyTierCounts,
  TIERS,
  type ExpectedSession,
  type GroundTruth,
  type SessionCounters,
  type Tier,
} from '../model/ground-truth.ts';
import { offsetPredicate, type OffsetRanges } from './run-window.ts';

/**
 * The load test's ground-truth checks: what ClickHouse holds for a run (selected by the run's Kafka
 * offsets, and by the run's user-id prefix for the tables without offsets: sessions, tier_changes)
 * against the expectation of src/model/ground-truth.ts. Fetching (fetchClickHouseFacts) is separate
 * from comparing (groundTruthChecks, pure), so the comparison is unit-tested without a server.
 *
 * Tolerances, all explained in the check's target:
 *  - events / late rows: +- the events the model found within `ambiguityMs` of the watermark (the
 *    generator keeps that at 0; a non-zero value fails the "independent of batching" check anyway);
 *  - session status: a session without LOGOUT must be closed once the job's reported watermark
 *    (max pipeline_progress.watermark of the run) passed end + 30 min, may be closed once the
 *    model's final watermark did or once the user has a later session (a job may close it when
 *    that session starts), and must be active otherwise; cart_abandoned follows the actual status.
 *    Every other session field is exact (revenue to the cent);
 *  - revenue: 0.01 (floating-point sums in another order).
 */

const T = pipeline.clickhouse.tables;
const SESSION_FIELDS = ['user_id', 'tier', 'start_time', 'end_time', 'duration_ms', 'events_total', 'products_viewed', 'funnel_stage', 'converted'] as const;
/** The per-type counters of `sessions` (pipeline.json sessions.counters), compared one by one. */
const COUNTER_COLUMNS = SESSION_COUNTERS.map((c) => c.column);

/** A `sessions` row as read back from ClickHouse: the model's counters plus identity and status. */
export interface SessionRow extends SessionCounters {
  session_id: string;
  user_id: string;
  tier: string;
  start_time: number;
  end_time: number;
  duration_ms: number;
  funnel_stage: number;
  converted: number;
  cart_abandoned: number;
  status: string;
}

export interface TierChangeRow {
  user_id: string;
  from_tier: string;
  to_tier: string;
  changed_at: number;
  lifetime_spend: number;
  event_id: string;
}

/** What ClickHouse holds for one run. */
export interface ClickHouseFacts {
  events: { rows: number; distinct: number; revenue: number; orders: number };
  eventsByTypeTier: Map<string, number>;
  eventsBySessionTier: Map<string, number>;
  late: { rows: number; distinct: number };
  deadLetters: Record<string, number>;
  /** Sums over the run's micro-batches; null when pipeline_progress has no row for the run. */
  progress: { batches: number; duplicateRows: number; lateRows: number; watermark: number | null };
  sessions: SessionRow[];
  tierChanges: TierChangeRow[];
}

export interface RunScope {
  ranges: OffsetRanges;
  /** Every user id of the run starts with it (sessions and tier_changes have no offsets). */
  userPrefix: string;
  /**
   * Epoch ms of the job's newest pipeline_progress row before the run (latestBatchTime): the rows
   * after it are the run's batches. Not the time producing started: a batch's time is when its
   * trigger fired, which can be before the first record it reads.
   */
  afterBatchTime: number;
}

const AFTER_BATCH = 'batch_time > fromUnixTimestamp64Milli({after:Int64})';

async function rows<R>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<R[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', query_params: params });
  return (await rs.json()) as R[];
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

export async function fetchClickHouseFacts(client: ClickHouseClient, scope: RunScope): Promise<ClickHouseFacts> {
  const where = offsetPredicate(scope.ranges);
  const p = { prefix: scope.userPrefix, after: Math.round(scope.afterBatchTime) };
  // Counted without FINAL on purpose: a row written twice must show up here.
  const [ev] = await rows<Record<string, unknown>>(client, `SELECT count() AS rows, uniqExact(event_id) AS distinct FROM ${T.events} WHERE ${where}`);
  const [rev] = await rows<Record<string, unknown>>(
    client,
    `SELECT sumIf(revenue, event_type = 'PURCHASE') AS revenue, countIf(event_type = 'PURCHASE') AS orders FROM ${T.events} FINAL WHERE ${where}`,
  );
  const byTypeTier = await rows<{ k: string; n: string }>(
    client,
    `SELECT concat(event_type, '|', tier) AS k, count() AS n FROM ${T.events} FINAL WHERE ${where} GROUP BY k`,
  );
  const bySession = await rows<{ k: string; n: string }>(
    client,
    `SELECT concat(session_id, '|', tier) AS k, count() AS n FROM ${T.events} FINAL WHERE ${where} GROUP BY k`,
  );
  const [late] = await rows<Record<string, unknown>>(client, `SELECT count() AS rows, uniqExact(event_id) AS distinct FROM ${T.lateEvents} FINAL WHERE ${where}`);
  const dead = await rows<{ reason: string; n: string }>(
    client,
    `SELECT reason, count() AS n FROM ${T.deadLetters} FINAL WHERE source_topic = {topic:String} AND (${where}) GROUP BY reason`,
    { topic: pipeline.kafka.topics.events.name },
  );
  const [prog] = await rows<Record<string, unknown>>(
    client,
    `SELECT count() AS batches, sum(duplicate_rows) AS dup, sum(late_rows) AS late, toUnixTimestamp64Milli(max(watermark)) AS wm
     FROM ${T.pipelineProgress} FINAL WHERE ${AFTER_BATCH}`,
    p,
  );
  const sessions = await rows<Record<string, unknown>>(
    client,
    `SELECT session_id, user_id, tier, toUnixTimestamp64Milli(start_time) AS start_time, toUnixTimestamp64Milli(end_time) AS end_time,
            duration_ms, events_total, ${COUNTER_COLUMNS.join(', ')}, revenue,
            products_viewed, funnel_stage, converted, cart_abandoned, status
     FROM ${T.sessions} FINAL WHERE startsWith(user_id, {prefix:String})`,
    p,
  );
  const changes = await rows<Record<string, unknown>>(
    client,
    `SELECT user_id, from_tier, to_tier, toUnixTimestamp64Milli(changed_at) AS changed_at, lifetime_spend, toString(event_id) AS event_id
     FROM ${T.tierChanges} FINAL WHERE startsWith(user_id, {prefix:String})`,
    p,
  );
  const batches = num(prog?.batches);
  return {
    events: { rows: num(ev?.rows), distinct: num(ev?.distinct), revenue: num(rev?.revenue), orders: num(rev?.orders) },
    eventsByTypeTier: new Map(byTypeTier.map((r) => [r.k, Number(r.n)])),
    eventsBySessionTier: new Map(bySession.map((r) => [r.k, Number(r.n)])),
    late: { rows: num(late?.rows), distinct: num(late?.distinct) },
    deadLetters: Object.fromEntries(dead.map((r) => [r.reason, Number(r.n)])),
    progress: { batches, duplicateRows: num(prog?.dup), lateRows: num(prog?.late), watermark: batches > 0 ? num(prog?.wm) : null },
    sessions: sessions.map((r) => {
      const out: Record<string, unknown> = { counts: {} };
      for (const [k, v] of Object.entries(r)) {
        if (COUNTER_COLUMNS.includes(k)) (out.counts as Record<string, number>)[k] = num(v);
        else out[k] = ['session_id', 'user_id', 'tier', 'status'].includes(k) ? v : num(v);
      }
      return out as unknown as SessionRow;
    }),
    tierChanges: changes.map((r) => ({
      user_id: String(r.user_id),
      from_tier: String(r.from_tier),
      to_tier: String(r.to_tier),
      changed_at: num(r.changed_at),
      lifetime_spend: num(r.lifetime_spend),
      event_id: String(r.event_id),
    })),
  };
}

function check(name: string, target: string, actual: string, passed: boolean): Check {
  return { name, target, actual, passed };
}

const n = (x: number) => x.toLocaleString('en-US');
const within = (name: string, actual: number, expected: number, tol: number): Check =>
  check(name, tol > 0 ? `= ${n(expected)} ± ${n(tol)}` : `= ${n(expected)}`, n(actual), Math.abs(actual - expected) <= tol);

/** Keys whose counts differ between two maps: count and the first few, for the report. */
function mapDiff(expected: Map<string, number>, actual: Map<string, number>): { count: number; examples: string[] } {
  const examples: string[] = [];
  let count = 0;
  for (const k of new Set([...expected.keys(), ...actual.keys()])) {
    const e = expected.get(k) ?? 0;
    const a = actual.get(k) ?? 0;
    if (e !== a) {
      count++;
      if (examples.length < 3) examples.push(`${k}: ${a} (expected ${e})`);
    }
  }
  return { count, examples };
}

const diffCheck = (name: string, d: { count: number; examples: string[] }, what: string): Check =>
  check(name, `0 ${what} differ`, d.count === 0 ? '0' : `${n(d.count)} differ, e.g. ${d.examples.join('; ')}`, d.count === 0);

/**
 * Compares one session with its row; returns what differs (empty when equal within the tolerances).
 * `superseded`: the user has a later session. A job may close such a session as soon as the later
 * session's first event (more than 30 min after its end) is applied, before the watermark passes.
 */
export function sessionDiff(e: ExpectedSession, a: SessionRow | undefined, jobWatermark: number, modelWatermark: number, superseded = false): string[] {
  if (!a) return ['missing'];
  const out: string[] = [];
  for (const f of SESSION_FIELDS) if (e[f] !== a[f]) out.push(`${f} ${String(a[f])} (expected ${String(e[f])})`);
  for (const c of COUNTER_COLUMNS) if (e.counts[c] !== a.counts[c]) out.push(`${c} ${String(a.counts[c])} (expected ${String(e.counts[c])})`);
  if (Math.abs(e.revenue - a.revenue) > 0.005) out.push(`revenue ${a.revenue} (expected ${e.revenue})`);
  const mustClose = closedAt(e, jobWatermark);
  const mayClose = superseded || closedAt(e, Math.max(jobWatermark, modelWatermark));
  if (a.status !== 'closed' && a.status !== 'active') out.push(`status ${a.status}`);
  else if (a.status === 'active' && mustClose) out.push(`active, expected closed (${e.ended_by})`);
  else if (a.status === 'closed' && !mayClose) out.push('closed before the watermark passed end + 30 min');
  const abandoned = cartAbandoned(e, a.status === 'closed') ? 1 : 0;
  if (a.cart_abandoned !== abandoned) out.push(`cart_abandoned ${a.cart_abandoned} (expected ${abandoned} for a ${a.status} session)`);
  return out;
}

/** The ground-truth checks, from the expectation and what ClickHouse holds (pure). */
export function groundTruthChecks(gt: GroundTruth, f: ClickHouseFacts): Check[] {
  const amb = gt.ambiguous.lateBoundary;
  const checks: Check[] = [];
  checks.push(
    check(
      'ground truth independent of batching',
      '0 near watermark, 0 out of user order',
      `${n(gt.ambiguous.lateBoundary)} near watermark, ${n(gt.ambiguous.userOrder)} out of user order`,
      gt.ambiguous.lateBoundary === 0 && gt.ambiguous.userOrder === 0,
    ),
  );
  checks.push(within('events rows (valid, on time, first of their id)', f.events.rows, gt.accepted, amb));
  checks.push(check('no event_id twice in events', '= 0 repeated', n(f.events.rows - f.events.distinct), f.events.rows === f.events.distinct));
  checks.push(
    f.progress.batches === 0
      ? check('duplicates dropped (pipeline_progress)', `= ${n(gt.duplicates)}`, 'n/a (no pipeline_progress rows for the run)', false)
      : within('duplicates dropped (pipeline_progress)', f.progress.duplicateRows, gt.duplicates, 0),
  );
  checks.push(within('late events (late_events)', f.late.rows, gt.late, amb));
  if (f.progress.batches > 0) checks.push(within('late rows (pipeline_progress)', f.progress.lateRows, gt.late, amb));
  for (const reason of DEAD_LETTER_REASONS) checks.push(within(`dead letters: ${reason}`, f.deadLetters[reason] ?? 0, gt.deadLetters[reason], 0));
  const otherReasons = Object.keys(f.deadLetters).filter((r) => !(DEAD_LETTER_REASONS as readonly string[]).includes(r));
  if (otherReasons.length > 0) checks.push(check('dead letters: other reasons', 'none', otherReasons.map((r) => `${r}: ${f.deadLetters[r]}`).join(', '), false));
  checks.push(within('orders (PURCHASE events)', f.events.orders, gt.orders, 0));
  checks.push(
    check('revenue (PURCHASE events)', `= ${gt.revenue.toFixed(2)} ± 0.01`, f.events.revenue.toFixed(2), Math.abs(f.events.revenue - gt.revenue) <= 0.01 + 1e-12 * Math.abs(gt.revenue)),
  );
  checks.push(diffCheck('events by type and tier', mapDiff(gt.eventsByTypeTier, f.eventsByTypeTier), 'type|tier counts'));
  checks.push(diffCheck('events by session and tier', mapDiff(gt.eventsBySessionTier, f.eventsBySessionTier), 'session|tier counts'));

  // Sessions.
  const jobWm = f.progress.watermark ?? gt.finalWatermark;
  const actual = new Map(f.sessions.map((s) => [s.session_id, s]));
  let mismatched = 0;
  const examples: string[] = [];
  let mustClose = 0;
  let mayClose = 0;
  let abandonedMin = 0;
  let abandonedMax = 0;
  const lastStart = new Map<string, number>();
  for (const e of gt.sessions) lastStart.set(e.user_id, Math.max(lastStart.get(e.user_id) ?? -Infinity, e.start_time));
  for (const e of gt.sessions) {
    const superseded = e.start_time < lastStart.get(e.user_id)!;
    const must = closedAt(e, jobWm);
    const may = superseded || closedAt(e, Math.max(jobWm, gt.finalWatermark));
    if (must) mustClose++;
    if (may) mayClose++;
    if (cartAbandoned(e, true)) {
      if (must) abandonedMin++;
      if (may) abandonedMax++;
    }
    const d = sessionDiff(e, actual.get(e.session_id), jobWm, gt.finalWatermark, superseded);
    if (d.length > 0) {
      mismatched++;
      if (examples.length < 3) examples.push(`${e.session_id}: ${d.join(', ')}`);
    }
  }
  const expectedIds = new Set(gt.sessions.map((s) => s.session_id));
  const extra = f.sessions.filter((s) => !expectedIds.has(s.session_id));
  checks.push(within('sessions', f.sessions.length, gt.sessions.length, 0));
  checks.push(
    check(
      'sessions matching the model (every field)',
      '0 differ',
      mismatched + extra.length === 0
        ? '0'
        : `${n(mismatched)} differ, ${n(extra.length)} unexpected; ${[...examples, ...extra.slice(0, 1).map((s) => `${s.session_id}: unexpected`)].join('; ')}`,
      mismatched + extra.length === 0,
    ),
  );
  const closedActual = f.sessions.filter((s) => expectedIds.has(s.session_id) && s.status === 'closed').length;
  checks.push(
    check(
      'closed sessions (LOGOUT, or watermark past end + 30 min)',
      mustClose === mayClose ? `= ${n(mustClose)}` : `${n(mustClose)}..${n(mayClose)} (job watermark .. model's final)`,
      n(closedActual),
      closedActual >= mustClose && closedActual <= mayClose,
    ),
  );
  const abandonedActual = f.sessions.filter((s) => s.cart_abandoned === 1).length;
  checks.push(
    check('cart-abandoned sessions', abandonedMin === abandonedMax ? `= ${n(abandonedMin)}` : `${n(abandonedMin)}..${n(abandonedMax)}`, n(abandonedActual), abandonedActual >= abandonedMin && abandonedActual <= abandonedMax),
  );

  // Funnel: sessions reaching each stage, per session tier.
  for (const tier of TIERS) {
    const got = [0, 0, 0, 0];
    for (const s of f.sessions) if (s.tier === tier) for (let k = 0; k < Math.min(4, s.funnel_stage); k++) got[k]!++;
    const want = gt.funnel[tier];
    checks.push(check(`funnel ${tier} (view / cart / checkout / purchase)`, `= ${want.map(n).join(' / ')}`, got.map(n).join(' / '), got.every((g, k) => g === want[k])));
  }

  // Tier changes and final tiers.
  const key = (c: { user_id: string; from_tier: string; to_tier: string; changed_at: number; event_id: string }) =>
    `${c.user_id}|${c.from_tier}>${c.to_tier}|${c.changed_at}|${c.event_id}`;
  const wantChanges = new Map(gt.tierChanges.map((c) => [key(c), c.lifetime_spend]));
  let changeDiffs = 0;
  const changeExamples: string[] = [];
  const seen = new Set<string>();
  for (const c of f.tierChanges) {
    const k = key(c);
    const spend = wantChanges.get(k);
    if (spend === undefined || seen.has(k) || Math.abs(spend - c.lifetime_spend) > 1e-6 * Math.max(1, spend)) {
      changeDiffs++;
      if (changeExamples.length < 3) changeExamples.push(`${k} spend ${c.lifetime_spend}${spend === undefined ? ' (unexpected)' : seen.has(k) ? ' (twice)' : ` (expected ${spend})`}`);
    }
    seen.add(k);
  }
  for (const k of wantChanges.keys()) {
    if (!seen.has(k)) {
      changeDiffs++;
      if (changeExamples.length < 3) changeExamples.push(`${k} missing`);
    }
  }
  checks.push(within('tier changes', f.tierChanges.length, gt.tierChanges.length, 0));
  checks.push(check('tier changes matching the model', '0 differ', changeDiffs === 0 ? '0' : `${n(changeDiffs)} differ, e.g. ${changeExamples.join('; ')}`, changeDiffs === 0));
  const last = new Map<string, TierChangeRow>();
  for (const c of f.tierChanges) {
    const prev = last.get(c.user_id);
    if (!prev || c.changed_at > prev.changed_at || (c.changed_at === prev.changed_at && c.event_id > prev.event_id)) last.set(c.user_id, c);
  }
  const finalWant = emptyTierCounts();
  const finalGot = emptyTierCounts();
  for (const [user, tier] of gt.finalTiers) {
    finalWant[tier]++;
    const initial = gt.initialTiers.get(user) ?? 'Bronze';
    const got = (last.get(user)?.to_tier ?? initial) as Tier;
    if (got in finalGot) finalGot[got]++;
  }
  checks.push(
    check(
      'users per final tier (Bronze / Silver / Gold / Platinum)',
      `= ${TIERS.map((t) => n(finalWant[t])).join(' / ')}`,
      TIERS.map((t) => n(finalGot[t])).join(' / '),
      TIERS.every((t) => finalWant[t] === finalGot[t]),
    ),
  );
  return checks;
}

/** Fetches what ClickHouse holds for the run and compares it with the expectation. */
export async function compareWithClickHouse(client: ClickHouseClient, scope: RunScope, expected: GroundTruth): Promise<Check[]> {
  return groundTruthChecks(expected, await fetchClickHouseFacts(client, scope));
}

/**
 * The largest event_time the job has seen before a run (its watermark is this - delay): the newest
 * event in `events`, or the last reported watermark + delay if later. -Infinity on an empty stack.
 */
export async function jobMaxEventTime(client: ClickHouseClient, watermarkDelayMs = DEFAULT_WATERMARK_DELAY_MS): Promise<number> {
  const [r] = await rows<{ e: string | null; w: string | null; n: string; b: string }>(
    client,
    `SELECT (SELECT toUnixTimestamp64Milli(max(event_time)) FROM ${T.events}) AS e, (SELECT count() FROM ${T.events}) AS n,
            (SELECT toUnixTimestamp64Milli(max(watermark)) FROM ${T.pipelineProgress}) AS w, (SELECT count() FROM ${T.pipelineProgress}) AS b`,
  );
  const e = r && Number(r.n) > 0 ? Number(r.e) : -Infinity;
  const w = r && Number(r.b) > 0 && Number(r.w) > 0 ? Number(r.w) + watermarkDelayMs : -Infinity;
  return Math.max(e, w);
}

/**
 * The expectation for what `produced` sent (its RecordLog and user dimension).
 * `initialMaxEventTime` must be what the job had seen before the run (jobMaxEventTime before producing).
 */
export function expectationFor(
  produced: ProduceResult,
  o: { initialMaxEventTime?: number; watermarkDelayMs?: number; ambiguityMs?: number } = {},
): { expected: GroundTruth; modelMs: number } {
  if (!produced.log) throw new Error('the producer did not record its records (record: false): no ground truth');
  const t0 = performance.now();
  const expected = computeGroundTruth(produced.log.records(), {
    watermarkDelayMs: o.watermarkDelayMs,
    initialMaxEventTime: o.initialMaxEventTime !== undefined && Number.isFinite(o.initialMaxEventTime) ? o.initialMaxEventTime : undefined,
    lifetimeSpend: new Map(produced.users.map((u) => [u.user_id, u.lifetime_spend])),
    ambiguityMs: o.ambiguityMs ?? produced.ambiguityMs,
    keepRows: false,
  });
  return { expected, modelMs: performance.now() - t0 };
}

/** Closed sessions of the run's users (the latest version of each). */
export async function closedSessions(client: ClickHouseClient, userPrefix: string): Promise<number> {
  const [r] = await rows<{ n: string }>(
    client,
    `SELECT count() AS n FROM ${T.sessions} FINAL WHERE startsWith(user_id, {prefix:String}) AND status = 'closed'`,
    { prefix: userPrefix },
  );
  return Number(r?.n ?? 0);
}

/** Epoch ms of the job's newest pipeline_progress row (0 when it has none): a run's scope starts after it. */
export async function latestBatchTime(client: ClickHouseClient): Promise<number> {
  const [r] = await rows<{ t: string; b: string }>(client, `SELECT toUnixTimestamp64Milli(max(batch_time)) AS t, count() AS b FROM ${T.pipelineProgress}`);
  return r && Number(r.b) > 0 ? Number(r.t) : 0;
}

/** Durations (ms) of the newest `limit` batches after `afterBatchTime` that read at least `minRows` records, newest first. */
export async function newestBatchDurations(client: ClickHouseClient, afterBatchTime: number, limit: number, minRows: number): Promise<number[]> {
  const found = await rows<{ ms: string }>(
    client,
    `SELECT batch_duration_ms AS ms FROM ${T.pipelineProgress} FINAL WHERE ${AFTER_BATCH} AND num_input_rows >= {minRows:UInt64}
     ORDER BY batch_id DESC LIMIT {limit:UInt32}`,
    { after: Math.round(afterBatchTime), limit, minRows: Math.floor(minRows) },
  );
  return found.map((r) => Number(r.ms));
}

/**
 * Records the job read (both topics) in its batches after `afterBatchTime`, by their progress rows.
 * A batch's row is written after its inserts: the drain waits for it before comparing.
 */
export async function progressInputRows(client: ClickHouseClient, afterBatchTime: number): Promise<number> {
  const [r] = await rows<{ n: string }>(client, `SELECT sum(num_input_rows) AS n FROM ${T.pipelineProgress} FINAL WHERE ${AFTER_BATCH}`, {
    after: Math.round(afterBatchTime),
  });
  return Number(r?.n ?? 0);
}

/** Rows of `late_events` from the run's offsets (for the drain: late records land there, not in events). */
export async function lateRows(client: ClickHouseClient, ranges: OffsetRanges): Promise<number> {
  const [r] = await rows<{ n: string }>(client, `SELECT count() AS n FROM ${T.lateEvents} WHERE ${offsetPredicate(ranges)}`);
  return Number(r?.n ?? 0);
}

/** The expectation in a few figures, for the report. */
export function groundTruthSummary(gt: GroundTruth, modelMs?: number) {
  return {
    records: gt.records,
    accepted: gt.accepted,
    duplicates: gt.duplicates,
    late: gt.late,
    dead_letters: gt.invalid,
    sessions: gt.sessions.length,
    sessions_closed: gt.sessions.filter((s) => s.status === 'closed').length,
    tier_changes: gt.tierChanges.length,
    orders: gt.orders,
    revenue: Math.round(gt.revenue * 100) / 100,
    final_watermark: Number.isFinite(gt.finalWatermark) ? new Date(gt.finalWatermark).toISOString() : null,
    ambiguous: gt.ambiguous,
    ...(modelMs !== undefined ? { model_ms: Math.round(modelMs) } : {}),
  };
}
