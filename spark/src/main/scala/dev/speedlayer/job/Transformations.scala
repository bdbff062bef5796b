package dev.speedlayer.job

import org.apache.spark.sql.{DataFrame, Dataset, Encoders}
import org.apache.spark.sql.functions.col
import org.apache.spark.sql.streaming.{OutputMode, TimeMode}

// Every step of the pipeline is a pure Dataset => Dataset function in its own object, so it
// can be tested on a MemoryStream or a static Dataset; SpeedLayerJob only does I/O. None of
// them shuffles: a Spark partition of every output holds the rows of one Kafka offset range.

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
 * `transformWithState` ([[UserStateProcessor]]: Update mode, TimeMode.ProcessingTime, a value state
 * and one processing-time timer per user, in the job's RocksDB store).
 *
 * Why processing time and not event time (verified in the bytecode of spark-sql_2.13-4.0.4.jar,
 * TransformWithStateExec.processDataWithPartition): the input rows are filtered with
 * `watermarkPredicateForDataForLateEvents` ONLY when `timeMode == EventTime`
 * (applyRemovingRowsOlderThanWatermark); in processing time every row reaches the processor, so
 * late events are seen and written to late_events instead of being dropped silently. The
 * event-time rules are then applied by the processor itself with
 * `TimerValues.getCurrentWatermarkInMs`, which is `eventTimeWatermarkForEviction` (set for the
 * operator in either mode by IncrementalExecution's WatermarkPropagationRule), i.e. the batch's
 * watermark = max(event_time of earlier batches) - delay, as docs/processing.md defines it.
 * EventTimeWatermarkExec adds every row's event_time to the max without a null check, so
 * non-event rows carry the epoch (never raises the max).
 *
 * Why timers and not flatMapGroupsWithState's ProcessingTimeTimeout (which this replaced): a
 * timeout is checked by reading every user's state on every batch (170-210 ms of each batch at
 * 10k events/s, docs/benchmarks.md); timers are kept in an index by time, so a batch visits only
 * the users whose timer is due. In processing time `shouldRunAnotherBatch` is always true, so Spark would run a no-data
 * batch every trigger forever; the job turns no-data batches off and its IdleTicker makes batches
 * only while a timer can still close something (see there).
 *
 * The state is one Kryo-encoded value (Encoders.kryo), not a struct: Spark decodes a struct state
 * with code it generates again on every batch (the decoder of its arrays names its variables with a
 * global counter, so the code cache never hits), and every batch's new class then has to be
 * interpreted and JIT-compiled anew.
 */
object ProcessUsers {
  def apply(inbound: Dataset[Inbound], watermarkDelaySeconds: Int, revisitMs: Long): Dataset[OutputLines] =
    inbound
      .withWatermark("event_time", s"$watermarkDelaySeconds seconds")
      .as[Inbound](Encoders.product[Inbound])
      .groupByKey((i: Inbound) => i.key)(Encoders.STRING)
      .transformWithState(new UserStateProcessor(revisitMs), TimeMode.ProcessingTime(), OutputMode.Update())(Encoders.product[OutputLines])
}

/**
 * One [[Output]] rendered as a JSONEachRow line for its table: keys = the table's columns in
 * order (Tables.outputs), timestamps as "yyyy-MM-dd HH:mm:ss.SSS" in UTC (the text form ClickHouse
 * parses into DateTime64(3, 'UTC') with its default date_time_input_format), numbers and strings
 * as Jackson writes them (what Spark's to_json wrote before). Done in the stateful stage's
 * adapter (UserProcessor.apply), so the operator's output is these strings: encoding the nested
 * Output rows and rendering them with to_json cost ~20% of the job's CPU in a profile (one
 * generated serializer method too large to compile well).
 */
object RenderOutput {
  val TimestampFormat = "yyyy-MM-dd HH:mm:ss.SSS"

  private val timestamps = java.time.format.DateTimeFormatter.ofPattern(TimestampFormat).withZone(java.time.ZoneOffset.UTC)
  private val HexDigits = "0123456789ABCDEF"

  def apply(o: Output): OutputLines = o match {
    case Output(Some(e), _, _, _, _, _, _) => OutputLines(events = Some(EventKeys.line(e)))
    case Output(_, Some(late), _, _, _, _, _) => OutputLines(late_events = Some(LateEventKeys.line(late)))
    case Output(_, _, Some(_), _, _, _, _) => OutputLines(duplicate = true)
    case Output(_, _, _, Some(session), _, _, _) => OutputLines(sessions = Some(SessionKeys.line(session)))
    case Output(_, _, _, _, Some(change), _, _) => OutputLines(tier_changes = Some(TierChangeKeys.line(change)))
    case Output(_, _, _, _, _, Some(user), _) => OutputLines(users = Some(UserKeys.line(user)))
    case Output(_, _, _, _, _, _, Some(dead)) => OutputLines(dead_letters = Some(DeadLetterKeys.line(dead)))
    case empty => throw new IllegalArgumentException(s"an output row with nothing in it: $empty")
  }

  /**
   * A table's columns, each written once as its JSON key (`"name":`); a line is written into one
   * StringBuilder. A batch renders ~20k lines: no generator, writer, thread-local buffers or
   * formatter per line. RenderOutputSuite holds the lines to what Spark's to_json writes.
   */
  private final class Keys(columns: Seq[String]) {
    private val keys: Array[String] = columns.map { c => val key = new java.lang.StringBuilder(); appendString(key, c); key.append(':').toString }.toArray

    def line(row: Product): String = {
      val out = new java.lang.StringBuilder(512).append('{')
      val written = fields(out, row, 0)
      if (written != keys.length) throw new IllegalStateException(s"${row.productPrefix} has fewer values than the columns ${columns.mkString(",")}")
      out.append('}').toString
    }

    /** The row's values from key `next` on, in column order: a nested event's fields in place, the session counts spread. */
    private def fields(out: java.lang.StringBuilder, row: Product, next: Int): Int = {
      var key = next
      var i = 0
      while (i < row.productArity) {
        row.productElement(i) match {
          case event: EventRow => key = fields(out, event, key)
          case counts: Seq[_] => counts.foreach { count => field(out, row, key, count); key += 1 }
          case value => field(out, row, key, value); key += 1
        }
        i += 1
      }
      key
    }

    private def field(out: java.lang.StringBuilder, row: Product, key: Int, value: Any): Unit = {
      if (key >= keys.length) throw new IllegalStateException(s"${row.productPrefix} has more values than the columns ${columns.mkString(",")}")
      if (key > 0) out.append(',')
      out.append(keys(key))
      value match {
        case null => out.append("null")
        case text: String => appendString(out, text)
        case number: Long => out.append(number)
        case number: Int => out.append(number)
        case number: Double => appendDouble(out, number)
        case time: java.time.Instant => appendTimestamp(out, time)
        case flag: Boolean => out.append(flag)
        case other => throw new IllegalArgumentException(s"no JSON form for ${other.getClass.getName} in ${row.productPrefix}")
      }
    }
  }

  private val EventKeys = new Keys(EventOut.columns)
  private val LateEventKeys = new Keys(LateEventOut.columns)
  private val SessionKeys = new Keys(SessionRow.columns)
  private val TierChangeKeys = new Keys(TierChangeRow.columns)
  private val UserKeys = new Keys(UserRow.columns)
  private val DeadLetterKeys = new Keys(DeadLetterRow.columns)

  /** Jackson's escaping: quote, backslash and control characters; everything else as it is. */
  private def appendString(out: java.lang.StringBuilder, text: String): Unit = {
    out.append('"')
    var copied = 0
    var i = 0
    while (i < text.length) {
      val c = text.charAt(i)
      if (c < 0x20 || c == '"' || c == '\\') {
        out.append(text, copied, i).append('\\')
        c match {
          case '"' | '\\' => out.append(c)
          case '\b' => out.append('b')
          case '\t' => out.append('t')
          case '\n' => out.append('n')
          case '\f' => out.append('f')
          case '\r' => out.append('r')
          case _ => out.append("u00").append(HexDigits.charAt(c >> 4)).append(HexDigits.charAt(c & 0xf))
        }
        copied = i + 1
      }
      i += 1
    }
    out.append(text, copied, text.length).append('"')
  }

  /** Jackson's writeNumber(double): Double.toString, quoted when not finite. */
  private def appendDouble(out: java.lang.StringBuilder, number: Double): Unit =
    if (number.isNaN || number.isInfinite) out.append('"').append(number).append('"') else out.append(number)

  /** TimestampFormat in UTC; digits written directly for years 1-9999, the formatter otherwise. */
  private def appendTimestamp(out: java.lang.StringBuilder, time: java.time.Instant): Unit = {
    val at = java.time.LocalDateTime.ofEpochSecond(time.getEpochSecond, time.getNano, java.time.ZoneOffset.UTC)
    if (at.getYear < 1 || at.getYear > 9999) out.append('"').append(timestamps.format(time)).append('"')
    else {
      out.append('"')
      digits(out, at.getYear, 4).append('-')
      digits(out, at.getMonthValue, 2).append('-')
      digits(out, at.getDayOfMonth, 2).append(' ')
      digits(out, at.getHour, 2).append(':')
      digits(out, at.getMinute, 2).append(':')
      digits(out, at.getSecond, 2).append('.')
      digits(out, at.getNano / 1000000, 3).append('"')
    }
  }

  /** A non-negative number with leading zeros to `width` digits. */
  private def digits(out: java.lang.StringBuilder, number: Int, width: Int): java.lang.StringBuilder = {
    var scale = 1
    var w = 1
    while (w < width) { scale *= 10; w += 1 }
    var rest = number
    while (scale > 0) {
      out.append(('0' + rest / scale).toChar)
      rest %= scale
      scale /= 10
    }
    out
  }
}

/** One output row as JSON for its table (exactly one of the strings is set, none for a duplicate). */
final case class OutputLines(
    events: Option[String] = None,
    late_events: Option[String] = None,
    sessions: Option[String] = None,
    tier_changes: Option[String] = None,
    users: Option[String] = None,
    dead_letters: Option[String] = None,
    duplicate: Boolean = false)

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
