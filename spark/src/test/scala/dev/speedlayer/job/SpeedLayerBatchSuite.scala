package dev.speedlayer.job

import java.nio.file.Files
import java.util.concurrent.ConcurrentLinkedQueue

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.{Dataset, Encoders}
import org.apache.spark.sql.execution.streaming.MemoryStream
import org.apache.spark.sql.streaming.{OutputMode, StreamingQuery, StreamingQueryException, Trigger}
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
  private def published = CollectedDeadLetters.lines

  override def beforeEach(): Unit = {
    clickhouse = new FakeClickHouse
    published.clear()
  }

  override def afterEach(): Unit = clickhouse.close()

  private val tables = Tables.fromContract()

  private def chConfig = ClickHouseConfig(
    url = clickhouse.url, user = "default", password = "", database = "speedlayer",
    retryForMs = 2000, initialBackoffMs = 10, maxBackoffMs = 20)

  private def newBatch(): SpeedLayerBatch = new SpeedLayerBatch(
    chConfig, tables,
    deadLetters = CollectedDeadLetters)

  private def start(input: MemoryStream[KafkaSourceRow], checkpoint: String): StreamingQuery = {
    val writeBatch: (Dataset[OutputLines], Long) => Unit = newBatch()
    SpeedLayerJob.process(input.toDF(), Limits, "speedlayer.users", watermarkDelaySeconds = 120, revisitMs = 3600000L)
      .writeStream
      .outputMode(OutputMode.Update())
      .trigger(Trigger.ProcessingTime(100L))
      .option("checkpointLocation", checkpoint)
      .foreachBatch(writeBatch)
      .start()
  }

  private def tempCheckpoint(): String = Files.createTempDirectory("speedlayer-batch").toString

  private val pageView = validEvents.head._2
  private val search = validEvents(2)._2
  private val notJson = "not json"

  private lazy val sessionId = UserProcessor.sessionId("user-1", EventTime.toEpochMilli)

  /** The token of a post-shuffle insert: the shuffle partition (0 or 1 with 2 partitions) names it. */
  private def tokenOf(query: StreamingQuery, batch: Long, table: String): String => Boolean =
    t => t.matches(s"${query.id}-$batch-$table-s[01]")

  // Exactly what ClickHouse receives for the rows above (offsets 0, 1, 2 of partition 0).
  private val pageViewLine =
    """{"event_id":"00000000-0000-4000-8000-000000000001","event_type":"PAGE_VIEW","event_time":"2025-01-15 10:00:00.123",""" +
      """"user_id":"user-1","device":"mobile","page":"/home","product_id":"","category":"","price":0.0,"quantity":0,""" +
      """"search_query":"","order_id":"","items_count":0,"revenue":0.0,"currency":"","produced_at":"2025-01-15 10:00:00.456",""" +
      """"kafka_partition":0,"kafka_offset":0,"tier":"Bronze","session_id":"""" + sessionId + """"}"""
  private val searchLine =
    """{"event_id":"00000000-0000-4000-8000-000000000003","event_type":"SEARCH","event_time":"2025-01-15 10:00:00.123",""" +
      """"user_id":"user-1","device":"mobile","page":"","product_id":"","category":"","price":0.0,"quantity":0,""" +
      """"search_query":"red shoes","order_id":"","items_count":0,"revenue":0.0,"currency":"","produced_at":"2025-01-15 10:00:00.456",""" +
      """"kafka_partition":0,"kafka_offset":1,"tier":"Bronze","session_id":"""" + sessionId + """"}"""
  private val sessionLine =
    s"{\"session_id\":\"$sessionId\",\"user_id\":\"user-1\",\"tier\":\"Bronze\",\"start_time\":\"2025-01-15 10:00:00.123\"," +
      "\"end_time\":\"2025-01-15 10:00:00.123\",\"duration_ms\":0,\"events_total\":2,\"page_views\":1,\"product_views\":0," +
      "\"searches\":1,\"cart_adds\":0,\"cart_removes\":0,\"checkouts\":0,\"purchases\":0,\"revenue\":0.0,\"products_viewed\":0," +
      "\"funnel_stage\":0,\"converted\":0,\"cart_abandoned\":0,\"status\":\"active\",\"version\":1}"
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
    assert(inserts.map(_.table.get).sorted === Seq("dead_letters", "events", "sessions"))
    val Seq(events) = clickhouse.insertsInto("events")
    val Seq(sessions) = clickhouse.insertsInto("sessions")
    val Seq(deadLetters) = clickhouse.insertsInto("dead_letters")

    assert(events.lines === Seq(pageViewLine, searchLine))
    assert(events.columns === EventOut.columns)
    assert(events.query.matches("(?s)INSERT INTO .* FORMAT JSONEachRow\\s*"), events.query)
    assert(tokenOf(query, 0, "events")(events.token.get), events.token)

    assert(sessions.lines === Seq(sessionLine))
    assert(sessions.columns === SessionRow.columns)
    assert(tokenOf(query, 0, "sessions")(sessions.token.get), sessions.token)

    assert(deadLetters.lines === Seq(deadLetterLine))
    assert(deadLetters.columns === DeadLetterRow.columns)
    assert(tokenOf(query, 0, "dead_letters")(deadLetters.token.get), deadLetters.token)

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

    assert(published.asScala.toSeq === Seq(deadLetterLine))
  }

  test("one insert per table and shuffle partition, its token named by the partition; a user's rows stay in one partition") {
    val input = MemoryStream[KafkaSourceRow](2)(Encoders.product[KafkaSourceRow], spark.sqlContext)
    val query = start(input, tempCheckpoint())
    val users = (1 to 8).map(i => s"user-$i")
    try {
      input.addData(users.zipWithIndex.flatMap { case (u, i) =>
        Seq(pageView, search).zipWithIndex.map { case (json, j) =>
          val n = i * 2 + j
          source(utf8(json.replace("\"user-1\"", s"\"$u\"").replaceAll("00000000-0000-4000-8000-00000000000[0-9]", f"00000000-0000-4000-8000-$n%012d")), n.toLong)
        }
      })
      query.processAllAvailable()
    } finally query.stop()
    val events = clickhouse.insertsInto("events")
    assert(events.size === 2) // 8 users over 2 shuffle partitions: both have some (hash of user_id)
    assert(events.flatMap(_.token).sorted === Seq(s"${query.id}-0-events-s0", s"${query.id}-0-events-s1"))
    assert(events.flatMap(_.lines).size === 16)
    users.foreach(u => assert(events.count(_.lines.exists(_.contains(s"\"user_id\":\"$u\""))) === 1, u))
    assert(clickhouse.insertsInto("sessions").flatMap(_.lines).size === 8)
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
    assert(events.map(_.token).distinct.size === 1)
    assert(tokenOf(query, 0, "events")(events.head.token.get))
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
    assert(message.matches(
      s"dev\\.speedlayer\\.job\\.ClickHouseInsertException: insert of 1 rows into speedlayer\\.dead_letters " +
        s"\\(token ${first.id}-0-dead_letters-s[01]\\) failed after \\d+ attempts in 2 s \\(retry limit 2 s\\): .*"), message)
    assert(message.contains("TOO_MANY_PARTS"), message)
    assert(message.endsWith(s"(query id ${first.id}, run id ${first.runId})"), message)
    assert(!message.contains("\n"))
    val attempts = """failed after (\d+) attempts""".r.findFirstMatchIn(message).get.group(1).toInt
    assert(attempts > 3 && clickhouse.insertsInto("dead_letters").size === attempts)
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
    assert(eventInserts.map(_.token).distinct.size === 1)
    assert(tokenOf(first, 0, "events")(eventInserts.head.token.get))
    assert(eventInserts.map(_.lines).distinct === Seq(Seq(pageViewLine, searchLine)))
    // What ClickHouse keeps: every row once.
    assert(clickhouse.storedRows("events") === Seq(pageViewLine, searchLine))
    assert(clickhouse.storedRows("dead_letters") === Seq(deadLetterLine))
    assert(clickhouse.storedRows("sessions") === Seq(sessionLine))
    assert(published.asScala.toSeq === Seq(deadLetterLine))
  }

  test("a corrupted checkpoint fails the restart with a message naming its path and the recovery") {
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val checkpoint = tempCheckpoint()
    val first = start(input, checkpoint)
    try {
      input.addData(Seq(source(utf8(pageView), 0)))
      first.processAllAvailable()
    } finally first.stop()
    java.nio.file.Files.writeString(java.nio.file.Paths.get(checkpoint, "offsets", "0"), "not an offset log\n")

    val second = start(input, checkpoint)
    val failure = intercept[StreamingQueryException](second.processAllAvailable())
    second.stop()
    val message = SpeedLayerJob.failureMessage(failure, Some(checkpoint))
    assert(message.startsWith(s"the checkpoint $checkpoint could not be read (corrupted, or written by an incompatible version of the job; " +
      "'speedlayer submit --reset-checkpoint' discards it, after saying what is replayed and lost): "), message)
    // The supervisor does not restart what would fail the same way.
    assert(SpeedLayerJob.failureExitCode(failure, checkpoint) === Contract.pipeline.protocol.checkpointUnreadableExitCode)
    // A failure that is not the checkpoint's gets no such hint, and is restarted.
    assert(!SpeedLayerJob.failureMessage(new RuntimeException("boom"), Some(checkpoint)).contains("reset-checkpoint"))
    assert(SpeedLayerJob.failureExitCode(new RuntimeException("boom"), checkpoint) === 1)
    // Nor is a full disk under the checkpoint: discarding it would not help.
    val diskFull = new IllegalStateException("commit failed", new java.io.IOException(s"$checkpoint/state/0/1/2.delta: No space left on device"))
    assert(!SpeedLayerJob.failureMessage(diskFull, Some(checkpoint)).contains("reset-checkpoint"))
    assert(SpeedLayerJob.failureExitCode(diskFull, checkpoint) === 1)
  }

  test("pipeline_progress: one row per batch with Spark's figures, the watermark and the late / duplicate / dead-letter counts") {
    val writer = new PipelineProgressWriter(chConfig, "pipeline_progress")
    spark.streams.addListener(writer)
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val query = start(input, tempCheckpoint())
    val later = pageView.replace("2025-01-15T10:00:00.123Z", "2025-01-15T10:10:00.000Z").replace("-000000000001", "-000000000011")
    def rows = clickhouse.storedRows("pipeline_progress").map(l => new com.fasterxml.jackson.databind.ObjectMapper().readTree(l))
    try {
      input.addData(Seq(source(utf8(pageView), 0), source(utf8(pageView), 1), source(utf8(notJson), 2), source(utf8(later), 3, at = java.time.Instant.parse("2025-01-15T10:10:00.000Z"))))
      query.processAllAvailable()
      input.addData(Seq(source(utf8(search), 4))) // 10:00:00.123 < watermark 10:08: late
      query.processAllAvailable()
      val deadline = System.nanoTime() + 20L * 1000 * 1000 * 1000
      while (rows.size < 2 && System.nanoTime() < deadline) Thread.sleep(50)
    } finally {
      query.stop()
      spark.streams.removeListener(writer)
    }
    val inserts = clickhouse.insertsInto("pipeline_progress")
    assert(inserts.map(_.token.get) === Seq(s"${query.id}-0-pipeline_progress", s"${query.id}-1-pipeline_progress"))
    assert(inserts.head.columns === PipelineProgressWriter.columns)
    val Seq(b0, b1) = rows
    def fields(n: com.fasterxml.jackson.databind.JsonNode) =
      Seq("batch_id", "num_input_rows", "watermark", "late_rows", "duplicate_rows", "dead_letter_rows").map(f => n.get(f).asText())
    assert(fields(b0) === Seq("0", "4", "1970-01-01 00:00:00.000", "0", "1", "1"))
    assert(fields(b1) === Seq("1", "1", "2025-01-15 10:08:00.000", "1", "0", "0"))
    assert(b0.get("batch_duration_ms").asLong() > 0)
    assert(clickhouse.storedRows("late_events").size === 1)
    assert(clickhouse.storedRows("late_events").head.contains("\"watermark\":\"2025-01-15 10:08:00.000\""))
  }

  test("pipeline_progress: a row that could not be written (ClickHouse away) is sent again, first, with the next batch's") {
    val writer = new PipelineProgressWriter(chConfig, "pipeline_progress")
    spark.streams.addListener(writer)
    val away = new java.util.concurrent.atomic.AtomicBoolean(true)
    clickhouse.failWhen = request => away.get && request.table.contains("pipeline_progress")
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val query = start(input, tempCheckpoint())
    def stored = clickhouse.storedRows("pipeline_progress").map(l => new com.fasterxml.jackson.databind.ObjectMapper().readTree(l))
    def waitFor(done: => Boolean): Unit = {
      val deadline = System.nanoTime() + 30L * 1000 * 1000 * 1000
      while (!done && System.nanoTime() < deadline) Thread.sleep(50)
    }
    try {
      input.addData(Seq(source(utf8(pageView), 0), source(utf8(pageView), 1)))
      query.processAllAvailable()
      // The writer retries for 5 s, then keeps the row.
      waitFor(clickhouse.insertsInto("pipeline_progress").nonEmpty)
      Thread.sleep(6000)
      assert(stored.isEmpty)
      away.set(false)
      input.addData(Seq(source(utf8(search), 2)))
      query.processAllAvailable()
      waitFor(stored.size >= 2)
    } finally {
      query.stop()
      spark.streams.removeListener(writer)
    }
    assert(stored.map(row => (row.get("batch_id").asLong(), row.get("duplicate_rows").asLong())) === Seq((0L, 1L), (1L, 0L)))
  }

  test("the query id is only known inside a streaming query") {
    val e = intercept[IllegalStateException](SpeedLayerBatch.queryId(spark.range(1).toDF()))
    assert(e.getMessage.contains("no query id"))
  }
}

/** The dead letters the batches of SpeedLayerBatchSuite sent (an object: executors reach it by name). */
object CollectedDeadLetters extends DeadLetterSink {
  val lines = new ConcurrentLinkedQueue[String]()
  override def publish(sent: Seq[String]): Unit = lines.addAll(sent.asJava)
}
