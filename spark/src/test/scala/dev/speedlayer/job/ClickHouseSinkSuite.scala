package dev.speedlayer.job

import java.net.ServerSocket

import org.apache.spark.sql.Encoders
import org.scalatest.funsuite.AnyFunSuite

class ClickHouseSinkSuite extends AnyFunSuite with SharedSpark {

  private def config(url: String, retryForMs: Long = 50) = ClickHouseConfig(url, "default", "", "speedlayer", retryForMs = retryForMs, initialBackoffMs = 1, maxBackoffMs = 1)

  test("an empty partition sends nothing") {
    val ch = new FakeClickHouse
    try {
      assert(ClickHouseSink.writePartition(config(ch.url), "events", EventRow.columns, "q-7", Iterator.empty) === 0)
      assert(ch.requests.isEmpty)
    } finally ch.close()
  }

  test("one insert per partition: all lines, newline-terminated; token named by the first Kafka record; one client reused") {
    val ch = new FakeClickHouse
    try {
      val c = config(ch.url)
      val rows = Iterator(JsonRow(4, 12L, """{"a":1}"""), JsonRow(4, 10L, """{"a":"é"}"""), JsonRow(5, 3L, """{"a":2}"""))
      assert(ClickHouseSink.writePartition(c, "events", Seq("a"), "q-7", rows) === 3)
      assert(ClickHouseSink.writePartition(c, "events", Seq("a"), "q-8", Iterator(JsonRow(0, 0L, """{"a":3}"""))) === 1)
      val Seq(first, second) = ch.inserts
      assert(new String(first.body, "UTF-8") === "{\"a\":1}\n{\"a\":\"é\"}\n{\"a\":2}\n")
      assert((first.token, second.token) === ((Some("q-7-events-4-10"), Some("q-8-events-0-0"))))
      assert(ClickHouseSink.client(c) eq ClickHouseSink.client(c))
    } finally ch.close()
  }

  test("the token does not depend on how Spark numbers the partitions") {
    val ch = new FakeClickHouse
    try {
      val a = JsonRow(0, 100L, """{"a":"p0"}""")
      val b = JsonRow(1, 200L, """{"a":"p1"}""")
      // Spark partition 0 holds the first row of `order`, partition 1 the second.
      def sent(order: Seq[JsonRow]): Set[(Option[String], Seq[String])] = {
        ch.requests.clear()
        val ds = spark.createDataset(spark.sparkContext.parallelize(order, order.size))(Encoders.product[JsonRow])
        ClickHouseSink.write(ds, config(ch.url), "events", Seq("a"), "q-1")
        ch.inserts.map(r => (r.token, r.lines)).toSet
      }
      val forward = sent(Seq(a, b))
      val backward = sent(Seq(b, a))
      assert(forward === Set((Some("q-1-events-0-100"), Seq("""{"a":"p0"}""")), (Some("q-1-events-1-200"), Seq("""{"a":"p1"}"""))))
      assert(backward === forward)
    } finally ch.close()
  }

  test("ClickHouse unreachable: retried for retryForMs, then fails saying why") {
    val port = { val s = new ServerSocket(0); try s.getLocalPort finally s.close() }
    val started = System.nanoTime()
    val e = intercept[ClickHouseInsertException] {
      ClickHouseSink.writePartition(config(s"http://127.0.0.1:$port", retryForMs = 1500), "events", Seq("a"), "q-1", Iterator(JsonRow(2, 5L, "{}")))
    }
    val tookMs = (System.nanoTime() - started) / 1000000L
    assert(tookMs >= 1500 && tookMs < 10000, tookMs)
    assert(e.getMessage.matches("""insert of 1 rows into speedlayer\.events \(token q-1-events-2-5\) failed after \d+ attempts in 1 s \(retry limit 1 s\): .*"""), e.getMessage)
    assert(e.getMessage.contains("Connection refused"), e.getMessage)
  }

  test("ClickHouse failing for a while within retryForMs: retried with backoff and the same token, stored once") {
    val ch = new FakeClickHouse
    try {
      val failUntil = System.nanoTime() + 1500L * 1000 * 1000
      ch.failWhen = _ => System.nanoTime() < failUntil
      val c = ClickHouseConfig(ch.url, "default", "", "speedlayer", retryForMs = 30000, initialBackoffMs = 50, maxBackoffMs = 400)
      assert(ClickHouseSink.writePartition(c, "events", Seq("a"), "q-2", Iterator(JsonRow(1, 9L, """{"a":1}"""))) === 1)
      val attempts = ch.inserts
      // 50, 100, 200, 400, 400, ... ms: about 6 attempts in 1.5 s, not one per millisecond.
      assert(attempts.size >= 3 && attempts.size <= 10, attempts.size)
      assert(attempts.map(_.token).distinct === Seq(Some("q-2-events-1-9")))
      assert(ch.storedRows("events") === Seq("""{"a":1}"""))
    } finally ch.close()
  }
}
