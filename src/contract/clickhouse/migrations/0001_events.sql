-- Valid events, one row per event_id. ReplacingMergeTree on the full sort key is the
-- second line of defence against duplicates; insert_deduplication_token (enabled by
-- non_replicated_deduplication_window) makes a replayed Spark batch a no-op.
CREATE TABLE IF NOT EXISTS events
(
    event_id        UUID,
    event_type      LowCardinality(String),
    event_time      DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
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
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(event_time)
ORDER BY (event_type, toStartOfHour(event_time), event_id)
TTL toDateTime(event_time) + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000;

-- Records the pipeline could not accept, with the reason; nothing is dropped silently.
CREATE TABLE IF NOT EXISTS dead_letters
(
    reason          LowCardinality(String),
    error           String,
    raw_payload     String CODEC(ZSTD(3)),
    payload_bytes   UInt32,
    source_topic    LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    kafka_timestamp DateTime64(3, 'UTC'),
    inserted_at     DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(kafka_timestamp)
ORDER BY (source_topic, kafka_partition, kafka_offset)
TTL toDateTime(kafka_timestamp) + INTERVAL 7 DAY
SETTINGS non_replicated_deduplication_window = 1000;
