package dev.speedlayer.job

import java.nio.charset.StandardCharsets
import java.sql.Timestamp
import java.time.Instant

import org.apache.spark.sql.SparkSession

/** One local SparkSession for all suites (local[2], UI off, the job's own SQL settings). */
object TestSpark {
  lazy val session: SparkSession = {
    val builder = SparkSession
      .builder()
      .master("local[2]")
      .appName("speedlayer-tests")
      .config("spark.ui.enabled", "false")
      .config("spark.sql.streaming.noDataProgressEventInterval", "100ms")
      .config("spark.sql.adaptive.enabled", "false")
      // The job's transformWithState runs in processing time, whose operator always asks
      // for another (no-data) batch; with no-data batches on, a query never becomes idle and
      // StreamingQuery.processAllAvailable() never returns. Timers are tested with InMemoryProcessorHandle,
      // and through the engine by StatefulPipelineSuite, which turns them on in its own session.
      .config("spark.sql.streaming.noDataMicroBatches.enabled", "false")
      .config(JobSparkConf.settings(shufflePartitions = 2))
    builder.getOrCreate()
  }
}

trait SharedSpark {
  def spark: SparkSession = TestSpark.session
}

/** A row exactly as Spark's Kafka source produces it (same column names and types). */
final case class KafkaSourceRow(
    key: Array[Byte],
    value: Array[Byte],
    topic: String,
    partition: Int,
    offset: Long,
    timestamp: Timestamp,
    timestampType: Int)

object Fixtures {
  val Topic = "speedlayer.events"
  val KafkaTime: Instant = Instant.parse("2025-01-15T10:00:05.000Z")
  val Limits: Limits = Contract.pipeline.limits

  def utf8(s: String): Array[Byte] = s.getBytes(StandardCharsets.UTF_8)

  def source(value: Array[Byte], offset: Long, partition: Int = 0, at: Instant = KafkaTime): KafkaSourceRow =
    KafkaSourceRow(utf8("user-1"), value, Topic, partition, offset, Timestamp.from(at), 0)

  def record(value: Array[Byte], offset: Long = 42L, partition: Int = 3, at: Instant = KafkaTime): KafkaRecord =
    KafkaRecord(value, Topic, partition, offset, at)

  val Uuid = "0b5c2f3e-8a4d-4c1b-9f2e-7d6a5b4c3d2e"

  /** The common fields, in the order the generator writes them. */
  def base(eventType: String, uuid: String = Uuid): String =
    s""""schema_version":1,"event_id":"$uuid","event_type":"$eventType","event_time":"2025-01-15T10:00:00.123Z","user_id":"user-1","device":"mobile","produced_at":1736935200456"""

  /** A valid event of each of the 9 types. */
  val validEvents: Seq[(String, String)] = Seq(
    "PAGE_VIEW" -> s"""{${base("PAGE_VIEW", "00000000-0000-4000-8000-000000000001")},"page":"/home"}""",
    "PRODUCT_VIEW" -> s"""{${base("PRODUCT_VIEW", "00000000-0000-4000-8000-000000000002")},"product_id":"p-7","category":"shoes","price":59.9}""",
    "SEARCH" -> s"""{${base("SEARCH", "00000000-0000-4000-8000-000000000003")},"query":"red shoes"}""",
    "ADD_TO_CART" -> s"""{${base("ADD_TO_CART", "00000000-0000-4000-8000-000000000004")},"product_id":"p-7","category":"shoes","price":59.9,"quantity":2}""",
    "REMOVE_FROM_CART" -> s"""{${base("REMOVE_FROM_CART", "00000000-0000-4000-8000-000000000005")},"product_id":"p-7","category":"shoes","price":59.9,"quantity":1}""",
    "PURCHASE" -> (s"""{${base("PURCHASE", "00000000-0000-4000-8000-000000000006")},"order_id":"o-1","items":[""" +
      """{"product_id":"p-7","quantity":2,"price":59.9},{"product_id":"p-8","quantity":1,"price":10}],"revenue":129.8,"currency":"EUR"}"""),
    "CHECKOUT_START" -> s"""{${base("CHECKOUT_START", "00000000-0000-4000-8000-000000000007")}}""",
    "LOGIN" -> s"""{${base("LOGIN", "00000000-0000-4000-8000-000000000008")}}""",
    "LOGOUT" -> s"""{${base("LOGOUT", "00000000-0000-4000-8000-000000000009")}}""")

  val EventTime: Instant = Instant.parse("2025-01-15T10:00:00.123Z")
  val ProducedAt: Instant = Instant.ofEpochMilli(1736935200456L)

  /** The events row of a valid event, with every optional column at its DEFAULT. */
  def row(eventType: String, uuid: String, partition: Int, offset: Long): EventRow =
    EventRow(
      event_id = uuid,
      event_type = eventType,
      event_time = EventTime,
      user_id = "user-1",
      device = "mobile",
      page = "",
      product_id = "",
      category = "",
      price = 0.0,
      quantity = 0L,
      search_query = "",
      order_id = "",
      items_count = 0L,
      revenue = 0.0,
      currency = "",
      produced_at = ProducedAt,
      kafka_partition = partition,
      kafka_offset = offset)

  /** The expected rows of [[validEvents]], read at offsets 0..8 of partition 0. */
  val validRows: Seq[EventRow] = {
    def r(i: Int, t: String) = row(t, f"00000000-0000-4000-8000-0000000000${i + 1}%02d", 0, i.toLong)
    Seq(
      r(0, "PAGE_VIEW").copy(page = "/home"),
      r(1, "PRODUCT_VIEW").copy(product_id = "p-7", category = "shoes", price = 59.9),
      r(2, "SEARCH").copy(search_query = "red shoes"),
      r(3, "ADD_TO_CART").copy(product_id = "p-7", category = "shoes", price = 59.9, quantity = 2),
      r(4, "REMOVE_FROM_CART").copy(product_id = "p-7", category = "shoes", price = 59.9, quantity = 1),
      r(5, "PURCHASE").copy(order_id = "o-1", items_count = 2, revenue = 129.8, currency = "EUR"),
      r(6, "CHECKOUT_START"),
      r(7, "LOGIN"),
      r(8, "LOGOUT"))
  }

  def deadLetter(reason: String, error: String, payload: Array[Byte], partition: Int, offset: Long): DeadLetterRow =
    DeadLetterRow(
      reason = reason,
      error = error,
      raw_payload = new String(payload, StandardCharsets.UTF_8),
      payload_bytes = payload.length.toLong,
      source_topic = Topic,
      kafka_partition = partition,
      kafka_offset = offset,
      kafka_timestamp = KafkaTime)
}
