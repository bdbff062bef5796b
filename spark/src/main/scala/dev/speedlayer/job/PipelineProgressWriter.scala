package dev.speedlayer.job

import java.nio.charset.StandardCharsets
import java.time.Instant

import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.sql.streaming.{StreamingQueryListener, StreamingQueryProgress}
import org.slf4j.LoggerFactory

/**
 * One `pipeline_progress` row per micro-batch: Spark's progress (input rows, rates, duration,
 * the batch's watermark) plus the batch's late / duplicate / dead-letter counts, which
 * SpeedLayerBatch left in BatchCounters. Written when Spark reports the progress (after the
 * batch), with the token `<queryId>-<batchId>-<table>`; the table keeps the latest row per
 * (query_name, batch_id). Progress is telemetry: a failed write is logged, never fatal. A row that
 * could not be written (ClickHouse away longer than the 5-s retry, e.g. stopped right after a
 * batch's inserts) is kept and sent again, oldest first, before the next batch's row; its token
 * makes a repeat a no-op. At most `maxPending` rows are kept (the oldest go first, logged); rows
 * still kept when the job stops are lost.
 */
final class PipelineProgressWriter(clickhouse: ClickHouseConfig, table: String, maxPending: Int = 1000) extends StreamingQueryListener {
  private val log = LoggerFactory.getLogger(getClass)
  private val writer = clickhouse.copy(retryForMs = 5000)
  /** (token, JSON line) of rows not written yet, oldest first. */
  private val pending = new java.util.ArrayDeque[(String, String)]()

  override def onQueryStarted(event: StreamingQueryListener.QueryStartedEvent): Unit = ()
  override def onQueryTerminated(event: StreamingQueryListener.QueryTerminatedEvent): Unit = ()

  override def onQueryProgress(event: StreamingQueryListener.QueryProgressEvent): Unit = pending.synchronized {
    val p = event.progress
    val counts = BatchCounters.take(p.id.toString, p.batchId).getOrElse(BatchCounts())
    pending.addLast((s"${p.id}-${p.batchId}-$table", PipelineProgressWriter.row(p, counts)))
    while (pending.size > maxPending) {
      val (dropped, _) = pending.removeFirst()
      log.warn(s"dropped the $table row $dropped: more than $maxPending rows could not be written")
    }
    try {
      while (!pending.isEmpty) {
        val (token, json) = pending.peekFirst()
        ClickHouseSink.insertWithRetry(writer, table, PipelineProgressWriter.columns, token, (json + "\n").getBytes(StandardCharsets.UTF_8), 1)
        pending.removeFirst()
      }
    } catch {
      case NonFatal(e) => log.warn(s"could not write the $table row of batch ${p.batchId} (${pending.size} kept, sent again after the next batch): $e")
    }
  }
}

object PipelineProgressWriter {
  private val mapper = new ObjectMapper()
  private val format = java.time.format.DateTimeFormatter.ofPattern(RenderOutput.TimestampFormat).withZone(java.time.ZoneOffset.UTC)

  val columns: Seq[String] = Seq("query_name", "batch_id", "batch_time", "num_input_rows", "input_rows_per_second",
    "processed_rows_per_second", "batch_duration_ms", "watermark", "late_rows", "duplicate_rows", "dead_letter_rows")

  private def time(iso: String): String =
    try format.format(Instant.parse(iso)) catch { case NonFatal(_) => format.format(Instant.EPOCH) }

  private def rate(d: Double): Double = if (d.isNaN || d.isInfinite) 0.0 else d

  /** The JSONEachRow line of one progress. */
  def row(p: StreamingQueryProgress, c: BatchCounts): String = {
    val n = mapper.createObjectNode()
    n.put("query_name", Option(p.name).getOrElse(""))
    n.put("batch_id", p.batchId)
    n.put("batch_time", time(p.timestamp))
    n.put("num_input_rows", p.numInputRows)
    n.put("input_rows_per_second", rate(p.inputRowsPerSecond))
    n.put("processed_rows_per_second", rate(p.processedRowsPerSecond))
    n.put("batch_duration_ms", p.batchDuration)
    n.put("watermark", time(Option(p.eventTime).flatMap(m => Option(m.get("watermark"))).getOrElse("1970-01-01T00:00:00Z")))
    n.put("late_rows", c.late_events)
    n.put("duplicate_rows", c.duplicates)
    n.put("dead_letter_rows", c.dead_letters)
    mapper.writeValueAsString(n)
  }
}
