package dev.speedlayer.job

import java.time.Instant
import java.time.format.DateTimeFormatter
import java.time.ZoneOffset

import scala.util.Try

import org.scalacheck.Gen
import org.scalatest.funsuite.AnyFunSuite
import org.scalatestplus.scalacheck.ScalaCheckPropertyChecks

/** IsoInstant.parse is Instant.parse: the same instant, or the same failure, on any text. */
class IsoInstantSuite extends AnyFunSuite with ScalaCheckPropertyChecks {
  implicit override val generatorDrivenConfig: PropertyCheckConfiguration = PropertyCheckConfiguration(minSuccessful = 5000)

  private val iso = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC)

  private def sameAsJava(text: String): Unit = {
    val expected = Try(Instant.parse(text))
    val actual = Try(IsoInstant.parse(text))
    assert(actual.toOption === expected.toOption, text)
    assert(actual.failed.toOption.map(_.getClass) === expected.failed.toOption.map(_.getClass), text)
  }

  test("any instant from year 0 to 9999 in the schema's form") {
    val millis = Gen.choose(Instant.parse("0000-01-01T00:00:00Z").toEpochMilli, Instant.parse("9999-12-31T23:59:59.999Z").toEpochMilli)
    forAll(millis) { ms =>
      val text = iso.format(Instant.ofEpochMilli(ms))
      assert(IsoInstant.parse(text) === Instant.ofEpochMilli(ms), text)
    }
  }

  test("the schema's form with any digits: leap days, month and day bounds, hour 24, second 60") {
    val twoDigits = Gen.choose(0, 99).map(n => f"$n%02d")
    val text = for {
      year <- Gen.oneOf(Gen.choose(0, 9999), Gen.oneOf(1900, 2000, 2023, 2024, 2100, 2400))
      month <- twoDigits
      day <- twoDigits
      hour <- twoDigits
      minute <- twoDigits
      second <- twoDigits
      milli <- Gen.choose(0, 999)
    } yield f"$year%04d-$month-${day}T$hour:$minute:$second.$milli%03dZ"
    forAll(text)(sameAsJava)
    Seq("2024-02-29T12:00:00.000Z", "2023-02-29T12:00:00.000Z", "1900-02-29T00:00:00.000Z", "2000-02-29T00:00:00.000Z",
      "2026-04-31T00:00:00.000Z", "2026-12-31T23:59:60.000Z", "2026-01-01T24:00:00.000Z", "2026-00-10T00:00:00.000Z")
      .foreach(sameAsJava)
  }

  test("other forms and malformed text: whatever Instant.parse says") {
    Seq("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.1Z", "2026-01-01T00:00:00.000+01:00", "2026-01-01t00:00:00.000Z",
      "2026-01-01T00:00:00.000z", "2026-01-01 00:00:00.000Z", "2026-01-0aT00:00:00.000Z", "+2026-01-01T00:00:00.00Z",
      "-001-01-01T00:00:00.000Z", "", "2026-01-01T00:00:00.000Z\n", "２０２６-01-01T00:00:00.000Z")
      .foreach(sameAsJava)
    forAll(Gen.asciiPrintableStr)(sameAsJava)
  }
}
