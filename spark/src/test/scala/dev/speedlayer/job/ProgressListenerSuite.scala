package dev.speedlayer.job

import java.io.{ByteArrayOutputStream, PrintStream}
import java.nio.charset.StandardCharsets
import java.nio.file.Files

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.sql.{DataFrame, Encoders}
import org.apache.spark.sql.execution.streaming.MemoryStream
import org.scalatest.funsuite.AnyFunSuite

import Fixtures._

class ProgressListenerSuite extends AnyFunSuite with SharedSpark {

  test("one SPEEDLAYER_STARTED line at the first progress; every progress: Spark's progress JSON in the progress file, one SPEEDLAYER_PROGRESS line on stdout") {
    val dir = Files.createTempDirectory("speedlayer-progress")
    val file = dir.resolve("sub/progress.json")
    val captured = new ByteArrayOutputStream()
    val out = new PrintStream(captured, true, StandardCharsets.UTF_8)
    val listener = new ProgressListener(Some(file), out)
    spark.streams.addListener(listener)
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val noop: (DataFrame, Long) => Unit = (batch, _) => { batch.collect(); () }
    val query = input.toDF().writeStream
      .option("checkpointLocation", dir.resolve("checkpoint").toString)
      .foreachBatch(noop)
      .start()
    def lines = new String(captured.toByteArray, StandardCharsets.UTF_8).linesIterator.toSeq
    try {
      input.addData(Seq(source(utf8("a"), 0), source(utf8("b"), 1), source(utf8("c"), 2)))
      query.processAllAvailable()
      val deadline = System.nanoTime() + 20L * 1000 * 1000 * 1000
      while (!lines.exists(_.contains("\"numInputRows\":3")) && System.nanoTime() < deadline) Thread.sleep(50)
    } finally {
      query.stop()
      spark.streams.removeListener(listener)
    }

    val mapper = new ObjectMapper()
    val progressLines = lines.filter(_.startsWith("SPEEDLAYER_PROGRESS "))
    // One SPEEDLAYER_STARTED line (query id and run id) before the first progress, then only progress lines.
    assert(lines.headOption.exists(_.matches(s"SPEEDLAYER_STARTED ${query.id} ${query.runId}")), lines)
    assert(progressLines.nonEmpty && progressLines.size === lines.size - 1, lines)
    val batch0 = progressLines.map(l => mapper.readTree(l.stripPrefix("SPEEDLAYER_PROGRESS "))).find(_.get("numInputRows").asLong() == 3).get
    import scala.jdk.CollectionConverters._
    assert(batch0.fieldNames().asScala.toSeq ===
      Seq("batchId", "numInputRows", "inputRowsPerSecond", "processedRowsPerSecond", "batchDurationMs", "timestamp", "durationMs", "state"))
    assert(batch0.get("durationMs").get("addBatch").isIntegralNumber)
    assert(batch0.get("durationMs").get("triggerExecution").asLong() >= batch0.get("durationMs").get("addBatch").asLong())
    // No stateful operator in this query: the state figures are zero.
    assert(batch0.get("state").get("numRowsTotal").asLong() === 0L)
    assert(batch0.get("batchId").asLong() === 0L)
    assert(batch0.get("batchDurationMs").isIntegralNumber)
    assert(batch0.get("processedRowsPerSecond").isNumber)
    assert(batch0.get("timestamp").asText().matches("\\d{4}-\\d{2}-\\d{2}T.*Z"))

    val written = mapper.readTree(Files.readString(file))
    assert(written.get("id").asText() === query.id.toString)
    assert(written.get("runId").asText() === query.runId.toString)
    assert(written.has("sources") && written.has("sink") && written.has("batchId"))
    // Only the file itself is left in its directory: the temp file was renamed over it.
    assert(Files.list(file.getParent).toArray.toSeq.map(_.toString) === Seq(file.toString))
  }

  test("a query without data announces itself once by its idle events, after it read its checkpoint") {
    val dir = Files.createTempDirectory("speedlayer-idle")
    val captured = new ByteArrayOutputStream()
    val listener = new ProgressListener(None, new PrintStream(captured, true, StandardCharsets.UTF_8))
    spark.streams.addListener(listener)
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val noop: (DataFrame, Long) => Unit = (batch, _) => { batch.collect(); () }
    val query = input.toDF().writeStream
      .option("checkpointLocation", dir.resolve("checkpoint").toString)
      .trigger(org.apache.spark.sql.streaming.Trigger.ProcessingTime(100L))
      .foreachBatch(noop)
      .start()
    def lines = new String(captured.toByteArray, StandardCharsets.UTF_8).linesIterator.toSeq
    try {
      val deadline = System.nanoTime() + 20L * 1000 * 1000 * 1000
      while (lines.isEmpty && System.nanoTime() < deadline) Thread.sleep(50)
      Thread.sleep(500) // more idle triggers: still one line
    } finally {
      query.stop()
      spark.streams.removeListener(listener)
    }
    assert(lines === Seq(s"SPEEDLAYER_STARTED ${query.id} ${query.runId}"))
  }

  test("writeAtomically replaces the whole file") {
    val file = Files.createTempDirectory("speedlayer-atomic").resolve("p.json")
    ProgressListener.writeAtomically(file, "{\"a\":" + "1" * 10000 + "}")
    ProgressListener.writeAtomically(file, "{}")
    assert(Files.readString(file) === "{}")
  }
}
