package dev.speedlayer.job

import java.time.Instant
import java.time.format.DateTimeFormatter
import java.time.ZoneOffset

import org.scalacheck.Gen
import org.scalatest.funsuite.AnyFunSuite
import org.scalatestplus.scalacheck.ScalaCheckPropertyChecks

import Fixtures._

/** Property-based tests (ScalaCheck) of EventValidator: any input, valid events of every type, the event-time bounds. */
class EventValidatorPropertySuite extends AnyFunSuite with ScalaCheckPropertyChecks {
  implicit override val generatorDrivenConfig: PropertyCheckConfiguration = PropertyCheckConfiguration(minSuccessful = 300)

  private val reasons = Set(Reason.NotUtf8, Reason.TooLarge, Reason.InvalidJson, Reason.Schema, Reason.FutureEventTime, Reason.ExpiredEventTime)
  private val iso = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC)

  private def classify(bytes: Array[Byte], at: Instant = KafkaTime): Classified = {
    val c = EventValidator.classify(record(bytes, at = at), Limits)
    assert(c.event.isDefined != c.dead_letter.isDefined, c)
    c
  }

  test("any bytes: exactly one outcome, never an exception, a known reason; too_large exactly above maxEventBytes") {
    val bytes = Gen.oneOf(
      Gen.containerOf[Array, Byte](Gen.choose(Byte.MinValue, Byte.MaxValue)),
      Gen.choose(Limits.maxEventBytes - 2, Limits.maxEventBytes + 2).map(n => Array.fill[Byte](n)('x'.toByte)),
      Gen.asciiPrintableStr.map(utf8))
    forAll(bytes) { b =>
      val c = classify(b)
      c.dead_letter.foreach(d => assert(reasons(d.reason), d))
      assert(c.dead_letter.exists(_.reason == Reason.TooLarge) === (b.length > Limits.maxEventBytes))
    }
  }

  /** A valid event of any type, with any user, time and (schema-valid) optional values. */
  private val validEvent: Gen[(String, Instant)] = for {
    typeAndJson <- Gen.oneOf(validEvents)
    json = typeAndJson._2
    user <- Gen.choose(1, 12).flatMap(n => Gen.stringOfN(n, Gen.alphaNumChar))
    offsetMs <- Gen.choose(-Limits.maxEventAgeMs, Limits.maxEventTimeAheadMs)
    page <- Gen.stringOfN(20, Gen.alphaNumChar).map("/" + _)
  } yield {
    val t = KafkaTime.plusMillis(offsetMs)
    (json.replace("\"user-1\"", s"\"u$user\"").replace("2025-01-15T10:00:00.123Z", iso.format(t))
      .replace("\"page\":\"/home\"", s"\"page\":\"$page\""), t)
  }

  test("every valid event within the event-time bounds becomes an events row with its time and user") {
    forAll(validEvent) { case (json, t) =>
      val row = classify(utf8(json)).event
      assert(row.map(r => (r.event_time, r.user_id.startsWith("u"))) === Some((t, true)), json)
    }
  }

  test("removing any required field of a valid event makes it a schema dead letter naming the field") {
    val required = Seq("schema_version", "event_id", "event_type", "event_time", "user_id", "device")
    forAll(validEvent, Gen.oneOf(required)) { case ((json, _), field) =>
      val without = json.replaceAll(s""""$field":("[^"]*"|[0-9]+),?""", "").replace(",}", "}")
      val d = classify(utf8(without)).dead_letter
      assert(d.map(_.reason) === Some(Reason.Schema), without)
      assert(d.get.error.contains(field), d.get.error)
    }
  }

  test("event-time bounds: accepted exactly when -maxEventAge <= event_time - Kafka timestamp <= maxEventTimeAhead") {
    val day = 86400000L
    forAll(Gen.choose(-10 * day, 10 * day)) { deltaMs =>
      val t = KafkaTime.plusMillis(deltaMs)
      val c = classify(utf8(validEvents.last._2.replace("2025-01-15T10:00:00.123Z", iso.format(t))), at = KafkaTime.plusMillis(123))
      val delta = deltaMs - 123
      val expected =
        if (delta > Limits.maxEventTimeAheadMs) Some(Reason.FutureEventTime)
        else if (-delta > Limits.maxEventAgeMs) Some(Reason.ExpiredEventTime)
        else None
      assert(c.dead_letter.map(_.reason) === expected, (deltaMs, c))
    }
  }
}
