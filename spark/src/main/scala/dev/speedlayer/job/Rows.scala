package dev.speedlayer.job

import java.time.Instant

import org.apache.spark.sql.Encoders

/** The columns of Spark's Kafka source that the job uses. */
final case class KafkaRecord(
    value: Array[Byte],
    topic: String,
    partition: Int,
    offset: Long,
    timestamp: Instant)

/**
 * A row of the ClickHouse table `events`. Field names and order are the table's columns
 * (contract/clickhouse/migrations/0001_events.sql) minus `inserted_at`, which ClickHouse
 * fills itself; ContractSuite checks this against the DDL.
 */
final case class EventRow(
    event_id: String,
    event_type: String,
    event_time: Instant,
    user_id: String,
    device: String,
    page: String,
    product_id: String,
    category: String,
    price: Double,
    quantity: Long,
    search_query: String,
    order_id: String,
    items_count: Long,
    revenue: Double,
    currency: String,
    produced_at: Instant,
    kafka_partition: Int,
    kafka_offset: Long)

object EventRow {
  val columns: Seq[String] = Encoders.product[EventRow].schema.fieldNames.toSeq
}

/** A row of the ClickHouse table `dead_letters` (minus `inserted_at`); also the JSON value
 *  published to the dead-letter topic. */
final case class DeadLetterRow(
    reason: String,
    error: String,
    raw_payload: String,
    payload_bytes: Long,
    source_topic: String,
    kafka_partition: Int,
    kafka_offset: Long,
    kafka_timestamp: Instant)

object DeadLetterRow {
  val columns: Seq[String] = Encoders.product[DeadLetterRow].schema.fieldNames.toSeq
}

/** The outcome of validating one record: exactly one of the two is defined. */
final case class Classified(event: Option[EventRow], dead_letter: Option[DeadLetterRow])

/** Values of `dead_letters.reason`. */
object Reason {
  val NotUtf8 = "not_utf8"
  val TooLarge = "too_large"
  val InvalidJson = "invalid_json"
  val Schema = "schema"
  /** event_time more than maxEventTimeAheadSeconds after the record's Kafka timestamp (a wrong clock). */
  val FutureEventTime = "future_event_time"
  /** event_time more than maxEventAgeSeconds before the record's Kafka timestamp (past the horizon). */
  val ExpiredEventTime = "expired_event_time"
}
