package dev.speedlayer.job

import java.nio.file.Files
import java.util.concurrent.ConcurrentLinkedQueue

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.{DataFrame, Encoders, Row}
import org.apache.spark.sql.execution.streaming.MemoryStream
import org.apache.spark.sql.streaming.{StreamingQuery, StreamingQueryException}
import org.apache.spark.sql.types.{BinaryType, StringType}
import org.scalatest.BeforeAndAfterEach
import org.scalatest.funsuite.AnyFunSuite

import Fixtures._

/**
 * The foreachBatch sink end to end, on a MemoryStream: JSONEachRow inserts through client-v2
 * into a fake ClickHouse HTTP endpoint, deduplication tokens, retries, failure and replay from
 * the checkpoint, dead letters to the (collected) dead-letter topic.
 */
class SpeedLayerBatchSuite extends AnyFunSuite with SharedSpark with BeforeAndAfterEach {

  private var clickhouse: FakeClickHouse = _
  private val published = new ConcurrentLinkedQueue[Row]()

  override def beforeEach(): Unit = {
    clickhouse = new FakeClickHouse
    published.clear()
  }

  override def afterEach(): Unit = clickhouse.close()

  private val tables = Tables(Contract.pipeline.eventsTable, Contract.pipeline.deadLettersTable)

  private def chConfig = ClickHouseConfig(
    url = clickhouse.url, user = "default", password = "", database = "speedlayer",
    maxAttempts = 3, initialBackoffMs = 10, maxBackoffMs = 20)

  private def newBatch(): SpeedLayerBatch = new SpeedLayerBatch(
    Limits, chConfig, tables,
    publishDeadLetters = (records: DataFrame) => {
      assert(records.schema("key").dataType === BinaryType)
      assert(records.schema("value").dataType === StringType)
      published.addAll(records.collect().toSeq.asJava)
    })

  private def start(input: MemoryStream[KafkaSourceRow], checkpoint: String): StreamingQuery = {
    val writeBatch: (DataFrame, Long) => Unit = newBatch()
    input.toDF().writeStream
      .option("checkpointLocation", checkpoint)
      .foreachBatch(writeBatch)
      .start()
  }

  private def tempCheckpoint(): String = Files.createTempDirectory("speedlayer-batch").toString

  private val pageView = validEvents.head._2
  private val search = validEvents(2)._2
  private val notJson = "not json"

  // Exactly what ClickHouse receives for the rows above (offsets 0, 1, 2 of partition 0).
  private val pageViewLine =
    """{"event_id":"00000000-0000-4000-8000-000000000001","event_type":"PAGE_VIEW","event_time":"2025-01-15 10:00:00.123",""" +
      """"user_id":"user-1","device":"mobile","page":"/home","product_id":"","category":"","price":0.0,"quantity":0,""" +
      """"search_query":"","order_id":"","items_count":0,"revenue":0.0,"currency":"","produced_at":"2025-01-15 10:00:00.456",""" +
      """"kafka_partition":0,"kafka_offset":0}"""
  private val searchLine =
    """{"event_id":"00000000-0000-4000-8000-000000000003","event_type":"SEARCH","event_time":"2025-01-15 10:00:00.123",""" +
      """"user_id":"user-1","device":"mobile","page":"","product_id":"","category":"","price":0.0,"quantity":0,""" +
      """"search_query":"red shoes","order_id":"","items_count":0,"revenue":0.0,"currency":"","produced_at":"2025-01-15 10:00:00.456",""" +
      """"kafka_partition":0,"kafka_offset":1}"""
  private val deadLetterLine =
    """{"reason":"invalid_json","error":"Unrecognized token 'not': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false') at line 1, column 4",""" +
      """"raw_payload":"not json","payload_bytes":8,"source_topic":"speedlayer.events","kafka_partition":0,"kafka_offset":2,""" +
      """"kafka_timestamp":"2025-01-15 10:00:05.000"}"""

  private def threeRecords = Seq(source(utf8(pageView), 0), source(utf8(search), 1), source(utf8(notJson), 2))

  test("a micro-batch: JSONEachRow inserts with dedup tokens, no compression; dead letters also to the topic") {
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val query = start(input, tempCheckpoint())
    try {
      input.addData(threeRecords)
      query.processAllAvailable()
    } finally query.stop()

    val inserts = clickhouse.inserts
    assert(inserts.map(_.table.get) === Seq("events", "dead_letters"))
    val Seq(events, deadLetters) = inserts

    assert(events.lines === Seq(pageViewLine, searchLine))
    assert(events.columns === EventRow.columns)
    assert(events.query.matches("(?s)INSERT INTO .* FORMAT JSONEachRow\\s*"), events.query)
    assert(events.token === Some(s"${query.id}-0-events-0-0"))

    assert(deadLetters.lines === Seq(deadLetterLine))
    assert(deadLetters.columns === DeadLetterRow.columns)
    assert(deadLetters.token === Some(s"${query.id}-0-dead_letters-0-2"))

    inserts.foreach { r =>
      assert(r.method === "POST")
      assert(r.params.get("insert_deduplicate") === Some("1"))
      assert(r.params.get("deduplicate_blocks_in_dependent_materialized_views") === Some("1"))
      assert(r.headers.get("x-clickhouse-database") === Some("speedlayer"))
      assert(r.headers.get("x-clickhouse-format") === Some("JSONEachRow"))
      assert(r.headers.get("authorization") === Some("Basic " + java.util.Base64.getEncoder.encodeToString("default:".getBytes("UTF-8"))))
      // No ClickHouse-native (LZ4) framing in either direction, no HTTP content encoding.
      assert(!r.params.get("compress").contains("1"), r.params)
      assert(!r.params.get("decompress").contains("1"), r.params)
      assert(!r.params.get("enable_http_compression").contains("1"), r.params)
      assert(!r.headers.contains("content-encoding"), r.headers)
      assert(!r.headers.contains("accept-encoding"), r.headers)
    }

    assert(published.asScala.toSeq.map(r => (Option(r.get(0)), r.getString(1))) === Seq((None, deadLetterLine)))
  }

  test("each Spark partition is one insert, its token named by its first Kafka record; empty partitions send nothing") {
    val input = MemoryStream[KafkaSourceRow](2)(Encoders.product[KafkaSourceRow], spark.sqlContext)
    val query = start(input, tempCheckpoint())
    try {
      input.addData(Seq(source(utf8(pageView), 0), source(utf8(search), 1)))
      query.processAllAvailable()
    } finally query.stop()
    val events = clickhouse.insertsInto("events")
    assert(events.flatMap(_.token).sorted === Seq(s"${query.id}-0-events-0-0", s"${query.id}-0-events-0-1"))
    assert(events.flatMap(_.lines).sorted === Seq(pageViewLine, searchLine).sorted)
    assert(events.forall(_.lines.size == 1))
    assert(clickhouse.insertsInto("dead_letters").isEmpty)
    assert(published.isEmpty)
  }

  test("a failed insert is retried with the same token, then the batch succeeds") {
    var failures = 2
    clickhouse.failWhen = r => r.table.contains("events") && synchronized { failures -= 1; failures >= 0 }
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val query = start(input, tempCheckpoint())
    try {
      input.addData(threeRecords)
      query.processAllAvailable()
    } finally query.stop()
    val events = clickhouse.insertsInto("events")
    assert(events.size === 3)
    assert(events.map(_.token).distinct === Seq(Some(s"${query.id}-0-events-0-0")))
    assert(clickhouse.storedRows("events") === Seq(pageViewLine, searchLine))
  }

  test("an insert failing every attempt fails the batch; the replay from the checkpoint is deduplicated") {
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val checkpoint = tempCheckpoint()
    clickhouse.failWhen = _.table.contains("dead_letters")

    val first = start(input, checkpoint)
    input.addData(threeRecords)
    val failure = intercept[StreamingQueryException](first.processAllAvailable())
    assert(!first.isActive)
    val message = SpeedLayerJob.failureMessage(failure)
    assert(message.startsWith(
      s"dev.speedlayer.job.ClickHouseInsertException: insert of 1 rows into speedlayer.dead_letters " +
        s"(token ${first.id}-0-dead_letters-0-2) failed after 3 attempts: "), message)
    assert(message.contains("TOO_MANY_PARTS"), message)
    assert(message.endsWith(s"(query id ${first.id}, run id ${first.runId})"), message)
    assert(!message.contains("\n"))
    assert(clickhouse.insertsInto("dead_letters").size === 3)
    assert(published.isEmpty)

    // ClickHouse is back; the query restarts from its checkpoint and replays batch 0.
    clickhouse.failWhen = _ => false
    val second = start(input, checkpoint)
    try second.processAllAvailable()
    finally second.stop()

    assert(second.id === first.id)
    assert(second.runId !== first.runId)
    val eventInserts = clickhouse.insertsInto("events")
    assert(eventInserts.size === 2)
    assert(eventInserts.map(_.token).distinct === Seq(Some(s"${first.id}-0-events-0-0")))
    assert(eventInserts.map(_.lines).distinct === Seq(Seq(pageViewLine, searchLine)))
    // What ClickHouse keeps: every row once.
    assert(clickhouse.storedRows("events") === Seq(pageViewLine, searchLine))
    assert(clickhouse.storedRows("dead_letters") === Seq(deadLetterLine))
    assert(published.asScala.toSeq.map(_.getString(1)) === Seq(deadLetterLine))
  }

  test("the query id is only known inside a streaming query") {
    val e = intercept[IllegalStateException](SpeedLayerBatch.queryId(spark.range(1).toDF()))
    assert(e.getMessage.contains("no query id"))
  }
}
