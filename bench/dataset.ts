/**
 * The benchmark's synthetic hour, generated inside ClickHouse (INSERT ... SELECT FROM numbers(N)) so
 * that 36M rows load at the engine's speed, not at the speed of a client.
 *
 * Shape (all deterministic functions of the row number, except the random event_id):
 * - event times spread evenly over [end - span, end) (10,000 events/s for the default 36M / 1 h);
 * - sessions: `lanes` parallel session lanes; a lane runs back-to-back 2-minute sessions (the phase of
 *   each lane is shifted), so about lanes x 31 sessions in an hour, each with one user and one device;
 * - ~20k users, each with a fixed tier (60% Bronze, 25% Silver, 12% Gold, 3% Platinum);
 * - the 9 event types in the load generator's mix (src/loadgen/events.ts, measured over 500k events):
 *   PRODUCT_VIEW 29.6%, PAGE_VIEW 22.7%, ADD_TO_CART 12.7%, SEARCH 12.7%, LOGOUT 10.1%, LOGIN 5.0%,
 *   CHECKOUT_START 3.0%, REMOVE_FROM_CART 2.1%, PURCHASE 2.1%; a lane's intent caps the funnel of its
 *   sessions (45% browse only, 30% reach the cart, 7.5% check out and leave, 17.5% buy): a cart, checkout
 *   or purchase event goes to a lane that gets that far, so the mix stays exact and the funnel is realistic;
 * - 2,000 products with a skewed popularity (index = 2000 * u^2), 8 categories; revenue on PURCHASE only.
 */

export interface DatasetSpec {
  events: number;
  /** Epoch ms of the end of the data (exclusive). */
  endMs: number;
  spanMs: number;
  users: number;
  products: number;
  /** Parallel session lanes; sessions ~= lanes * (span / 2 min + 1). */
  lanes: number;
}

export const SLOT_MS = 120_000;

function int(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${n}`);
  return String(n);
}

/** Session intents (share of lanes): 17.5% buy, 7.5% check out without buying, 30% leave a cart, 45% only browse. */
export function funnelLanes(total: number): { buy: number; checkout: number; cart: number } {
  return {
    buy: Math.max(1, Math.round(total * 0.175)),
    checkout: Math.max(1, Math.round(total * 0.25)),
    cart: Math.max(1, Math.round(total * 0.55)),
  };
}

/** The per-row derivations shared by the events insert (one row per `number`). */
function eventsSelect(s: DatasetSpec): string {
  const startMs = s.endMs - s.spanMs;
  const lanes = funnelLanes(s.lanes);
  return `
SELECT
    generateUUIDv4(n) AS event_id,
    event_type,
    event_time,
    user_id,
    device,
    if(event_type = 'PAGE_VIEW', ['/', '/deals', '/category', '/help', '/account', '/cart'][r2 % 6 + 1], '') AS page,
    if(is_product, product_id0, '') AS product_id,
    if(is_product, ['electronics', 'books', 'fashion', 'home', 'sports', 'toys', 'beauty', 'grocery'][product_num % 8 + 1], '') AS category,
    if(is_product, round(5 + (cityHash64(product_num) % 49500) / 100, 2), 0) AS price,
    if(event_type IN ('ADD_TO_CART', 'REMOVE_FROM_CART'), toUInt32(1 + r2 % 3), 0) AS quantity,
    if(event_type = 'SEARCH', ['headphones', 'running shoes', 'coffee maker', 'novel', 'lego', 'yoga mat', 'laptop', 'jacket'][r2 % 8 + 1], '') AS search_query,
    if(event_type = 'PURCHASE', concat('o', toString(n)), '') AS order_id,
    if(event_type = 'PURCHASE', toUInt32(1 + r2 % 6), 0) AS items_count,
    if(event_type = 'PURCHASE', round(items_count * (5 + (cityHash64(n, 5) % 49500) / 100), 2), 0) AS revenue,
    if(event_type = 'PURCHASE', 'EUR', '') AS currency,
    event_time + toIntervalMillisecond(1) AS produced_at,
    toUInt16(cityHash64(user_id) % 6) AS kafka_partition,
    n AS kafka_offset,
    event_time + toIntervalMillisecond(800) AS inserted_at,
    ['Bronze', 'Silver', 'Gold', 'Platinum'][multiIf(cityHash64(user_num, 11) % 100 < 60, 1, cityHash64(user_num, 11) % 100 < 85, 2, cityHash64(user_num, 11) % 100 < 97, 3, 4)] AS tier,
    lower(hex(sh)) AS session_id
FROM
(
    SELECT
        number AS n,
        intDiv(n * ${int(s.spanMs)}, ${int(s.events)}) AS off_ms,
        fromUnixTimestamp64Milli(toInt64(${int(startMs)} + off_ms), 'UTC') AS event_time,
        cityHash64(n, 7) % 1000 AS r,
        cityHash64(n, 9) AS r2,
        multiIf(r < 296, 'PRODUCT_VIEW', r < 523, 'PAGE_VIEW', r < 650, 'ADD_TO_CART', r < 777, 'SEARCH', r < 878, 'LOGOUT',
                r < 928, 'LOGIN', r < 958, 'CHECKOUT_START', r < 979, 'REMOVE_FROM_CART', 'PURCHASE') AS event_type,
        -- Lanes [0, buy) buy, [buy, checkout) check out and leave, [checkout, cart) leave a cart, the rest only browse:
        -- an event of a funnel stage goes to a lane that reaches that stage, so the mix stays exact.
        intHash32(n) % multiIf(event_type = 'PURCHASE', ${int(lanes.buy)}, event_type = 'CHECKOUT_START', ${int(lanes.checkout)},
                               event_type IN ('ADD_TO_CART', 'REMOVE_FROM_CART'), ${int(lanes.cart)}, ${int(s.lanes)}) AS lane,
        intDiv(off_ms + (lane * 7919) % ${SLOT_MS}, ${SLOT_MS}) AS slot,
        cityHash64(lane, slot) AS sh,
        sh % ${int(s.users)} AS user_num,
        concat('u', leftPad(toString(user_num), 6, '0')) AS user_id,
        ['desktop', 'mobile', 'tablet'][sh % 3 + 1] AS device,
        event_type IN ('PRODUCT_VIEW', 'ADD_TO_CART', 'REMOVE_FROM_CART') AS is_product,
        toUInt32(floor(${int(s.products)} * pow((cityHash64(n, 3) % 1000000) / 1000000, 2))) AS product_num,
        concat('p', leftPad(toString(product_num), 5, '0')) AS product_id0
    FROM numbers(${int(s.events)})
)`;
}

export const EVENT_COLUMNS =
  'event_id, event_type, event_time, user_id, device, page, product_id, category, price, quantity, search_query, order_id, ' +
  'items_count, revenue, currency, produced_at, kafka_partition, kafka_offset, inserted_at, tier, session_id';

export function insertEventsSql(s: DatasetSpec): string {
  return `INSERT INTO events (${EVENT_COLUMNS})${eventsSelect(s)}`;
}

const SESSION_COLUMNS =
  'session_id, user_id, tier, start_time, end_time, duration_ms, events_total, page_views, product_views, searches, cart_adds, ' +
  'cart_removes, checkouts, purchases, revenue, products_viewed, funnel_stage, converted, cart_abandoned, status, version';

/**
 * The sessions of the loaded events, as the job would write them finally: aggregated from `events`.
 * A session is closed when its last event is older than the 30-minute timeout, or (for 60% of them,
 * by their id) when it ended with a LOGOUT and its 2-minute slot is over; the others are still active.
 */
export function insertSessionsSql(s: DatasetSpec): string {
  return `INSERT INTO sessions (${SESSION_COLUMNS})
SELECT session_id, user_id, tier, start_time, end_time, duration_ms, events_total, page_views, product_views, searches, cart_adds,
       cart_removes, checkouts, purchases, revenue, products_viewed, funnel_stage, converted,
       toUInt8(status = 'closed' AND cart_adds > 0 AND purchases = 0) AS cart_abandoned, status, 2 AS version
FROM
(
    SELECT session_id,
           any(user_id) AS user_id,
           any(tier) AS tier,
           min(event_time) AS start_time,
           max(event_time) AS end_time,
           toUInt64(dateDiff('millisecond', start_time, end_time)) AS duration_ms,
           toUInt32(count()) AS events_total,
           toUInt32(countIf(event_type = 'PAGE_VIEW')) AS page_views,
           toUInt32(countIf(event_type = 'PRODUCT_VIEW')) AS product_views,
           toUInt32(countIf(event_type = 'SEARCH')) AS searches,
           toUInt32(countIf(event_type = 'ADD_TO_CART')) AS cart_adds,
           toUInt32(countIf(event_type = 'REMOVE_FROM_CART')) AS cart_removes,
           toUInt32(countIf(event_type = 'CHECKOUT_START')) AS checkouts,
           toUInt32(countIf(event_type = 'PURCHASE')) AS purchases,
           sum(revenue) AS revenue,
           toUInt32(uniqExactIf(product_id, event_type = 'PRODUCT_VIEW')) AS products_viewed,
           toUInt8(multiIf(purchases > 0, 4, checkouts > 0, 3, cart_adds > 0, 2, product_views > 0, 1, 0)) AS funnel_stage,
           toUInt8(purchases > 0) AS converted,
           if(end_time < fromUnixTimestamp64Milli(toInt64(${int(s.endMs - 30 * 60_000)}), 'UTC')
              OR (cityHash64(session_id) % 10 < 6 AND end_time < fromUnixTimestamp64Milli(toInt64(${int(s.endMs - SLOT_MS)}), 'UTC')),
              'closed', 'active') AS status
    FROM events
    GROUP BY session_id
)`;
}

/** An earlier upsert of every session (version 1, still active): FINAL must keep the version-2 rows. */
export function insertSessionUpsertsSql(): string {
  return `INSERT INTO sessions (${SESSION_COLUMNS})
SELECT session_id, user_id, tier, start_time, end_time - toIntervalMillisecond(intDiv(duration_ms, 2)), intDiv(duration_ms, 2),
       intDiv(events_total, 2), intDiv(page_views, 2), intDiv(product_views, 2), intDiv(searches, 2), intDiv(cart_adds, 2),
       intDiv(cart_removes, 2), intDiv(checkouts, 2), intDiv(purchases, 2), revenue / 2, intDiv(products_viewed, 2),
       funnel_stage, converted, 0, 'active', 1
FROM sessions`;
}

/** Dead letters (0.3% of the records, four reasons) and late events (0.1%), spread over the hour. */
export function insertSideTablesSql(s: DatasetSpec): string[] {
  const startMs = s.endMs - s.spanMs;
  const dead = Math.round(s.events * 0.003);
  const late = Math.round(s.events * 0.001);
  const batches = Math.floor(s.spanMs / 2000);
  return [
    `INSERT INTO dead_letters (reason, error, raw_payload, payload_bytes, source_topic, kafka_partition, kafka_offset, kafka_timestamp)
     SELECT ['schema', 'invalid_json', 'not_utf8', 'too_large'][multiIf(number % 10 < 6, 1, number % 10 < 8, 2, number % 10 < 9, 3, 4)] AS reason,
            '$.event_type: does not have a value in the enumeration' AS error,
            concat('{"event_id":"', toString(number), '","event_type":"TELEPORT"}') AS raw_payload,
            toUInt32(length(raw_payload)),
            'speedlayer.events', toUInt16(number % 6), number,
            fromUnixTimestamp64Milli(toInt64(${int(startMs)} + intDiv(number * ${int(s.spanMs)}, ${int(Math.max(dead, 1))})), 'UTC')
     FROM numbers(${int(dead)})`,
    `INSERT INTO late_events (event_id, event_type, event_time, user_id, device, kafka_partition, kafka_offset, tier, session_id, watermark)
     SELECT generateUUIDv4(number), 'PAGE_VIEW',
            watermark - toIntervalSecond(30 + number % 600) AS event_time,
            concat('u', leftPad(toString(number % ${int(s.users)}), 6, '0')), 'mobile', toUInt16(number % 6), number, 'Bronze', '',
            fromUnixTimestamp64Milli(toInt64(${int(startMs)} + intDiv(number * ${int(s.spanMs)}, ${int(Math.max(late, 1))})), 'UTC') AS watermark
     FROM numbers(${int(late)})`,
    `INSERT INTO pipeline_progress (query_name, batch_id, batch_time, num_input_rows, input_rows_per_second, processed_rows_per_second,
                                    batch_duration_ms, watermark, late_rows, duplicate_rows, dead_letter_rows)
     SELECT 'speedlayer-events', number,
            fromUnixTimestamp64Milli(toInt64(${int(startMs)} + number * 2000), 'UTC') AS batch_time,
            20000, 10000, 12000, 1500, batch_time - toIntervalMinute(2), 20, 10, 60
     FROM numbers(${int(batches)})`,
    `INSERT INTO users (user_id, signup_time, country, lifetime_spend, updated_at)
     SELECT concat('u', leftPad(toString(number), 6, '0')),
            fromUnixTimestamp64Milli(toInt64(${int(startMs)}) - toInt64(number * 3600000), 'UTC'),
            ['DE', 'FR', 'US', 'GB', 'NL', 'PL'][number % 6 + 1], (cityHash64(number) % 2000000) / 100,
            fromUnixTimestamp64Milli(toInt64(${int(startMs)}), 'UTC')
     FROM numbers(${int(s.users)})`,
  ];
}
