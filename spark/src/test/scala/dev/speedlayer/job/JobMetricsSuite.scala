package dev.speedlayer.job

import java.net.{HttpURLConnection, ServerSocket, URI}
import java.nio.charset.StandardCharsets
import java.nio.file.Files

import org.apache.spark.sql.{DataFrame, Encoders}
import org.apache.spark.sql.execution.streaming.MemoryStream
import org.scalatest.funsuite.AnyFunSuite

import Fixtures._

class JobMetricsSuite extends AnyFunSuite with SharedSpark {

  private def freePort(): Int = { val s = new ServerSocket(0); try s.getLocalPort finally s.close() }

  private def get(url: String): (Int, String, String) = {
    val c = URI.create(url).toURL.openConnection().asInstanceOf[HttpURLConnection]
    try (c.getResponseCode, c.getContentType, new String(c.getInputStream.readAllBytes(), StandardCharsets.UTF_8))
    finally c.disconnect()
  }

  private def value(text: String, series: String): Option[Double] =
    text.linesIterator.find(_.startsWith(series + " ")).map(_.stripPrefix(series + " ").toDouble)

  test("the endpoint listens on loopback by default, on the given host otherwise (kind: 0.0.0.0)") {
    val loopback = MetricsEndpoint.start(freePort(), () => "x 1\n")
    val any = MetricsEndpoint.start(freePort(), () => "x 1\n", "0.0.0.0")
    try {
      assert(loopback.getAddress.getAddress.isLoopbackAddress)
      assert(any.getAddress.getAddress.isAnyLocalAddress)
      assert(get(s"http://127.0.0.1:${any.getAddress.getPort}/metrics")._3 === "x 1\n")
    } finally { loopback.stop(0); any.stop(0) }
  }

  test("a query's progress and the rows written appear on the loopback /metrics endpoint in Prometheus text format") {
    val dir = Files.createTempDirectory("speedlayer-metrics")
    val listener = new MetricsListener(triggerSeconds = 2)
    spark.streams.addListener(listener)
    val port = freePort()
    val server = MetricsEndpoint.start(port, () => listener.render())
    val before = JobMetrics.writtenSoFar.dead_letters
    assert(value(listener.render(), "speedlayer_job_query_active").isEmpty, "before the query starts")
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val noop: (DataFrame, Long) => Unit = (batch, _) => { batch.collect(); () }
    val query = input.toDF().writeStream.option("checkpointLocation", dir.resolve("checkpoint").toString).foreachBatch(noop).start()
    try {
      input.addData(Seq(source(utf8("a"), 0), source(utf8("b"), 1), source(utf8("c"), 2)))
      query.processAllAvailable()
      JobMetrics.batchWritten(BatchCounts(dead_letters = 5))
      val deadline = System.nanoTime() + 20L * 1000 * 1000 * 1000
      while (!value(listener.render(), "speedlayer_job_input_rows_total").contains(3.0) && System.nanoTime() < deadline) Thread.sleep(50)

      val (code, contentType, text) = get(s"http://127.0.0.1:$port/metrics")
      assert(code === 200)
      assert(contentType.startsWith("text/plain; version=0.0.4"))
      assert(value(text, "speedlayer_job_query_active").contains(1.0), text)
      assert(value(text, "speedlayer_job_input_rows_total").contains(3.0), text)
      assert(value(text, "speedlayer_job_trigger_interval_seconds").contains(2.0), text)
      assert(value(text, """speedlayer_job_rows_total{outcome="dead_letters"}""").contains((before + 5).toDouble), text)
      assert(value(text, """speedlayer_job_batch_duration_seconds_bucket{le="+Inf"}""").exists(_ >= 1), text)
      assert(text.contains("# TYPE speedlayer_job_batch_duration_seconds histogram"), text)
      assert(text.linesIterator.exists(_.startsWith("""speedlayer_job_last_batch_phase_seconds{phase="addBatch"} """)), text)
      assert(value(text, "speedlayer_job_last_batch_input_rows").isDefined, text)
      query.stop()
      // The termination event reaches listeners asynchronously.
      val stopDeadline = System.nanoTime() + 20L * 1000 * 1000 * 1000
      while (!value(listener.render(), "speedlayer_job_query_active").contains(0.0) && System.nanoTime() < stopDeadline) Thread.sleep(50)
      assert(value(listener.render(), "speedlayer_job_query_active").contains(0.0))
    } finally {
      query.stop()
      server.stop(0)
      spark.streams.removeListener(listener)
    }
  }

  test("label values are escaped; whole numbers print without a fraction") {
    assert(MetricsText.escape("a \"b\"\\\n") === "a \\\"b\\\"\\\\\\n")
    assert(MetricsText.number(3.0) === "3")
    assert(MetricsText.number(0.25) === "0.25")
  }
}
