package dev.speedlayer.job

import java.io.PrintStream
import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path, StandardCopyOption}
import java.util.UUID
import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.spark.sql.streaming.{StreamingQueryListener, StreamingQueryProgress}
import org.slf4j.LoggerFactory

/**
 * On every progress of a query: writes Spark's progress JSON to `progressFile` (atomically,
 * temp file + rename, so a reader never sees half a file) and prints one compact line
 *
 * {{{SPEEDLAYER_PROGRESS {"batchId":..,"numInputRows":..,"inputRowsPerSecond":..,"processedRowsPerSecond":..,"batchDurationMs":..,"timestamp":..,
 *   "durationMs":{"addBatch":..,...},"state":{"numRowsTotal":..,"numRowsUpdated":..,"allUpdatesTimeMs":..,"allRemovalsTimeMs":..,"commitTimeMs":..}}}}}
 *
 * to `out` (stdout). Rates Spark cannot compute (NaN, e.g. on the first batch) are null.
 */
final class ProgressListener(progressFile: Option[Path], out: PrintStream = System.out) extends StreamingQueryListener {
  private val log = LoggerFactory.getLogger(getClass)

  private val announced = ConcurrentHashMap.newKeySet[UUID]()

  /**
   * The CLI waits for this line (once per run). Printed once the query has read its checkpoint and
   * looked for data — its first progress, or its first idle event when no data came (after a
   * restart with nothing new Spark reports idleness, not progress) — not when it starts: a
   * checkpoint that cannot be read fails the query after QueryStartedEvent.
   */
  private def announce(id: UUID, runId: UUID): Unit =
    if (announced.add(runId)) {
      out.println(s"${ProgressListener.StartedPrefix}$id $runId")
      out.flush()
    }

  override def onQueryStarted(event: StreamingQueryListener.QueryStartedEvent): Unit = ()

  override def onQueryIdle(event: StreamingQueryListener.QueryIdleEvent): Unit = announce(event.id, event.runId)

  override def onQueryProgress(event: StreamingQueryListener.QueryProgressEvent): Unit = {
    val progress = event.progress
    announce(progress.id, progress.runId)
    progressFile.foreach { path =>
      try ProgressListener.writeAtomically(path, progress.json)
      catch { case NonFatal(e) => log.warn(s"could not write the progress file $path: $e") }
    }
    out.println(ProgressListener.Prefix + ProgressListener.compact(progress))
    out.flush()
  }

  override def onQueryTerminated(event: StreamingQueryListener.QueryTerminatedEvent): Unit = ()
}

object ProgressListener {
  val Prefix: String = Contract.pipeline.protocol.progress
  val StartedPrefix: String = Contract.pipeline.protocol.started
  private val mapper = new ObjectMapper()

  def compact(p: StreamingQueryProgress): String = {
    val node = mapper.createObjectNode()
    node.put("batchId", p.batchId)
    node.put("numInputRows", p.numInputRows)
    putRate(node, "inputRowsPerSecond", p.inputRowsPerSecond)
    putRate(node, "processedRowsPerSecond", p.processedRowsPerSecond)
    node.put("batchDurationMs", p.batchDuration)
    node.put("timestamp", p.timestamp)
    // Where the batch's time went (Spark's phases: addBatch = processing + writing, ...) and
    // what the state store did, summed over the stateful operators: for the runbook and the
    // pipeline benchmark.
    val phases = node.putObject("durationMs")
    p.durationMs.asScala.toSeq.sortBy(_._1).foreach { case (k, v) => phases.put(k, v.longValue) }
    val state = node.putObject("state")
    val ops = p.stateOperators.toSeq
    state.put("numRowsTotal", ops.map(_.numRowsTotal).sum)
    state.put("numRowsUpdated", ops.map(_.numRowsUpdated).sum)
    state.put("allUpdatesTimeMs", ops.map(_.allUpdatesTimeMs).sum)
    state.put("allRemovalsTimeMs", ops.map(_.allRemovalsTimeMs).sum)
    state.put("commitTimeMs", ops.map(_.commitTimeMs).sum)
    mapper.writeValueAsString(node)
  }

  private def putRate(node: com.fasterxml.jackson.databind.node.ObjectNode, name: String, value: Double): Unit =
    if (value.isNaN || value.isInfinite) node.putNull(name) else node.put(name, value)

  /** Writes `content` to a temp file next to `path`, then renames it over `path`. */
  def writeAtomically(path: Path, content: String): Unit = {
    val target = path.toAbsolutePath
    val dir = target.getParent
    Files.createDirectories(dir)
    val tmp = Files.createTempFile(dir, s".${target.getFileName}.", ".tmp")
    try {
      Files.write(tmp, content.getBytes(StandardCharsets.UTF_8))
      try Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)
      catch {
        case _: java.nio.file.AtomicMoveNotSupportedException =>
          Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING)
      }
    } finally {
      Files.deleteIfExists(tmp)
    }
  }
}
