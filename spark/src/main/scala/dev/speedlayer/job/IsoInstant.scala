package dev.speedlayer.job

import java.time.Instant

/**
 * `Instant.parse` with a fast path for the one form the event schema allows,
 * `yyyy-MM-ddTHH:mm:ss.SSSZ` (24 characters, UTC, milliseconds): read digit by digit, about
 * ten times cheaper than java.time's formatter, which took ~7% of the job's CPU in a profile.
 * Any other text, or a field out of range (month 13, February 30, second 60), goes to
 * `Instant.parse`, so the result and the errors are always exactly Instant.parse's.
 */
object IsoInstant {
  def parse(text: String): Instant = {
    val millis = fastEpochMillis(text)
    if (millis == Long.MinValue) Instant.parse(text) else Instant.ofEpochMilli(millis)
  }

  /** Whether `text` is a real instant in the schema's form (checked as parse's fast path reads it). */
  def isSchemaForm(text: String): Boolean = fastEpochMillis(text) != Long.MinValue

  /** Epoch milliseconds of `text` in the schema's form, or Long.MinValue when it is not in it. */
  private def fastEpochMillis(s: String): Long = {
    if (s.length != 24 || s.charAt(4) != '-' || s.charAt(7) != '-' || s.charAt(10) != 'T' || s.charAt(13) != ':' ||
      s.charAt(16) != ':' || s.charAt(19) != '.' || s.charAt(23) != 'Z') return Long.MinValue
    val year = digits(s, 0, 4)
    val month = digits(s, 5, 2)
    val day = digits(s, 8, 2)
    val hour = digits(s, 11, 2)
    val minute = digits(s, 14, 2)
    val second = digits(s, 17, 2)
    val milli = digits(s, 20, 3)
    if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 59 || milli < 0) return Long.MinValue
    ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60000L + second * 1000L + milli
  }

  /** The decimal value of s[from, from + count), or -1 if one of them is not an ASCII digit. */
  private def digits(s: String, from: Int, count: Int): Int = {
    var value = 0
    var i = from
    while (i < from + count) {
      val c = s.charAt(i)
      if (c < '0' || c > '9') return -1
      value = value * 10 + (c - '0')
      i += 1
    }
    value
  }

  private def daysInMonth(year: Int, month: Int): Int = month match {
    case 2 => if ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0) 29 else 28
    case 4 | 6 | 9 | 11 => 30
    case _ => 31
  }

  /** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
  private def daysFromCivil(year: Int, month: Int, day: Int): Long = {
    val y = if (month <= 2) year - 1 else year
    val era = (if (y >= 0) y else y - 399) / 400
    val yearOfEra = y - era * 400
    val dayOfYear = (153 * (month + (if (month > 2) -3 else 9)) + 2) / 5 + day - 1
    val dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
    era * 146097L + dayOfEra - 719468L
  }
}
