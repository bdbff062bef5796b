package dev.speedlayer.job

import java.nio.charset.StandardCharsets

import Fixtures._

/**
 * Inputs and their exact expected outcome, shared by the pure and the MemoryStream suites.
 * `expected(partition, offset)` is the row the record must become when read there.
 */
final case class ValidationCase(name: String, payload: Array[Byte], expected: (Int, Long) => Either[DeadLetterRow, EventRow])

object ValidationCases {

  private def dead(reason: String, error: String)(payload: Array[Byte]): (Int, Long) => Either[DeadLetterRow, EventRow] =
    (p, o) => Left(deadLetter(reason, error, payload, p, o))

  private def schemaCase(name: String, json: String, error: String): ValidationCase =
    ValidationCase(name, utf8(json), dead(Reason.Schema, error)(utf8(json)))

  private def login(extra: String = "", uuid: String = Uuid): String = s"""{${base("LOGIN", uuid)}$extra}"""

  val validTypes: Seq[ValidationCase] = validEvents.zip(validRows).map { case ((eventType, json), row) =>
    ValidationCase(s"valid $eventType", utf8(json), (p, o) => Right(row.copy(kafka_partition = p, kafka_offset = o)))
  }

  /** Column mapping: query -> search_query, items -> items_count, produced_at ms -> timestamp,
   *  upper-case event_id -> lower case, absent produced_at -> epoch (the column DEFAULT). */
  val mapping: Seq[ValidationCase] = {
    val search = """{"schema_version":1,"event_id":"ABCDEF01-2345-4678-89AB-CDEF01234567","event_type":"SEARCH",""" +
      """"event_time":"2025-01-14T23:59:59.999Z","user_id":"u-9","device":"tablet","produced_at":1736899199999,"query":"ünïcödé \"quoted\""}"""
    val purchase = """{"schema_version":1,"event_id":"00000000-0000-4000-8000-0000000000aa","event_type":"PURCHASE",""" +
      """"event_time":"2025-01-15T10:05:05.000Z","user_id":"u-1","device":"desktop","order_id":"o-9","items":[""" +
      """{"product_id":"a","quantity":1,"price":1.5},{"product_id":"b","quantity":3,"price":0},{"product_id":"c","quantity":1000,"price":2}],""" +
      """"revenue":2001.5,"currency":"USD","page":"/checkout"}"""
    Seq(
      ValidationCase("mapping: query, upper-case uuid, produced_at", utf8(search), (p, o) =>
        Right(EventRow(
          event_id = "abcdef01-2345-4678-89ab-cdef01234567", event_type = "SEARCH",
          event_time = java.time.Instant.parse("2025-01-14T23:59:59.999Z"), user_id = "u-9", device = "tablet",
          page = "", product_id = "", category = "", price = 0.0, quantity = 0L, search_query = "ünïcödé \"quoted\"",
          order_id = "", items_count = 0L, revenue = 0.0, currency = "",
          produced_at = java.time.Instant.ofEpochMilli(1736899199999L), kafka_partition = p, kafka_offset = o))),
      ValidationCase("mapping: items count, no produced_at", utf8(purchase), (p, o) =>
        Right(EventRow(
          event_id = "00000000-0000-4000-8000-0000000000aa", event_type = "PURCHASE",
          event_time = java.time.Instant.parse("2025-01-15T10:05:05Z"), user_id = "u-1", device = "desktop",
          page = "/checkout", product_id = "", category = "", price = 0.0, quantity = 0L, search_query = "",
          order_id = "o-9", items_count = 3L, revenue = 2001.5, currency = "USD",
          produced_at = java.time.Instant.EPOCH, kafka_partition = p, kafka_offset = o))))
  }

  val notUtf8: Seq[ValidationCase] = {
    val lone = "{\"page\":\"".getBytes(StandardCharsets.US_ASCII) ++ Array(0xff.toByte) ++ "\"}".getBytes(StandardCharsets.US_ASCII)
    val cut = utf8(login()).dropRight(2) ++ Array(0xe2.toByte, 0x82.toByte) // truncated 3-byte sequence at the end
    Seq(
      ValidationCase("not UTF-8: 0xFF byte", lone, (p, o) =>
        Left(deadLetter(Reason.NotUtf8, "malformed UTF-8 at byte offset 9", lone, p, o).copy(raw_payload = "{\"page\":\"\uFFFD\"}"))),
      ValidationCase("not UTF-8: truncated sequence", cut, (p, o) =>
        Left(deadLetter(Reason.NotUtf8, s"malformed UTF-8 at byte offset ${cut.length - 2}", cut, p, o)
          .copy(raw_payload = login().dropRight(2) + "\uFFFD"))))
  }

  val tooLarge: Seq[ValidationCase] = {
    val limit = Limits.maxEventBytes
    val justOver = utf8(login(s""","page":"${"x" * (limit - utf8(login()).length - 9)}""""))
    require(justOver.length == limit + 1, justOver.length)
    Seq(ValidationCase("too large: one byte over maxEventBytes", justOver,
      dead(Reason.TooLarge, s"payload is ${limit + 1} bytes, the limit is $limit bytes")(justOver)))
  }

  val invalidJson: Seq[ValidationCase] = Seq(
    ("invalid JSON: truncated object", """{"schema_version":1,""", "Unexpected end-of-input within/between Object entries at line 1, column 21"),
    ("invalid JSON: not JSON at all", "hello", "Unrecognized token 'hello': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false') at line 1, column 6"),
    ("invalid JSON: trailing data", s"${login()} {}", "Trailing token (of type START_OBJECT) found after value (bound as `com.fasterxml.jackson.databind.JsonNode`): not allowed as per `DeserializationFeature.FAIL_ON_TRAILING_TOKENS` at line 1, column 198"),
    ("invalid JSON: duplicate key", """{"event_type":"LOGIN","event_type":"LOGOUT"}""", "Duplicate field 'event_type' at line 1, column 35"),
    ("invalid JSON: empty payload", "", "no JSON value (empty payload)"),
  ).map { case (name, text, error) => ValidationCase(name, utf8(text), dead(Reason.InvalidJson, error)(utf8(text))) }

  val schema: Seq[ValidationCase] = Seq(
    schemaCase("schema: missing required field",
      login().replace(s""""event_id":"$Uuid",""", ""),
      "$: required property 'event_id' not found"),
    schemaCase("schema: wrong type",
      login().replace("\"user_id\":\"user-1\"", "\"user_id\":7"),
      "$.user_id: integer found, string expected"),
    schemaCase("schema: bad enum",
      login().replace("\"device\":\"mobile\"", "\"device\":\"watch\""),
      "$.device: does not have a value in the enumeration [\"desktop\", \"mobile\", \"tablet\"]"),
    schemaCase("schema: bad event_type",
      s"""{${base("FLY")}}""",
      "$.event_type: does not have a value in the enumeration [\"PAGE_VIEW\", \"PRODUCT_VIEW\", \"SEARCH\", \"ADD_TO_CART\", \"PURCHASE\", \"REMOVE_FROM_CART\", \"CHECKOUT_START\", \"LOGIN\", \"LOGOUT\"]"),
    schemaCase("schema: bad uuid",
      login(uuid = "0b5c2f3e-8a4d-4c1b-9f2e-7d6a5b4c3d2"),
      "$.event_id: does not match the regex pattern ^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$; " +
        "$.event_id: does not match the uuid pattern must be a valid RFC 4122 UUID"),
    // Matches the schema's `pattern`; only the date-time format assertion rejects it.
    schemaCase("schema: bad date-time (format assertion)",
      login().replace("2025-01-15T10:00:00.123Z", "2025-02-30T10:00:00.123Z"),
      "$.event_time: does not match the date-time pattern must be a valid RFC 3339 date-time"),
    schemaCase("schema: additional property",
      login(""","color":"red""""),
      "$: property 'color' is not defined in the schema and the schema does not allow additional properties"),
    schemaCase("schema: PURCHASE without revenue",
      s"""{${base("PURCHASE")},"order_id":"o-1","items":[{"product_id":"p","quantity":1,"price":1}],"currency":"EUR"}""",
      "$: required property 'revenue' not found"),
    schemaCase("schema: wrong schema_version",
      login().replace("\"schema_version\":1", "\"schema_version\":2"),
      "$.schema_version: must be the constant value '1'"),
    schemaCase("schema: every violation, sorted",
      s"""{"schema_version":1,"event_type":"ADD_TO_CART","event_time":"2025-01-15T10:00:00.123Z","user_id":"","device":"mobile","product_id":"p","category":"c","price":-1,"quantity":0}""",
      "$.price: must have a minimum value of 0; $.quantity: must have a minimum value of 1; " +
        "$.user_id: must be at least 1 characters long; $: required property 'event_id' not found"),
    schemaCase("schema: not an object",
      "[1,2]",
      "$: array found, object expected"),
    // Schema-valid, but not storable in ClickHouse's DateTime64(3) / Float64.
    schemaCase("schema: event_time outside DateTime64",
      login().replace("2025-01-15T10:00:00.123Z", "1899-12-31T23:59:59.999Z"),
      "$.event_time: 1899-12-31T23:59:59.999Z is outside the range of DateTime64(3) (1900-01-01 .. 2299-12-31)"),
    schemaCase("schema: number overflowing to infinity",
      s"""{${base("PRODUCT_VIEW")},"product_id":"p","category":"c","price":1e400}""",
      "$.price: Infinity is not a finite number"))

  /**
   * Event-time bounds against the record's Kafka timestamp (KafkaTime = 10:00:05.000): at most
   * maxEventTimeAheadSeconds ahead and maxEventAgeSeconds behind, both edges inclusive.
   */
  val eventTimeBounds: Seq[ValidationCase] = {
    val kafkaMs = KafkaTime.toEpochMilli
    def at(ms: Long) = java.time.Instant.ofEpochMilli(ms)
    val iso = java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(java.time.ZoneOffset.UTC)
    def loginAt(ms: Long) = login().replace("2025-01-15T10:00:00.123Z", iso.format(at(ms)))
    def accepted(name: String, ms: Long) = ValidationCase(name, utf8(loginAt(ms)), (p, o) =>
      Right(row("LOGIN", Uuid, p, o).copy(event_time = at(ms))))
    def rejected(name: String, ms: Long, reason: String, error: String) =
      ValidationCase(name, utf8(loginAt(ms)), dead(reason, error)(utf8(loginAt(ms))))
    val ahead = Limits.maxEventTimeAheadMs
    val age = Limits.maxEventAgeMs
    Seq(
      accepted("event time: exactly maxEventTimeAheadSeconds ahead of the Kafka timestamp is accepted", kafkaMs + ahead),
      rejected("event time: 1 ms more ahead is future_event_time", kafkaMs + ahead + 1, Reason.FutureEventTime,
        s"$$.event_time: ${at(kafkaMs + ahead + 1)} is ${ahead + 1} ms after the record's Kafka timestamp $KafkaTime, more than the allowed $ahead ms"),
      rejected("event time: two days ahead is future_event_time", kafkaMs + 2 * 86400000L, Reason.FutureEventTime,
        s"$$.event_time: ${at(kafkaMs + 2 * 86400000L)} is ${2 * 86400000L} ms after the record's Kafka timestamp $KafkaTime, more than the allowed $ahead ms"),
      accepted("event time: exactly maxEventAgeSeconds behind the Kafka timestamp is accepted", kafkaMs - age),
      rejected("event time: 1 ms older is expired_event_time", kafkaMs - age - 1, Reason.ExpiredEventTime,
        s"$$.event_time: ${at(kafkaMs - age - 1)} is ${age + 1} ms before the record's Kafka timestamp $KafkaTime, more than the allowed $age ms"))
  }

  val all: Seq[ValidationCase] = validTypes ++ mapping ++ notUtf8 ++ tooLarge ++ invalidJson ++ schema ++ eventTimeBounds
}
