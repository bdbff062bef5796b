package dev.speedlayer.job

import org.apache.spark.sql.{Column, DataFrame, Dataset, Encoders}
import org.apache.spark.sql.functions.{col, lit, struct, to_json, when}
import org.apache.spark.sql.streaming.{GroupStateTimeout, OutputMode}
import org.apache.spark.sql.types.BinaryType

// Every step of the pipeline is a pure Dataset => Dataset function in its own object, so it
// can be tested on a MemoryStream or a static Dataset; SpeedLayerJob only does I/O. None of
// them shuffles: a Spark partition of every output holds the rows of one Kafka offset range.

/**
 * Rows -> one JSON object per row, keys = column names, for ClickHouse `JSONEachRow`, next to the
 * row's Kafka coordinates (which name the insert, see ClickHouseSink). Timestamps are written as
 * "yyyy-MM-dd HH:mm:ss.SSS" in UTC, the text form ClickHouse parses into DateTime64(3, 'UTC')
 * with its default (basic) date_time_input_format.
 */
object ToJsonEachRow {
  val TimestampFormat = "yyyy-MM-dd HH:mm:ss.SSS"

  private val options = Map(
    "timestampFormat" -> TimestampFormat,
    "timeZone" -> "UTC",
    "ignoreNullFields" -> "false")

  def apply(rows: Dataset[_]): Dataset[JsonRow] =
    rows
      .select(
        col("kafka_partition"),
        col("kafka_offset"),
        to_json(struct(rows.columns.toSeq.map(c => col(s"`$c`")): _*), options).as("json"))
      .as[JsonRow](Encoders.product[JsonRow])
}

/** One row rendered for JSONEachRow, with the Kafka record it came from. */
final case class JsonRow(kafka_partition: Int, kafka_offset: Long, json: String)

/** Dead-letter rows rendered as JSON -> records for the dead-letter topic: key = null, value = the JSON. */
object DeadLetterTopicRecords {
  def apply(deadLetterJson: Dataset[String]): DataFrame =
    deadLetterJson.select(lit(null).cast(BinaryType).as("key"), col("value"))
}

/**
 * Kafka source rows of both topics -> [[Inbound]] rows for the stateful processor: events are
 * validated (EventValidator), user-dimension records parsed (UserRecords); both keyed by user_id.
 * Anything invalid becomes a dead letter under a key of its own. Tombstones of the compacted
 * users topic (null value: a deletion, not a record) yield nothing.
 */
object ClassifyRecords {
  def apply(limits: Limits, usersTopic: String)(records: DataFrame): Dataset[Inbound] =
    records
      .select(col("value"), col("topic"), col("partition"), col("offset"), col("timestamp"))
      .as[KafkaRecord](Encoders.product[KafkaRecord])
      .flatMap((r: KafkaRecord) => classify(r, limits, usersTopic))(Encoders.product[Inbound])

  def classify(r: KafkaRecord, limits: Limits, usersTopic: String): Option[Inbound] = {
    def dead(d: DeadLetterRow) = Inbound(Inbound.deadLetterKey(d.kafka_partition), java.time.Instant.EPOCH, None, None, Some(d))
    if (r.topic == usersTopic) {
      UserRecords.parse(r, limits).map {
        case Right(u) => Inbound(u.user_id, java.time.Instant.EPOCH, None, Some(u), None)
        case Left(d) => dead(d)
      }
    } else {
      val c = EventValidator.classify(r, limits)
      c.event match {
        case Some(e) => Some(Inbound(e.user_id, e.event_time, Some(e), None, None))
        case None => c.dead_letter.map(dead)
      }
    }
  }
}

/**
 * The stateful stage: event-time watermark on `event_time`, then [[UserProcessor]] per key with
 * `flatMapGroupsWithState` (Update mode, ProcessingTimeTimeout, state in the job's RocksDB store).
 *
 * Why ProcessingTimeTimeout and not EventTimeTimeout (verified in Spark 4.0.4,
 * sql/core/.../streaming/FlatMapGroupsWithStateExec.scala, FlatMapGroupsWithStateExecBase
 * .processDataWithPartition, and in the bytecode of spark-sql_2.13-4.0.4.jar): the input rows are
 * filtered with `watermarkPredicateForDataForLateEvents` ONLY `if timeoutConf == EventTimeTimeout`
 * (applyRemovingRowsOlderThanWatermark); with ProcessingTimeTimeout every row reaches the function,
 * so late events are seen and written to late_events instead of being dropped silently.
 * (transformWithState filters the same way in TimeMode.EventTime.) The event-time rules are then
 * applied by the processor itself with `GroupState.getCurrentWatermarkMs()`, which is
 * `eventTimeWatermarkForEviction` (InputProcessor.callFunctionAndUpdateState), i.e. the batch's
 * watermark = max(event_time of earlier batches) - delay, as docs/processing.md defines it; it
 * needs the watermark column in the operator's input, which is why `event_time` is a top-level
 * column of Inbound. With ProcessingTimeTimeout `shouldRunAnotherBatch` is always true, so Spark
 * would run a no-data batch (a scan of every user's state) every trigger forever; the job turns
 * no-data batches off and its IdleTicker makes batches only while a timeout can still close
 * something (see there). EventTimeWatermarkExec adds every row's event_time to the max without a null check,
 * so non-event rows carry the epoch (never raises the max).
 */
object ProcessUsers {
  def apply(inbound: Dataset[Inbound], watermarkDelaySeconds: Int, revisitMs: Long): Dataset[Output] =
    inbound
      .withWatermark("event_time", s"$watermarkDelaySeconds seconds")
      .as[Inbound](Encoders.product[Inbound])
      .groupByKey((i: Inbound) => i.key)(Encoders.STRING)
      .flatMapGroupsWithState(OutputMode.Update(), GroupStateTimeout.ProcessingTimeTimeout())(
        UserProcessor(revisitMs) _)(Encoders.product[UserState], Encoders.product[Output])
}

/**
 * The rows of one micro-batch of [[Output]] rendered as JSONEachRow lines, one nullable column
 * per table (null when the row is not for that table), with the columns of each table in order.
 */
object OutputJson {
  private val options = Map(
    "timestampFormat" -> ToJsonEachRow.TimestampFormat,
    "timeZone" -> "UTC",
    "ignoreNullFields" -> "false")

  private def json(present: String, fields: Seq[(String, String)]) = jsonOf(present, fields.map { case (path, name) => col(path).as(name) })

  private def jsonOf(present: String, values: Seq[Column]) = when(col(present).isNotNull, to_json(struct(values: _*), options))

  def apply(out: Dataset[Output]): Dataset[OutputLines] =
    out.select(
      json("event", EventRow.columns.map(c => s"event.event.$c" -> c) ++ Seq("event.tier" -> "tier", "event.session_id" -> "session_id")).as("events"),
      json("late", EventRow.columns.map(c => s"late.event.$c" -> c) ++
        Seq("late.tier" -> "tier", "late.session_id" -> "session_id", "late.watermark" -> "watermark")).as("late_events"),
      jsonOf("session", SessionRow.valuesOf("session")).as("sessions"),
      json("tier_change", TierChangeRow.columns.map(c => s"tier_change.$c" -> c)).as("tier_changes"),
      json("user", UserRow.columns.map(c => s"user.$c" -> c)).as("users"),
      json("dead_letter", DeadLetterRow.columns.map(c => s"dead_letter.$c" -> c)).as("dead_letters"),
      col("duplicate").isNotNull.as("duplicate"))
      .as[OutputLines](Encoders.product[OutputLines])
}

/** One output row as JSON for its table (exactly one of the strings is set, none for a duplicate). */
final case class OutputLines(
    events: Option[String],
    late_events: Option[String],
    sessions: Option[String],
    tier_changes: Option[String],
    users: Option[String],
    dead_letters: Option[String],
    duplicate: Boolean)

object OutputLines {
  /** The accessor of a table's field (the first element of Tables.outputs). */
  def field(name: String): OutputLines => Option[String] = name match {
    case "events" => _.events
    case "late_events" => _.late_events
    case "sessions" => _.sessions
    case "tier_changes" => _.tier_changes
    case "users" => _.users
    case "dead_letters" => _.dead_letters
    case other => throw new IllegalArgumentException(s"OutputLines has no field $other")
  }
}
