package dev.speedlayer.job

import java.net.ServerSocket

import org.scalatest.funsuite.AnyFunSuite

class ClickHouseSinkSuite extends AnyFunSuite {

  private def config(url: String, retryForMs: Long = 50) = ClickHouseConfig(url, "default", "", "speedlayer", retryForMs = retryForMs, initialBackoffMs = 1, maxBackoffMs = 1)

  private val outputs = Seq(("events", "events", Seq("a")), ("sessions", "sessions", Seq("s")), ("dead_letters", "dead_letters", Seq("d")))

  private def lines(events: Option[String] = None, sessions: Option[String] = None, deadLetters: Option[String] = None, duplicate: Boolean = false) =
    OutputLines(events, None, sessions, None, None, deadLetters, duplicate)

  test("a partition without rows sends nothing") {
    val ch = new FakeClickHouse
    try {
      assert(ClickHouseSink.writeTables(config(ch.url), outputs, "q-7", 3, Iterator.empty) === BatchCounts())
      assert(ch.requests.isEmpty)
    } finally ch.close()
  }

  test("one insert per table with rows: all lines, newline-terminated, token named by the Spark partition; one client reused") {
    val ch = new FakeClickHouse
    try {
      val c = config(ch.url)
      val rows = Iterator(
        lines(events = Some("""{"a":1}""")),
        lines(events = Some("""{"a":"é"}"""), sessions = Some("""{"s":1}""")),
        lines(duplicate = true),
        lines(events = Some("""{"a":2}""")))
      val counts = ClickHouseSink.writeTables(c, outputs, "q-7", 3, rows)
      assert(counts === BatchCounts(events = 3, sessions = 1, duplicates = 1))
      // The inserts of a task run at once: their order of arrival is not fixed.
      assert(ch.inserts.map(r => (r.table, r.token)).sortBy(_.toString) === Seq((Some("events"), Some("q-7-events-s3")), (Some("sessions"), Some("q-7-sessions-s3"))))
      assert(new String(ch.insertsInto("events").head.body, "UTF-8") === "{\"a\":1}\n{\"a\":\"é\"}\n{\"a\":2}\n")
      assert(ch.insertsInto("sessions").head.columns === Seq("s"))
      assert(ClickHouseSink.client(c) eq ClickHouseSink.client(c))
    } finally ch.close()
  }

  test("a replayed partition sends the same tokens, so ClickHouse stores its rows once") {
    val ch = new FakeClickHouse
    try {
      def batch = Iterator(lines(events = Some("""{"a":1}""")), lines(deadLetters = Some("""{"d":1}""")))
      ClickHouseSink.writeTables(config(ch.url), outputs, "q-1", 0, batch)
      ClickHouseSink.writeTables(config(ch.url), outputs, "q-1", 0, batch)
      assert(ch.inserts.size === 4)
      assert(ch.storedRows("events") === Seq("""{"a":1}"""))
      assert(ch.storedRows("dead_letters") === Seq("""{"d":1}"""))
    } finally ch.close()
  }

  test("ClickHouse unreachable: retried for retryForMs, then fails saying why") {
    val port = { val s = new ServerSocket(0); try s.getLocalPort finally s.close() }
    val started = System.nanoTime()
    val e = intercept[ClickHouseInsertException] {
      ClickHouseSink.writeTables(config(s"http://127.0.0.1:$port", retryForMs = 1500), outputs, "q-1", 2, Iterator(lines(events = Some("{}"))))
    }
    val tookMs = (System.nanoTime() - started) / 1000000L
    assert(tookMs >= 1500 && tookMs < 10000, tookMs)
    assert(e.getMessage.matches("""insert of 1 rows into speedlayer\.events \(token q-1-events-s2\) failed after \d+ attempts in 1 s \(retry limit 1 s\): .*"""), e.getMessage)
    assert(e.getMessage.contains("Connection refused"), e.getMessage)
  }

  test("ClickHouse failing for a while within retryForMs: retried with backoff and the same token, stored once") {
    val ch = new FakeClickHouse
    try {
      val failUntil = System.nanoTime() + 1500L * 1000 * 1000
      ch.failWhen = _ => System.nanoTime() < failUntil
      val c = ClickHouseConfig(ch.url, "default", "", "speedlayer", retryForMs = 30000, initialBackoffMs = 50, maxBackoffMs = 400)
      assert(ClickHouseSink.writeTables(c, outputs, "q-2", 1, Iterator(lines(events = Some("""{"a":1}""")))) === BatchCounts(events = 1))
      val attempts = ch.inserts
      // 50, 100, 200, 400, 400, ... ms: about 6 attempts in 1.5 s, not one per millisecond.
      assert(attempts.size >= 3 && attempts.size <= 10, attempts.size)
      assert(attempts.map(_.token).distinct === Seq(Some("q-2-events-s1")))
      assert(ch.storedRows("events") === Seq("""{"a":1}"""))
    } finally ch.close()
  }

  test("an error no wait can cure (authentication failed) fails at once, without retries") {
    val ch = new FakeClickHouse
    try {
      ch.failWhen = _ => true
      ch.failWith = (403, 516, "AUTHENTICATION_FAILED")
      val c = ClickHouseConfig(ch.url, "default", "", "speedlayer", retryForMs = 30000, initialBackoffMs = 50, maxBackoffMs = 400)
      val e = intercept[ClickHouseInsertException] {
        ClickHouseSink.writeTables(c, outputs, "q-3", 1, Iterator(lines(events = Some("{}"))))
      }
      assert(ch.inserts.size === 1)
      assert(e.getMessage.contains("refused, not retried"), e.getMessage)
      assert(e.getMessage.contains("AUTHENTICATION_FAILED"), e.getMessage)
    } finally ch.close()
  }
}
