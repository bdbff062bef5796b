package dev.speedlayer.job

import java.net.InetSocketAddress
import java.nio.charset.StandardCharsets
import java.time.Instant
import java.util.concurrent.atomic.{AtomicLong, AtomicReference}

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import com.sun.net.httpserver.{HttpExchange, HttpServer}
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.streaming.{StreamingQueryListener, StreamingQueryProgress}

/**
 * The job's Prometheus metrics (text format 0.0.4), every name documented in docs/metrics.md.
 * Counters count since this JVM started (Prometheus' rate() handles the reset of a restart).
 * Rows written per outcome and insert retries are recorded by the batch (driver and, in local
 * mode, its tasks share this JVM); the rest comes from each StreamingQueryProgress.
 */
object JobMetrics {
  val PortProperty = "speedlayer.metrics.port"
  /** Loopback unless set: on kind Prometheus scrapes the driver from another pod (0.0.0.0). */
  val HostProperty = "speedlayer.metrics.host"

  val insertRetries = new AtomicLong()
  private val written = new AtomicReference(BatchCounts())

  def batchWritten(c: BatchCounts): Unit = written.updateAndGet(_ + c)
  def writtenSoFar: BatchCounts = written.get()

  /** Serves /metrics on <host>:<port> when -Dspeedlayer.metrics.port is set (the CLI sets it). */
  def serveIfConfigured(spark: SparkSession, triggerSeconds: Int): Unit =
    sys.props.get(PortProperty).foreach { port =>
      val listener = new MetricsListener(triggerSeconds)
      spark.streams.addListener(listener)
      MetricsEndpoint.start(port.toInt, () => listener.render(), sys.props.getOrElse(HostProperty, "127.0.0.1"))
    }
}

/** Keeps what the last progress said and the running totals; renders them on each scrape. */
final class MetricsListener(triggerSeconds: Int, now: () => Long = () => System.currentTimeMillis()) extends StreamingQueryListener {
  private val mapper = new ObjectMapper()
  private val last = new AtomicReference[Option[StreamingQueryProgress]](None)
  private val queryActive = new AtomicLong(0)
  private val queryStarts = new AtomicLong(0)
  private val queryFailures = new AtomicLong(0)
  private val batches = new AtomicLong(0)
  private val inputRows = new AtomicLong(0)
  private val lastException = new AtomicReference[Option[String]](None)
  private val durations = new Histogram(Seq(0.5, 1, 2, 3, 5, 10, 30, 60))

  override def onQueryStarted(event: StreamingQueryListener.QueryStartedEvent): Unit = {
    queryStarts.incrementAndGet()
    queryActive.set(1)
    lastException.set(None)
  }

  override def onQueryProgress(event: StreamingQueryListener.QueryProgressEvent): Unit = {
    val p = event.progress
    batches.incrementAndGet()
    inputRows.addAndGet(p.numInputRows)
    durations.observe(p.batchDuration / 1000.0)
    last.set(Some(p))
  }

  override def onQueryTerminated(event: StreamingQueryListener.QueryTerminatedEvent): Unit = {
    queryActive.set(0)
    if (event.exception.isDefined) {
      queryFailures.incrementAndGet()
      lastException.set(event.exception.map(_.replaceAll("\\s+", " ").take(300)))
    }
  }

  def render(): String = {
    val out = new MetricsText
    // Left out until the query first starts: the endpoint is up a while before it (JobDown reads 0 as stopped).
    if (queryStarts.get > 0) out.gauge("speedlayer_job_query_active", "1 while the streaming query runs", queryActive.get)
    out.counter("speedlayer_job_query_starts_total", "query starts in this JVM (more than 1: restarted)", queryStarts.get)
    out.counter("speedlayer_job_query_failures_total", "query terminations with an exception", queryFailures.get)
    lastException.get.foreach(e => out.gauge("speedlayer_job_query_exception_info", "the exception that stopped the query", 1, Seq("exception" -> e)))
    out.counter("speedlayer_job_batches_total", "micro-batches completed", batches.get)
    out.counter("speedlayer_job_input_rows_total", "Kafka records read (both topics)", inputRows.get)
    out.gauge("speedlayer_job_trigger_interval_seconds", "the processing-time trigger", triggerSeconds)
    out.histogram("speedlayer_job_batch_duration_seconds", "micro-batch wall time", durations)
    val c = JobMetrics.writtenSoFar
    out.counters("speedlayer_job_rows_total", "rows by outcome: written per table, or dropped as duplicates",
      Seq("events" -> c.events, "late_events" -> c.late_events, "sessions" -> c.sessions, "tier_changes" -> c.tier_changes,
        "users" -> c.users, "dead_letters" -> c.dead_letters, "duplicates" -> c.duplicates).map { case (k, v) => Seq("outcome" -> k) -> v })
    out.counter("speedlayer_job_clickhouse_insert_retries_total", "ClickHouse insert attempts that failed and were retried", JobMetrics.insertRetries.get)
    last.get.foreach(p => renderProgress(out, p))
    out.toString
  }

  private def renderProgress(out: MetricsText, p: StreamingQueryProgress): Unit = {
    val duration = p.batchDuration / 1000.0
    out.gauge("speedlayer_job_last_batch_id", "id of the last completed micro-batch", p.batchId)
    out.gauge("speedlayer_job_last_batch_timestamp_seconds", "when the last micro-batch started", Instant.parse(p.timestamp).toEpochMilli / 1000.0)
    out.gauge("speedlayer_job_last_batch_input_rows", "records read by the last micro-batch", p.numInputRows)
    out.gauge("speedlayer_job_input_rows_per_second", "Spark's input rate of the last micro-batch", rate(p.inputRowsPerSecond))
    out.gauge("speedlayer_job_processed_rows_per_second", "Spark's processing rate of the last micro-batch", rate(p.processedRowsPerSecond))
    out.gauge("speedlayer_job_last_batch_duration_seconds", "wall time of the last micro-batch", duration)
    out.gauge("speedlayer_job_trigger_lag_seconds", "how much the last micro-batch overran the trigger (0 when it fit)", math.max(0, duration - triggerSeconds))
    out.gauges("speedlayer_job_last_batch_phase_seconds", "Spark's phases of the last micro-batch",
      p.durationMs.asScala.toSeq.sortBy(_._1).map { case (k, v) => Seq("phase" -> k) -> v.longValue / 1000.0 })
    // Spark reports the epoch until the first event with an event time: no watermark yet.
    Option(p.eventTime).flatMap(m => Option(m.get("watermark"))).map(Instant.parse(_).toEpochMilli).filter(_ > 0).foreach { ms =>
      out.gauge("speedlayer_job_watermark_timestamp_seconds", "the event-time watermark of the last micro-batch", ms / 1000.0)
      out.gauge("speedlayer_job_watermark_delay_seconds", "wall clock minus the watermark, now", (now() - ms) / 1000.0)
    }
    val ops = p.stateOperators.toSeq
    out.gauge("speedlayer_job_state_rows", "rows in the state store (-1 when RocksDB does not count them)", if (ops.isEmpty) 0 else ops.map(_.numRowsTotal).sum)
    out.gauge("speedlayer_job_state_rows_updated", "state rows written by the last micro-batch", ops.map(_.numRowsUpdated).sum)
    out.gauge("speedlayer_job_state_memory_bytes", "memory used by the state store", ops.map(_.memoryUsedBytes).sum)
    val end = p.sources.toSeq.flatMap(s => offsets(s.endOffset))
    val latest = p.sources.toSeq.flatMap(s => offsets(s.latestOffset)).toMap
    out.gauges("speedlayer_job_kafka_offset", "next offset the job reads, per partition, after the last micro-batch",
      end.map { case ((t, part), o) => Seq("topic" -> t, "partition" -> part) -> o.toDouble })
    out.gauges("speedlayer_job_kafka_lag_records", "records available but not yet read when the last micro-batch planned, per partition",
      end.flatMap { case (k @ (t, part), o) => latest.get(k).map(l => Seq("topic" -> t, "partition" -> part) -> math.max(0L, l - o).toDouble) })
  }

  private def rate(d: Double): Double = if (d.isNaN || d.isInfinite) 0.0 else d

  /** Spark's Kafka offsets JSON {"topic":{"0":123,...},...} -> ((topic, partition), offset). */
  private def offsets(json: String): Seq[((String, String), Long)] =
    if (json == null) Seq.empty
    else
      try {
        mapper.readTree(json).properties().asScala.toSeq.flatMap { t =>
          t.getValue.properties().asScala.toSeq.map(p => (t.getKey, p.getKey) -> p.getValue.asLong)
        }
      } catch { case NonFatal(_) => Seq.empty }
}

/** A cumulative histogram (Prometheus buckets are cumulative: le = upper bound). */
final class Histogram(val bounds: Seq[Double]) {
  private val counts = Array.fill(bounds.size + 1)(new AtomicLong())
  private val sumMicros = new AtomicLong()
  def observe(v: Double): Unit = {
    val i = bounds.indexWhere(v <= _)
    counts(if (i < 0) bounds.size else i).incrementAndGet()
    sumMicros.addAndGet((v * 1e6).toLong)
  }
  def cumulative: Seq[(String, Long)] = {
    val c = counts.map(_.get).scanLeft(0L)(_ + _).tail
    bounds.map(MetricsText.number).zip(c) :+ ("+Inf" -> c.last)
  }
  def sum: Double = sumMicros.get / 1e6
}

final class MetricsText {
  private val sb = new StringBuilder
  private def head(name: String, help: String, kind: String): Unit = sb ++= s"# HELP $name $help\n# TYPE $name $kind\n"
  private def line(name: String, labels: Seq[(String, String)], v: Double): Unit = {
    val l = if (labels.isEmpty) "" else labels.map { case (k, x) => s"""$k="${MetricsText.escape(x)}"""" }.mkString("{", ",", "}")
    sb ++= s"$name$l ${MetricsText.number(v)}\n"
  }
  def gauge(name: String, help: String, v: Double, labels: Seq[(String, String)] = Nil): Unit = { head(name, help, "gauge"); line(name, labels, v) }
  def counter(name: String, help: String, v: Double): Unit = { head(name, help, "counter"); line(name, Nil, v) }
  def gauges(name: String, help: String, values: Seq[(Seq[(String, String)], Double)]): Unit =
    if (values.nonEmpty) { head(name, help, "gauge"); values.foreach { case (l, v) => line(name, l, v) } }
  def counters(name: String, help: String, values: Seq[(Seq[(String, String)], Long)]): Unit = {
    head(name, help, "counter"); values.foreach { case (l, v) => line(name, l, v.toDouble) }
  }
  def histogram(name: String, help: String, h: Histogram): Unit = {
    head(name, help, "histogram")
    val c = h.cumulative
    c.foreach { case (le, n) => line(s"${name}_bucket", Seq("le" -> le), n.toDouble) }
    line(s"${name}_sum", Nil, h.sum)
    line(s"${name}_count", Nil, c.last._2.toDouble)
  }
  override def toString: String = sb.toString
}

object MetricsText {
  def escape(s: String): String = s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")
  def number(v: Double): String = if (v == v.floor && !v.isInfinite && math.abs(v) < 1e15) v.toLong.toString else v.toString
}

/** An HTTP endpoint for Prometheus, loopback by default (the JDK's own server: no extra dependency). */
object MetricsEndpoint {
  def start(port: Int, render: () => String, host: String = "127.0.0.1"): HttpServer = {
    val server = HttpServer.create(new InetSocketAddress(host, port), 0)
    server.createContext("/metrics", (ex: HttpExchange) => {
      try {
        val body = render().getBytes(StandardCharsets.UTF_8)
        ex.getResponseHeaders.add("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        ex.sendResponseHeaders(200, body.length.toLong)
        ex.getResponseBody.write(body)
      } finally ex.close()
    })
    server.start()
    server
  }
}
