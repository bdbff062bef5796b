package dev.speedlayer.job

import java.nio.file.Files
import java.sql.Timestamp
import java.time.Instant
import java.util.concurrent.ConcurrentLinkedQueue

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.{Dataset, Encoders}
import org.apache.spark.sql.execution.streaming.MemoryStream
import org.apache.spark.sql.streaming.{GroupState, GroupStateTimeout, OutputMode, StreamingQueryException, Trigger}
import org.scalatest.funsuite.AnyFunSuite

import Fixtures._

/**
 * The whole streaming stage on a MemoryStream of Kafka-shaped rows of both topics: validation,
 * the watermark across micro-batches, the stateful processor (RocksDB state), exactly the rows
 * each batch outputs.
 */
class StatefulPipelineSuite extends AnyFunSuite with SharedSpark {
  private val UsersTopic = "speedlayer.users"
  private val T0 = Instant.parse("2025-01-15T10:00:00Z").toEpochMilli
  private val Min = 60000L

  private val mapper = new com.fasterxml.jackson.databind.ObjectMapper()
  private def fields(line: String, names: String*): Seq[String] = { val j = mapper.readTree(line); names.map(n => j.get(n).asText()) }

  /** The lines a batch wrote for each table, read back or rendered from the expected rows. */
  private def events(b: Seq[OutputLines]) = b.flatMap(_.events).map(fields(_, "event_id", "tier", "session_id")).map { case Seq(id, tier, sid) => (id, tier, sid) }
  private def sessions(b: Seq[OutputLines]) = b.flatMap(_.sessions)
  private def session(s: SessionRow) = RenderOutput(Output(session = Some(s))).sessions.get
  private def deadLetters(b: Seq[OutputLines]) = b.flatMap(_.dead_letters).map(fields(_, "reason", "kafka_offset")).map { case Seq(r, o) => (r, o.toLong) }
  private def lates(b: Seq[OutputLines]) = b.flatMap(_.late_events).map(fields(_, "event_id", "tier", "session_id", "watermark"))
  private def chTime(ms: Long) =
    java.time.format.DateTimeFormatter.ofPattern(RenderOutput.TimestampFormat).withZone(java.time.ZoneOffset.UTC).format(Instant.ofEpochMilli(ms))

  private def iso(ms: Long) =
    java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(java.time.ZoneOffset.UTC).format(Instant.ofEpochMilli(ms))

  /** The fixture event of `eventType` as `user` (u1 unless said), with its own id and time. */
  private def event(n: Int, eventType: String, atMs: Long, offset: Long, user: String = "u1", appendedAtMs: Option[Long] = None): KafkaSourceRow = {
    val json = validEvents.find(_._1 == eventType).get._2
      .replace("\"user-1\"", "\"" + user + "\"")
      .replaceAll("\"event_id\":\"[^\"]+\"", "\"event_id\":\"" + Proc.id(n) + "\"")
      .replace("2025-01-15T10:00:00.123Z", iso(atMs))
    // Appended when it happened (the event-time bounds are checked against the Kafka timestamp).
    KafkaSourceRow(utf8(user), utf8(json), Topic, 0, offset, Timestamp.from(Instant.ofEpochMilli(appendedAtMs.getOrElse(atMs))), 0)
  }

  private def userRecord(spend: Double, offset: Long): KafkaSourceRow =
    KafkaSourceRow(utf8("u1"), utf8(s"""{"user_id":"u1","signup_time":"2024-03-01T12:00:00.000Z","country":"DE","lifetime_spend":$spend}"""),
      UsersTopic, 0, offset, Timestamp.from(KafkaTime), 0)

  /**
   * Runs each group of rows as one micro-batch; returns the outputs of the batches that had any.
   *
   * With `until`, no-data batches are on (as in the job; the shared test session turns them off,
   * see TestSupport): each group must produce output, the next is added once it did, and the
   * query then keeps running (a no-data batch every 100 ms of real time) until the outputs so far
   * satisfy `until`, or 30 s passed.
   */
  private def run(batches: Seq[Seq[KafkaSourceRow]], revisitMs: Long = 3600000L,
                  until: Option[Seq[Seq[OutputLines]] => Boolean] = None): Seq[Seq[OutputLines]] = {
    val session =
      if (until.isEmpty) spark
      else {
        val s = spark.newSession()
        s.conf.set("spark.sql.streaming.noDataMicroBatches.enabled", "true")
        s
      }
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], session.sqlContext)
    val outputs = new ConcurrentLinkedQueue[(Long, Seq[OutputLines])]()
    val collect: (Dataset[OutputLines], Long) => Unit = (batch, id) => {
      val rows = batch.collect().toSeq
      if (rows.nonEmpty) outputs.add(id -> rows)
    }
    val query = SpeedLayerJob.process(input.toDF(), Limits, UsersTopic, watermarkDelaySeconds = 120, revisitMs = revisitMs)
      .writeStream
      .outputMode(OutputMode.Update())
      .trigger(Trigger.ProcessingTime(100L))
      .option("checkpointLocation", Files.createTempDirectory("speedlayer-stateful").toString)
      .foreachBatch(collect)
      .start()
    try {
      def await(done: => Boolean): Unit = {
        val deadline = System.nanoTime() + 30L * 1000 * 1000 * 1000
        while (!done && System.nanoTime() < deadline) Thread.sleep(50)
      }
      batches.zipWithIndex.foreach { case (b, i) =>
        input.addData(b)
        if (until.isEmpty) query.processAllAvailable() else await(outputs.size > i)
      }
      until.foreach(done => await(done(outputs.asScala.toSeq.sortBy(_._1).map(_._2))))
    } finally query.stop()
    outputs.asScala.toSeq.sortBy(_._1).map(_._2)
  }

  test("a user who sends nothing more: the processing-time timer closes the session once the watermark passes end + 30 min (the engine's timer path, RocksDB state)") {
    val closedU1 = (out: Seq[Seq[OutputLines]]) => sessions(out.flatten).exists(s => fields(s, "user_id", "status") == Seq("u1", "closed"))
    // u1's session ends at T0; u2's event 40 minutes later moves the watermark to T0 + 38 min, past
    // T0 + 30 min. u1 sends nothing: only its timer (revisit after 1 s) can close the session.
    val out = run(Seq(
      Seq(event(1, "PAGE_VIEW", T0, 0)),
      Seq(event(2, "PAGE_VIEW", T0 + 40 * Min, 1, user = "u2"))),
      revisitMs = 1000L, until = Some(closedU1))
    val u1 = sessions(out.flatten).filter(fields(_, "user_id") == Seq("u1"))
    assert(u1 === Seq(
      session(Proc.session(T0, T0, "active", 1, user = "u1", pageViews = 1)),
      session(Proc.session(T0, T0, "closed", 2, user = "u1", pageViews = 1))))
    // u2's own session stays open (the watermark is far from its end + 30 min).
    assert(sessions(out.flatten).filter(fields(_, "user_id") == Seq("u2")).map(fields(_, "status")) === Seq(Seq("active")))
  }

  test("a checkpoint of an earlier job (flatMapGroupsWithState, the session counters before pipeline.json listed them) is refused, naming the checkpoint and the fix") {
    val checkpoint = Files.createTempDirectory("speedlayer-old-state").toString
    def query(output: Dataset[OutputLines], input: MemoryStream[KafkaSourceRow]) = output.writeStream
      .outputMode(OutputMode.Update())
      .option("checkpointLocation", checkpoint)
      .foreachBatch((batch: Dataset[OutputLines], _: Long) => { batch.collect(); () })
      .start()
    // The job before: the same stages, its state kept by flatMapGroupsWithState, a SessionState with
    // one field per counter. Spark compares the stateful operators before it reads any state.
    val before = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val oldState = ClassifyRecords(Limits, UsersTopic)(before.toDF())
      .withWatermark("event_time", "120 seconds")
      .as[Inbound](Encoders.product[Inbound])
      .groupByKey((i: Inbound) => i.key)(Encoders.STRING)
      .flatMapGroupsWithState(OutputMode.Update(), GroupStateTimeout.ProcessingTimeTimeout())(OldUserState.keep _)(
        Encoders.product[OldUserState], Encoders.product[OutputLines])
    val first = query(oldState, before)
    try {
      before.addData(Seq(event(1, "PAGE_VIEW", T0, 0)))
      first.processAllAvailable()
    } finally first.stop()

    val after = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val second = query(SpeedLayerJob.process(after.toDF(), Limits, UsersTopic, watermarkDelaySeconds = 120, revisitMs = 3600000L), after)
    val failure =
      try {
        // A MemoryStream's offset counts addData calls: the first is batch 0, already committed.
        after.addData(Seq(event(1, "PAGE_VIEW", T0, 0)))
        after.addData(Seq(event(2, "PAGE_VIEW", T0 + 1, 1)))
        intercept[StreamingQueryException](second.processAllAvailable())
      } finally second.stop()
    val message = SpeedLayerJob.failureMessage(failure, Some(checkpoint))
    info(message)
    assert(message.contains("STREAMING_STATEFUL_OPERATOR_NOT_MATCH_IN_STATE_METADATA"), message)
    assert(message.startsWith(s"the checkpoint $checkpoint could not be read (corrupted, or written by an incompatible version of the job; " +
      "'speedlayer submit --reset-checkpoint' discards it, after saying what is replayed and lost): "), message)
    assert(SpeedLayerJob.failureExitCode(failure, checkpoint) === Contract.pipeline.protocol.checkpointUnreadableExitCode)
  }

  test("the state's shape is recorded in a new checkpoint; a checkpoint recording another is refused, naming it and the fix") {
    val checkpoint = Files.createTempDirectory("speedlayer-state-shape").resolve("checkpoint").toString
    val conf = spark.sessionState.newHadoopConf()
    StateFormat.verify(checkpoint, conf)
    val recorded = java.nio.file.Paths.get(checkpoint, StateFormat.FileName)
    assert(new String(Files.readAllBytes(recorded), "UTF-8") === StateFormat.shape)
    assert(StateFormat.shape.contains(Encoders.product[UserState].schema.json))
    StateFormat.verify(checkpoint, conf) // the same job again
    // A job whose UserState had one field fewer wrote it; and one that kept it with flatMapGroupsWithState.
    val fewerFields = StateFormat.shape.replace(Encoders.product[UserState].schema.json,
      org.apache.spark.sql.types.StructType(Encoders.product[UserState].schema.fields.dropRight(1)).json)
    val flatMapGroupsWithState = Encoders.product[UserState].schema.json
    Seq(fewerFields, flatMapGroupsWithState).foreach { written =>
      val out = new org.apache.hadoop.fs.Path(checkpoint, StateFormat.FileName).getFileSystem(conf)
        .create(new org.apache.hadoop.fs.Path(checkpoint, StateFormat.FileName), true)
      try out.write(written.getBytes("UTF-8")) finally out.close()
      val failure = intercept[StateFormat.Mismatch](StateFormat.verify(checkpoint, conf))
      val message = SpeedLayerJob.failureMessage(failure, Some(checkpoint))
      info(message)
      assert(message.startsWith(s"the checkpoint $checkpoint could not be read (corrupted, or written by an incompatible version of the job; " +
        "'speedlayer submit --reset-checkpoint' discards it, after saying what is replayed and lost): "), message)
      assert(SpeedLayerJob.failureExitCode(failure, checkpoint) === Contract.pipeline.protocol.checkpointUnreadableExitCode)
    }
  }

  test("two batches: user dimension, tiers, the watermark of earlier batches makes a late event, a duplicate across batches, LOGOUT") {
    val tEnd0 = T0 + 10 * Min + 1000
    val wm1 = tEnd0 - 120 * 1000L
    val Seq(b0, b1) = run(Seq(
      Seq(userRecord(480.0, 0), event(1, "PRODUCT_VIEW", T0 + 10 * Min, 1), event(2, "PURCHASE", tEnd0, 2),
        KafkaSourceRow(utf8("u1"), utf8("{oops"), Topic, 0, 3, Timestamp.from(KafkaTime), 0)),
      Seq(event(3, "SEARCH", wm1 - 1, 4), event(2, "PURCHASE", tEnd0, 5), event(4, "LOGOUT", T0 + 12 * Min, 6))))

    val sid = UserProcessor.sessionId("u1", T0 + 10 * Min)
    assert(b0.flatMap(_.users) === Seq(RenderOutput(Output(user = Some(UserRow("u1", Instant.parse("2024-03-01T12:00:00Z"), "DE", 480.0)))).users.get))
    assert(events(b0).sorted === Seq((Proc.id(1), "Bronze", sid), (Proc.id(2), "Bronze", sid)))
    assert(b0.flatMap(_.tier_changes) === Seq(RenderOutput(Output(tier_change =
      Some(TierChangeRow("u1", "Bronze", "Silver", Instant.ofEpochMilli(tEnd0), 480.0 + 129.8, Proc.id(2))))).tier_changes.get))
    val active = Proc.session(T0 + 10 * Min, tEnd0, "active", 1, user = "u1", events = 2, productViews = 1, productsViewed = 1,
      purchases = 1, revenue = 129.8, stage = 1)
    assert(sessions(b0) === Seq(session(active)))
    assert(deadLetters(b0) === Seq(("invalid_json", 3L)))
    assert(b0.flatMap(_.late_events).isEmpty && !b0.exists(_.duplicate))
    assert(b0.size === 6)

    assert(lates(b1) === Seq(Seq(Proc.id(3), "Silver", "", chTime(wm1))))
    assert(b1.count(_.duplicate) === 1) // which one: UserProcessorSuite
    assert(events(b1) === Seq((Proc.id(4), "Silver", sid)))
    assert(sessions(b1) === Seq(session(active.copy(end_time = Instant.ofEpochMilli(T0 + 12 * Min), duration_ms = 2 * Min,
      events_total = 3, status = "closed", version = 2))))
    assert(b1.size === 4)
  }

  test("an event stamped two days ahead of its Kafka timestamp never moves the watermark: it is a future_event_time dead letter and the correct events after it stay on time") {
    val future = T0 + 2 * 24 * 60 * Min
    val Seq(b0, b1) = run(Seq(
      Seq(event(1, "PAGE_VIEW", T0, 0), event(2, "PAGE_VIEW", future, 1, user = "u2", appendedAtMs = Some(T0))),
      Seq(event(3, "SEARCH", T0 + Min, 2))))
    assert(deadLetters(b0) === Seq((Reason.FutureEventTime, 1L)))
    assert(events(b0).map(_._1) === Seq(Proc.id(1)))
    // Without the bound the watermark would be future - 2 min and event 3 late.
    assert(b1.flatMap(_.late_events).isEmpty)
    assert(events(b1).map(_._1) === Seq(Proc.id(3)))
  }
}

/** The job's session state before pipeline.json listed the counters (one field per counted type). */
final case class OldSessionState(
    session_id: String, tier: String, start_ms: Long, end_ms: Long, events_total: Long, page_views: Long, product_views: Long,
    searches: Long, cart_adds: Long, cart_removes: Long, checkouts: Long, purchases: Long, revenue: Double, products: Seq[String],
    funnel_stage: Int, version: Long)

final case class OldUserState(
    base_spend: Double, lifetime_spend: Double, seen_hi: Array[Long], seen_lo: Array[Long], seen_ms: Array[Long], session: Option[OldSessionState])

object OldUserState {
  /** Stores a state of the old shape for every key; outputs nothing. */
  def keep(key: String, values: Iterator[Inbound], st: GroupState[OldUserState]): Iterator[OutputLines] = {
    st.update(OldUserState(0.0, 0.0, Array.emptyLongArray, Array.emptyLongArray, Array.emptyLongArray,
      Some(OldSessionState("s", "Bronze", 0L, 0L, 1, 1, 0, 0, 0, 0, 0, 0, 0.0, Seq.empty, 0, 1))))
    Iterator.empty
  }
}
