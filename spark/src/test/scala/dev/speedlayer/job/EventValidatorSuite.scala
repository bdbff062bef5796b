package dev.speedlayer.job

import java.nio.charset.StandardCharsets

import org.scalatest.funsuite.AnyFunSuite

import Fixtures._

/** The validation function itself, without Spark. */
class EventValidatorSuite extends AnyFunSuite {

  private def classify(payload: Array[Byte]): Either[DeadLetterRow, EventRow] = {
    val c = EventValidator.classify(record(payload), Limits)
    assert(c.event.isDefined != c.dead_letter.isDefined, s"exactly one outcome: $c")
    c.event.toRight(c.dead_letter.get)
  }

  ValidationCases.all.foreach { c =>
    test(c.name) {
      assert(classify(c.payload) === c.expected(3, 42L))
    }
  }

  test("exactly maxEventBytes bytes is accepted (a valid event padded with JSON whitespace)") {
    val json = validEvents.head._2
    val padded = utf8(json.dropRight(1) + " " * (Limits.maxEventBytes - utf8(json).length) + "}")
    assert(padded.length === Limits.maxEventBytes)
    assert(classify(padded) === Right(validRows.head.copy(kafka_partition = 3, kafka_offset = 42L)))
    assert(classify(padded :+ ' '.toByte).swap.toOption.map(_.reason) === Some(Reason.TooLarge))
  }

  test("a null value (tombstone) is a dead letter, not a crash") {
    val c = EventValidator.classify(KafkaRecord(null, Topic, 1, 7L, KafkaTime), Limits)
    assert(c === Classified(None, Some(DeadLetterRow(Reason.InvalidJson, "record value is null (tombstone)", "", 0L, Topic, 1, 7L, KafkaTime))))
  }

  test("too large is decided before decoding: a huge non-UTF-8 payload is too_large") {
    val payload = Array.fill[Byte](Limits.maxEventBytes * 2)(0xff.toByte)
    val dl = classify(payload).swap.toOption.get
    assert(dl.reason === Reason.TooLarge)
    assert(dl.payload_bytes === payload.length)
  }

  test("raw_payload is cut to maxPayloadBytes bytes of UTF-8, never inside a character") {
    // 1 + 2 * 40000 bytes: the cut at 65536 bytes falls in the middle of an 'é' (2 bytes).
    val text = "x" + "é" * 40000
    val payload = text.getBytes(StandardCharsets.UTF_8)
    val dl = classify(payload).swap.toOption.get
    assert(dl.reason === Reason.TooLarge)
    assert(dl.payload_bytes === 80001L)
    assert(dl.raw_payload === "x" + "é" * 32767)
    assert(dl.raw_payload.getBytes(StandardCharsets.UTF_8).length === 65535)
    assert(Limits.maxPayloadBytes === 65536)
  }

  test("raw_payload of malformed bytes stays within maxPayloadBytes after replacement characters") {
    // Each 0xFF byte decodes to U+FFFD, 3 bytes in UTF-8.
    val s = EventValidator.rawPayload(Array.fill[Byte](100)(0xff.toByte), maxBytes = 10)
    assert(s === "\uFFFD" * 3)
  }

  test("truncateUtf8 keeps surrogate pairs whole") {
    assert(EventValidator.truncateUtf8("a😀b", 4) === "a")
    assert(EventValidator.truncateUtf8("a😀b", 5) === "a😀")
    assert(EventValidator.truncateUtf8("a😀b", 6) === "a😀b")
  }

  test("deeply nested JSON is rejected, not a stack overflow") {
    val payload = utf8("[" * 5000 + "]" * 5000)
    val dl = classify(payload).swap.toOption.get
    assert(dl.reason === Reason.InvalidJson)
    assert(dl.error.startsWith("Document nesting depth (1001) exceeds the maximum allowed (1000"), dl.error)
  }

  test("every byte value as a one-byte payload is classified without an exception") {
    (0 until 256).foreach { b =>
      val c = EventValidator.classify(record(Array(b.toByte)), Limits)
      assert(c.dead_letter.isDefined)
    }
  }

  test("an integral number written as 2.0 is an integer (JSON Schema 2020-12)") {
    val json = s"""{${base("ADD_TO_CART")},"product_id":"p","category":"c","price":1,"quantity":2.0}"""
    assert(classify(utf8(json)).toOption.get.quantity === 2L)
  }

  test("a property named with '#' is refused like any undeclared one, at the top and in items") {
    // networknt 1.5.x alone accepts these (json-schema-validator#1252); found by the agreement test.
    val top = s"""{${base("LOGIN")},"#x":true}"""
    assert(classify(utf8(top)) === Left(deadLetter(Reason.Schema,
      "$: property '#x' is not defined in the schema and the schema does not allow additional properties", utf8(top), 3, 42L)))
    val item = s"""{${base("PURCHASE")},"order_id":"o","revenue":1,"currency":"EUR","items":[{"product_id":"p","quantity":1,"price":1,"#":0}]}"""
    assert(classify(utf8(item)).swap.toOption.map(_.error) ===
      Some("$.items[0]: property '#' is not defined in the schema and the schema does not allow additional properties"))
  }

  test("produced_at beyond DateTime64 is a schema dead letter") {
    val json = s"""{${base("LOGIN").replace("1736935200456", "99999999999999999999")}}"""
    assert(classify(utf8(json)) === Left(deadLetter(Reason.Schema,
      "$.produced_at: 99999999999999999999 is outside the range of DateTime64(3) (1900-01-01 .. 2299-12-31)", utf8(json), 3, 42L)))
  }

  test("the schema is compiled once per JVM and shared, not per record") {
    val schema = EventSchema.schema
    val before = EventSchema.compilations
    ValidationCases.all.foreach(c => EventValidator.classify(record(c.payload), Limits))
    assert(EventSchema.compilations === before)
    assert(EventSchema.schema eq schema)
  }

  test("format assertions are what rejects an impossible date that matches the pattern") {
    val json = utf8(s"""{${base("LOGIN").replace("2025-01-15", "2025-02-30")}}""")
    val lenient = EventSchema.compile(Contract.resourceText(Contract.EventSchemaPath), formatAssertions = false)
    // Without format assertions only the later Instant parsing would notice.
    assert(EventValidator.schemaErrors(lenient, EventValidator.parseJson(new String(json, StandardCharsets.UTF_8)).toOption.get) === None)
    assert(classify(json).swap.toOption.get.error === "$.event_time: does not match the date-time pattern must be a valid RFC 3339 date-time")
  }
}
