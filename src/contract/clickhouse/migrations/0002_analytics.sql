-- Analytics tables of issue 3: tiers and sessions on events, late events, sessions, tier changes,
-- the user dimension, pipeline progress, and per-minute rollups of events (materialized views into
-- AggregatingMergeTree) that the dashboard queries read. Engines, keys and TTLs are explained in
-- docs/clickhouse.md. Every statement is idempotent (IF NOT EXISTS), so a migration interrupted half
-- way is simply run again. Retention (7 days) can be changed per table with ALTER TABLE ... MODIFY TTL.

-- The tier of the user at the time of the event, and the session the event belongs to.
ALTER TABLE events ADD COLUMN IF NOT EXISTS tier LowCardinality(String) DEFAULT '';
ALTER TABLE events ADD COLUMN IF NOT EXISTS session_id String DEFAULT '';

-- Dead letters are read by arrival time (dashboard: dead-letter rate); offsets grow with time, so a
-- minmax index on kafka_timestamp skips the old granules. Small table: materialized at once.
ALTER TABLE dead_letters ADD INDEX IF NOT EXISTS idx_kafka_timestamp kafka_timestamp TYPE minmax GRANULARITY 1;
ALTER TABLE dead_letters MATERIALIZE INDEX idx_kafka_timestamp;

-- Events that arrived older than the watermark (the watermark at arrival is kept). Partitioned and
-- expired by the watermark (arrival), not by event_time: a very late event still lands in today's
-- partition and is kept 7 days for the report. ReplacingMergeTree on event_id + token dedup.
CREATE TABLE IF NOT EXISTS late_events
(
    event_id        UUID,
    event_type      LowCardinality(String),
    event_time      DateTime64(3, 'UTC'),
    user_id         String,
    device          LowCardinality(String),
    page            String DEFAULT '',
    product_id      String DEFAULT '',
    category        LowCardinality(String) DEFAULT '',
    price           Float64 DEFAULT 0,
    quantity        UInt32 DEFAULT 0,
    search_query    String DEFAULT '',
    order_id        String DEFAULT '',
    items_count     UInt32 DEFAULT 0,
    revenue         Float64 DEFAULT 0,
    currency        LowCardinality(String) DEFAULT '',
    produced_at     DateTime64(3, 'UTC') DEFAULT 0,
    kafka_partition UInt16,
    kafka_offset    UInt64,
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3),
    tier            LowCardinality(String) DEFAULT '',
    session_id      String DEFAULT '',
    watermark       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(watermark)
ORDER BY (toStartOfHour(watermark), event_id)
TTL toDateTime(watermark) + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- One row per session and version: active sessions are upserted every batch, the closed row is
-- written last with the highest version, so FINAL sees the latest state. Contract for the writer:
-- session_id is deterministic, start_time never changes for a session_id (it is in the partition and
-- sort keys: all versions of a session must share them to replace each other), and end_time never
-- decreases from one version to the next. Sorting by start_time first plus the minmax index on
-- end_time lets "sessions with an event in the last N minutes" skip the granules of older sessions.
CREATE TABLE IF NOT EXISTS sessions
(
    session_id      String,
    user_id         String,
    tier            LowCardinality(String),
    start_time      DateTime64(3, 'UTC'),
    end_time        DateTime64(3, 'UTC'),
    duration_ms     UInt64,
    events_total    UInt32,
    page_views      UInt32,
    product_views   UInt32,
    searches        UInt32,
    cart_adds       UInt32,
    cart_removes    UInt32,
    checkouts       UInt32,
    purchases       UInt32,
    revenue         Float64,
    products_viewed UInt32,
    funnel_stage    UInt8,
    converted       UInt8,
    cart_abandoned  UInt8,
    status          LowCardinality(String),
    version         UInt64,
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_end_time end_time TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toDate(start_time)
ORDER BY (start_time, session_id)
TTL toDateTime(start_time) + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- Every tier change (from_tier -> to_tier) at the event time of the purchase that caused it.
CREATE TABLE IF NOT EXISTS tier_changes
(
    user_id         String,
    from_tier       LowCardinality(String),
    to_tier         LowCardinality(String),
    changed_at      DateTime64(3, 'UTC'),
    lifetime_spend  Float64,
    event_id        UUID,
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(changed_at)
ORDER BY (user_id, changed_at, event_id)
TTL toDateTime(changed_at) + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- The user dimension (initial lifetime spend), published by the load generator; latest row wins.
-- No TTL and no partitioning: a small dimension that must outlive the 7-day speed-layer data.
CREATE TABLE IF NOT EXISTS users
(
    user_id         String,
    signup_time     DateTime64(3, 'UTC'),
    country         LowCardinality(String),
    lifetime_spend  Float64,
    updated_at      DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY user_id
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per streaming query and micro-batch (StreamingQueryProgress plus the job's own counters).
-- A batch replayed after a restart reports the same (query_name, batch_id): the later row wins.
CREATE TABLE IF NOT EXISTS pipeline_progress
(
    query_name                String,
    batch_id                  UInt64,
    batch_time                DateTime64(3, 'UTC'),
    num_input_rows            UInt64,
    input_rows_per_second     Float64,
    processed_rows_per_second Float64,
    batch_duration_ms         UInt64,
    watermark                 DateTime64(3, 'UTC'),
    late_rows                 UInt64,
    duplicate_rows            UInt64,
    dead_letter_rows          UInt64,
    inserted_at               DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(inserted_at)
PARTITION BY toDate(batch_time)
ORDER BY (query_name, batch_id)
TTL toDateTime(batch_time) + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

-- Rollup 1: per minute x tier x event_type. Counts, revenue (PURCHASE rows carry it, so orders =
-- events of type PURCHASE) and distinct users per type. Distinct counts everywhere use
-- uniqCombined(14): ~0.5% error, and merging 60 minutes of states is 3x faster than uniq.
CREATE TABLE IF NOT EXISTS events_by_minute
(
    minute      DateTime('UTC'),
    tier        LowCardinality(String),
    event_type  LowCardinality(String),
    events      AggregateFunction(count),
    revenue     AggregateFunction(sum, Float64),
    users       AggregateFunction(uniqCombined(14), String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (minute, tier, event_type)
TTL minute + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_by_minute_mv TO events_by_minute AS
SELECT toStartOfMinute(toDateTime(event_time, 'UTC')) AS minute,
       tier,
       event_type,
       countState() AS events,
       sumState(revenue) AS revenue,
       uniqCombinedState(14)(user_id) AS users
FROM events
GROUP BY minute, tier, event_type;

-- Rollup 2: per minute x tier, across event types: distinct users, sessions and purchasing
-- sessions (for active users and conversion rate over any window), and the newest event and
-- insert times (freshness without touching the events table).
CREATE TABLE IF NOT EXISTS activity_by_minute
(
    minute              DateTime('UTC'),
    tier                LowCardinality(String),
    events              AggregateFunction(count),
    users               AggregateFunction(uniqCombined(14), String),
    sessions            AggregateFunction(uniqCombined(14), String),
    purchasing_sessions AggregateFunction(uniqCombinedIf(14), String, UInt8),
    last_event_time     AggregateFunction(max, DateTime64(3, 'UTC')),
    last_inserted_at    AggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (minute, tier)
TTL minute + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS activity_by_minute_mv TO activity_by_minute AS
SELECT toStartOfMinute(toDateTime(event_time, 'UTC')) AS minute,
       tier,
       countState() AS events,
       uniqCombinedState(14)(user_id) AS users,
       uniqCombinedState(14)(session_id) AS sessions,
       uniqCombinedIfState(14)(session_id, toUInt8(event_type = 'PURCHASE')) AS purchasing_sessions,
       maxState(event_time) AS last_event_time,
       maxState(inserted_at) AS last_inserted_at
FROM events
GROUP BY minute, tier;

-- Rollup 3: per minute x product: views, cart adds and removes (top products).
CREATE TABLE IF NOT EXISTS products_by_minute
(
    minute       DateTime('UTC'),
    product_id   String,
    category     AggregateFunction(any, LowCardinality(String)),
    views        AggregateFunction(countIf, UInt8),
    cart_adds    AggregateFunction(countIf, UInt8),
    cart_removes AggregateFunction(countIf, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (minute, product_id)
TTL minute + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS products_by_minute_mv TO products_by_minute AS
SELECT toStartOfMinute(toDateTime(event_time, 'UTC')) AS minute,
       product_id,
       anyState(category) AS category,
       countIfState(toUInt8(event_type = 'PRODUCT_VIEW')) AS views,
       countIfState(toUInt8(event_type = 'ADD_TO_CART')) AS cart_adds,
       countIfState(toUInt8(event_type = 'REMOVE_FROM_CART')) AS cart_removes
FROM events
WHERE product_id != '' AND event_type IN ('PRODUCT_VIEW', 'ADD_TO_CART', 'REMOVE_FROM_CART')
GROUP BY minute, product_id;
