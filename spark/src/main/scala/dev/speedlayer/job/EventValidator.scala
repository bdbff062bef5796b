package dev.speedlayer.job

import java.nio.{ByteBuffer, CharBuffer}
import java.nio.charset.{CodingErrorAction, StandardCharsets}
import java.time.Instant
import java.util.Locale
import java.util.function.Consumer

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.fasterxml.jackson.core.{JsonParser, JsonProcessingException}
import com.fasterxml.jackson.databind.{DeserializationFeature, JsonNode, ObjectMapper}
import com.networknt.schema.{ExecutionContext, JsonSchema, JsonSchemaFactory, PathType, SchemaValidatorsConfig, SpecVersion, ValidationMessage}

/**
 * The compiled event schema (contract/event.schema.json), one per JVM.
 *
 * Compiling the schema costs milliseconds the first time in a JVM and still tens of µs when
 * hot, several times the cost of validating one event with the compiled schema (~5 µs;
 * ValidationBenchmarkSuite prints the figures). So it is compiled once per driver/executor
 * JVM, on first use, and shared by all tasks: a networknt JsonSchema is immutable once its
 * validators are initialised, and thread-safe.
 */
object EventSchema {
  lazy val schema: JsonSchema = compile(Contract.resourceText(Contract.EventSchemaPath))

  private val compiled = new java.util.concurrent.atomic.AtomicLong()

  /** How many times a schema was compiled in this JVM (tests check that it is once). */
  def compilations: Long = compiled.get()

  /** Draft 2020-12 with format assertions ON: in 2020-12 `format` is only an annotation
   *  unless the validator is told to assert it, and the contract relies on `uuid` and
   *  `date-time` being checked. */
  def compile(schemaJson: String, formatAssertions: Boolean = true): JsonSchema = {
    compiled.incrementAndGet()
    val factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012)
    val config = SchemaValidatorsConfig
      .builder()
      .formatAssertionsEnabled(formatAssertions)
      .pathType(PathType.JSON_PATH)
      .locale(Locale.ENGLISH)
      .build()
    val schema = factory.getSchema(schemaJson, config)
    schema.initializeValidators()
    schema
  }

  /** The fast way to "valid" for [[schema]] (SchemaFastPath), compiled once per JVM. */
  lazy val fastPath: SchemaFastPath.Check = SchemaFastPath.compile(schema.getSchemaNode)
}

/**
 * Validation of one Kafka record: a pure function that never throws on any input. A record
 * either becomes an [[EventRow]] or a [[DeadLetterRow]] with one of the [[Reason]]s.
 *
 * Checks, in order (the first failing one is the reason):
 *  1. size: more than `maxEventBytes` bytes is `too_large` (checked first: it bounds the work
 *     done on a record whatever it holds);
 *  2. encoding: not well-formed UTF-8 is `not_utf8`;
 *  3. syntax: not exactly one JSON value (also: empty, trailing data, duplicate keys,
 *     a null record value) is `invalid_json`;
 *  4. the event schema: `schema`, the error listing every violation as `<JSON path>: <message>`.
 *     Values the schema admits but ClickHouse cannot store (a date outside DateTime64's
 *     1900..2299, a number that overflowed to infinity) are `schema` violations too, so that
 *     an insert can never fail on a record's content;
 *  5. event-time bounds (eventTimeOutOfBounds): `future_event_time` / `expired_event_time`.
 */
object EventValidator {

  private val mapper: ObjectMapper = new ObjectMapper()
    .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
    .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)

  /** ClickHouse DateTime64 range. */
  private val MinTime = Instant.parse("1900-01-01T00:00:00Z")
  private val MaxTime = Instant.parse("2299-12-31T23:59:59.999Z")

  def classify(record: KafkaRecord, limits: Limits): Classified =
    classify(record, limits, EventSchema.schema)

  def classify(record: KafkaRecord, limits: Limits, schema: JsonSchema): Classified =
    try classifyUnguarded(record, limits, schema)
    catch {
      // Not expected; but a record must never fail a batch (it would fail again on every
      // replay and stop the pipeline), so it becomes a dead letter instead.
      case NonFatal(e) =>
        val bytes = if (record.value == null) Array.emptyByteArray else record.value
        val error = oneLine(s"$$: validation failed: ${e.getClass.getName}: ${e.getMessage}")
        Classified(None, Some(deadLetter(record, bytes, Reason.Schema, error, limits)))
    }

  private def classifyUnguarded(record: KafkaRecord, limits: Limits, schema: JsonSchema): Classified = {
    val bytes = if (record.value == null) Array.emptyByteArray else record.value
    def dead(reason: String, error: String): Classified =
      Classified(None, Some(deadLetter(record, bytes, reason, error, limits)))

    if (record.value == null) {
      dead(Reason.InvalidJson, "record value is null (tombstone)")
    } else {
      readJson(bytes, limits) match {
        case Left((reason, error)) => dead(reason, error)
        case Right(json) =>
          schemaErrors(schema, json) match {
            case Some(error) => dead(Reason.Schema, error)
            case None =>
              toEventRow(json, record) match {
                case Left(error) => dead(Reason.Schema, error)
                case Right(row) =>
                  eventTimeOutOfBounds(row.event_time, record.timestamp, limits) match {
                    case Some((reason, error)) => dead(reason, error)
                    case None => Classified(Some(row), None)
                  }
              }
          }
      }
    }
  }

  /**
   * Checks 1-3 (size, UTF-8, JSON syntax), shared by events and user-dimension records:
   * the JSON value, or (reason, error) of the first check that fails.
   */
  def readJson(bytes: Array[Byte], limits: Limits): Either[(String, String), JsonNode] =
    if (bytes.length > limits.maxEventBytes) {
      Left((Reason.TooLarge, s"payload is ${bytes.length} bytes, the limit is ${limits.maxEventBytes} bytes"))
    } else {
      decodeUtf8(bytes) match {
        case Left(error) => Left((Reason.NotUtf8, error))
        case Right(text) => parseJson(text).left.map(error => (Reason.InvalidJson, error))
      }
    }

  /**
   * Check 5, event-time bounds, against the record's Kafka timestamp (the broker's append time:
   * the events topic has message.timestamp.type=LogAppendTime; fixed per record, so a replay
   * decides the same): more than `maxEventTimeAheadMs` ahead is `future_event_time` (a wrong
   * device clock; such an event would move the watermark and make every correct event late),
   * more than `maxEventAgeMs` behind is `expired_event_time` (older than the horizon, past
   * retention). Both bounds are inclusive: exactly at the bound is accepted.
   */
  def eventTimeOutOfBounds(eventTime: Instant, kafkaTime: Instant, limits: Limits): Option[(String, String)] =
    if (kafkaTime == null) None
    else {
      val ahead = eventTime.toEpochMilli - kafkaTime.toEpochMilli
      if (ahead > limits.maxEventTimeAheadMs) {
        Some((Reason.FutureEventTime,
          s"$$.event_time: $eventTime is ${ahead} ms after the record's Kafka timestamp $kafkaTime, more than the allowed ${limits.maxEventTimeAheadMs} ms"))
      } else if (-ahead > limits.maxEventAgeMs) {
        Some((Reason.ExpiredEventTime,
          s"$$.event_time: $eventTime is ${-ahead} ms before the record's Kafka timestamp $kafkaTime, more than the allowed ${limits.maxEventAgeMs} ms"))
      } else None
    }

  /** Strict UTF-8: malformed or truncated sequences are an error, with their byte offset. */
  def decodeUtf8(bytes: Array[Byte]): Either[String, String] = {
    val decoder = StandardCharsets.UTF_8
      .newDecoder()
      .onMalformedInput(CodingErrorAction.REPORT)
      .onUnmappableCharacter(CodingErrorAction.REPORT)
    val in = ByteBuffer.wrap(bytes)
    val out = CharBuffer.allocate(bytes.length) // UTF-8 never decodes to more chars than bytes
    val result = decoder.decode(in, out, true)
    if (result.isError) {
      Left(s"malformed UTF-8 at byte offset ${in.position()}")
    } else {
      val flushed = decoder.flush(out)
      if (flushed.isError) Left(s"malformed UTF-8 at byte offset ${in.position()}")
      else Right(out.flip().toString)
    }
  }

  def parseJson(text: String): Either[String, JsonNode] =
    try {
      val node = mapper.readTree(text)
      if (node == null || node.isMissingNode) Left("no JSON value (empty payload)") else Right(node)
    } catch {
      case e: JsonProcessingException =>
        val location = Option(e.getLocation)
          .map(l => s" at line ${l.getLineNr}, column ${l.getColumnNr}")
          .getOrElse("")
        Left(oneLine(e.getOriginalMessage) + location)
      case NonFatal(e) => Left(oneLine(s"${e.getClass.getSimpleName}: ${e.getMessage}"))
    }

  /** `None` when the JSON is a valid event, else every violation as "<JSON path>: <message>",
   *  sorted, joined by "; ". */
  def schemaErrors(schema: JsonSchema, json: JsonNode): Option[String] =
    if ((schema eq EventSchema.schema) && EventSchema.fastPath(json) == SchemaFastPath.Valid) None
    else allSchemaErrors(schema, json)

  /** [[schemaErrors]] by networknt alone (every violation, worded). */
  def allSchemaErrors(schema: JsonSchema, json: JsonNode): Option[String] = {
    val violations =
      try schema.validate(json, withoutAnnotations).asScala.toSeq.map(format) ++ undeclaredHashNames(schema.getSchemaNode, json, "$")
      catch { case NonFatal(e) => Seq(s"$$: the validator failed: ${e.getClass.getSimpleName}: ${e.getMessage}") }
    if (violations.isEmpty) None else Some(violations.distinct.sorted.mkString("; "))
  }

  private def format(m: ValidationMessage): String = oneLine(m.getMessage)

  /**
   * networknt 1.5.x lets through property names starting with '#' where `additionalProperties`
   * is false (json-schema-validator#1252, fixed in 2.0.2): they are looked for here, following
   * `properties` and `items` of the schema (the event schema has no `$ref`).
   */
  private def undeclaredHashNames(schema: JsonNode, json: JsonNode, path: String): Seq[String] = {
    val declared = schema.path("properties")
    val closed = schema.path("additionalProperties").isBoolean && !schema.path("additionalProperties").asBoolean()
    if (json.isObject) {
      // Over the record's fields (few), not the schema's; only containers are looked into.
      json.fields().asScala.toSeq.flatMap { e =>
        val name = e.getKey
        if (closed && name.startsWith("#") && !declared.has(name)) {
          Seq(s"$path: property '$name' is not defined in the schema and the schema does not allow additional properties")
        } else if (e.getValue.isContainerNode && declared.has(name)) {
          undeclaredHashNames(declared.get(name), e.getValue, s"$path.$name")
        } else Seq.empty
      }
    } else if (json.isArray && schema.has("items")) {
      json.elements().asScala.zipWithIndex.toSeq.flatMap { case (v, i) => undeclaredHashNames(schema.get("items"), v, s"$path[$i]") }
    } else Seq.empty
  }

  // Annotations (title, description, ...) are not needed to decide validity; not collecting
  // them saves about a fifth of the validation time.
  private val withoutAnnotations: Consumer[ExecutionContext] = new Consumer[ExecutionContext] {
    override def accept(context: ExecutionContext): Unit =
      context.getExecutionConfig.setAnnotationCollectionEnabled(false)
  }

  /**
   * The events row of a schema-valid event: `query` -> `search_query`, `items` -> `items_count`
   * (the number of items), `produced_at` epoch ms -> timestamp. Absent optional fields take the
   * column's DEFAULT ('' / 0 / epoch), so the row is complete. `event_id` is lower-cased.
   */
  def toEventRow(json: JsonNode, record: KafkaRecord): Either[String, EventRow] = {
    def field(name: String): Option[JsonNode] = Option(json.get(name)).filterNot(_.isNull)
    def text(name: String): String = field(name).map(_.asText()).getOrElse("")
    def integer(name: String): Long = field(name).map(_.asLong()).getOrElse(0L)
    def number(name: String): Either[String, Double] = field(name) match {
      case None => Right(0.0)
      case Some(n) =>
        val d = n.asDouble()
        if (d.isNaN || d.isInfinite) Left(s"$$.$name: ${n.asText()} is not a finite number") else Right(d)
    }
    def inRange(name: String, t: Instant): Either[String, Instant] =
      if (t.isBefore(MinTime) || t.isAfter(MaxTime)) {
        Left(s"$$.$name: $t is outside the range of DateTime64(3) (1900-01-01 .. 2299-12-31)")
      } else Right(t)

    val eventTime: Either[String, Instant] =
      try inRange("event_time", IsoInstant.parse(text("event_time")))
      catch { case NonFatal(_) => Left(s"$$.event_time: ${text("event_time")} is not an instant") }

    val producedAt: Either[String, Instant] = field("produced_at") match {
      case None => Right(Instant.EPOCH)
      case Some(n) if n.canConvertToLong => inRange("produced_at", Instant.ofEpochMilli(n.asLong()))
      case Some(n) => Left(s"$$.produced_at: ${n.asText()} is outside the range of DateTime64(3) (1900-01-01 .. 2299-12-31)")
    }

    for {
      time <- eventTime
      produced <- producedAt
      price <- number("price")
      revenue <- number("revenue")
    } yield EventRow(
      event_id = text("event_id").toLowerCase(Locale.ROOT),
      event_type = text("event_type"),
      event_time = time,
      user_id = text("user_id"),
      device = text("device"),
      page = text("page"),
      product_id = text("product_id"),
      category = text("category"),
      price = price,
      quantity = integer("quantity"),
      search_query = text("query"),
      order_id = text("order_id"),
      items_count = field("items").map(_.size().toLong).getOrElse(0L),
      revenue = revenue,
      currency = text("currency"),
      produced_at = produced,
      kafka_partition = record.partition,
      kafka_offset = record.offset)
  }

  def deadLetter(record: KafkaRecord, bytes: Array[Byte], reason: String, error: String, limits: Limits): DeadLetterRow =
    DeadLetterRow(
      reason = reason,
      error = error,
      raw_payload = rawPayload(bytes, limits.maxPayloadBytes),
      payload_bytes = bytes.length.toLong,
      source_topic = record.topic,
      kafka_partition = record.partition,
      kafka_offset = record.offset,
      kafka_timestamp = record.timestamp)

  /** The payload decoded as UTF-8 (malformed input becomes U+FFFD), cut so that its UTF-8
   *  encoding is at most `maxBytes` bytes, never in the middle of a character. */
  def rawPayload(bytes: Array[Byte], maxBytes: Int): String = {
    val head = if (bytes.length > maxBytes) java.util.Arrays.copyOf(bytes, maxBytes) else bytes
    truncateUtf8(new String(head, StandardCharsets.UTF_8), maxBytes)
  }

  def truncateUtf8(s: String, maxBytes: Int): String = {
    var used = 0
    var i = 0
    while (i < s.length) {
      val cp = s.codePointAt(i)
      val n = if (cp < 0x80) 1 else if (cp < 0x800) 2 else if (cp < 0x10000) 3 else 4
      if (used + n > maxBytes) return s.substring(0, i)
      used += n
      i += Character.charCount(cp)
    }
    s
  }

  private def oneLine(s: String): String =
    if (s == null) "" else s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim
}
