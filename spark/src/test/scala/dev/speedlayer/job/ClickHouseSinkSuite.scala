package dev.speedlayer.job

import java.net.ServerSocket

import org.scalatest.funsuite.AnyFunSuite

class ClickHouseSinkSuite extends AnyFunSuite {

  private def config(url: String) = ClickHouseConfig(url, "default", "", "speedlayer", maxAttempts = 2, initialBackoffMs = 1, maxBackoffMs = 1)

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
      assert(ch.inserts.map(r => (r.table, r.token)) === Seq((Some("events"), Some("q-7-events-s3")), (Some("sessions"), Some("q-7-sessions-s3"))))
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

  test("ClickHouse unreachable: fails after maxAttempts, saying why") {
    val port = { val s = new ServerSocket(0); try s.getLocalPort finally s.close() }
    val e = intercept[ClickHouseInsertException] {
      ClickHouseSink.writeTables(config(s"http://127.0.0.1:$port"), outputs, "q-1", 2, Iterator(lines(events = Some("{}"))))
    }
    assert(e.getMessage.startsWith("insert of 1 rows into speedlayer.events (token q-1-events-s2) failed after 2 attempts: "), e.getMessage)
    assert(e.getMessage.contains("Connection refused"), e.getMessage)
  }
}
