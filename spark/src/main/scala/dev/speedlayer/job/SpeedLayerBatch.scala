package dev.speedlayer.job

import java.util.concurrent.ConcurrentHashMap

import org.apache.kafka.clients.producer.{KafkaProducer, ProducerConfig, ProducerRecord}
import org.apache.kafka.common.serialization.{ByteArraySerializer, StringSerializer}
import org.apache.spark.TaskContext
import org.apache.spark.sql.Dataset
import org.apache.spark.sql.execution.streaming.StreamExecution

/** ClickHouse table names (pipeline.json `clickhouse.tables`). */
final case class Tables(
    events: String,
    deadLetters: String,
    lateEvents: String,
    sessions: String,
    tierChanges: String,
    users: String,
    pipelineProgress: String) {

  /** (column of OutputLines, table, columns) of every table a batch writes, in write order. */
  def outputs: Seq[(String, String, Seq[String])] = Seq(
    ("events", events, EventOut.columns),
    ("late_events", lateEvents, LateEventOut.columns),
    ("sessions", sessions, SessionRow.columns),
    ("tier_changes", tierChanges, TierChangeRow.columns),
    ("users", users, UserRow.columns),
    ("dead_letters", deadLetters, DeadLetterRow.columns))
}

object Tables {
  def fromContract(p: Pipeline = Contract.pipeline): Tables =
    Tables(p.eventsTable, p.deadLettersTable, p.lateEventsTable, p.sessionsTable, p.tierChangesTable, p.usersTable, p.pipelineProgressTable)
}

/** Rows written by one micro-batch, per table, and the rows only counted (duplicates). */
final case class BatchCounts(
    events: Long = 0,
    late_events: Long = 0,
    sessions: Long = 0,
    tier_changes: Long = 0,
    users: Long = 0,
    dead_letters: Long = 0,
    duplicates: Long = 0) {
  def +(o: BatchCounts): BatchCounts = BatchCounts(
    events + o.events, late_events + o.late_events, sessions + o.sessions, tier_changes + o.tier_changes,
    users + o.users, dead_letters + o.dead_letters, duplicates + o.duplicates)
}

/**
 * The counts of the batches that ran in this driver, until the progress listener takes them
 * (PipelineProgressWriter: one `pipeline_progress` row per batch).
 */
object BatchCounters {
  private val counts = new ConcurrentHashMap[(String, Long), BatchCounts]()
  def record(queryId: String, batchId: Long, c: BatchCounts): Unit = counts.put((queryId, batchId), c)
  def take(queryId: String, batchId: Long): Option[BatchCounts] = Option(counts.remove((queryId, batchId)))
}

/**
 * The `foreachBatch` body: the processor's output of one micro-batch (events with tier and
 * session, late events, session versions, tier changes, user-dimension rows, dead letters), already
 * rendered as JSON lines (RenderOutput), is written by one Spark job: each Spark partition inserts
 * into each table that has rows (ClickHouseSink.writeTables), then sends its dead letters to the
 * dead-letter topic.
 *
 * @param deadLetters        where each task sends its dead letters after its inserts
 * @param afterWrite         called with the batch id and its counts once everything is written,
 *                           before Spark commits the batch (FaultInjection uses it).
 */
final class SpeedLayerBatch(
    clickhouse: ClickHouseConfig,
    tables: Tables,
    deadLetters: DeadLetterSink,
    afterWrite: (Long, BatchCounts) => Unit = (_, _) => ())
    extends ((Dataset[OutputLines], Long) => Unit) {

  override def apply(batch: Dataset[OutputLines], batchId: Long): Unit = {
    val queryId = SpeedLayerBatch.queryId(batch)
    val prefix = s"$queryId-$batchId" // + "-<table>-s<spark partition>"
    val config = clickhouse
    val outputs = tables.outputs
    val deadLetterTopic = deadLetters
    val counts = batch.rdd
      .mapPartitions { (rows: Iterator[OutputLines]) =>
        val deadLetterLines = Vector.newBuilder[String]
        val seen = rows.map { r => r.dead_letters.foreach(deadLetterLines += _); r }
        val written = ClickHouseSink.writeTables(config, outputs, prefix, TaskContext.getPartitionId(), seen)
        deadLetterTopic.publish(deadLetterLines.result())
        Iterator(written)
      }
      .collect()
      .foldLeft(BatchCounts())(_ + _)
    BatchCounters.record(queryId, batchId, counts)
    JobMetrics.batchWritten(counts)
    afterWrite(batchId, counts)
  }
}

/**
 * Where a task sends its dead letters (JSON lines) once its inserts are done: the dead-letter
 * topic in the job, a collector in tests. Called on executors, so serializable.
 */
trait DeadLetterSink extends Serializable {
  def publish(lines: Seq[String]): Unit
}

/**
 * The dead-letter topic: records with no key and the dead letter's JSON as the value, sent by one
 * producer per executor JVM (acks=all, idempotent). A send that fails fails the task, so the
 * batch is not committed and its replay sends again (at least once, like Spark's Kafka sink,
 * which this replaces: a second Spark job per batch, over rows kept in memory for it).
 */
final case class KafkaDeadLetters(bootstrapServers: String, topic: String) extends DeadLetterSink {
  override def publish(lines: Seq[String]): Unit =
    if (lines.nonEmpty) {
      val producer = KafkaDeadLetters.producers(bootstrapServers)
      val sent = lines.map(line => producer.send(new ProducerRecord[Array[Byte], String](topic, null, line)))
      producer.flush()
      sent.foreach(_.get())
    }
}

object KafkaDeadLetters {
  private val producers = new PerJvm[String, KafkaProducer[Array[Byte], String]]("speedlayer-dead-letters-close")({ servers =>
    val config = new java.util.Properties()
    config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, servers)
    config.put(ProducerConfig.ACKS_CONFIG, "all")
    config.put(ProducerConfig.CLIENT_ID_CONFIG, "speedlayer-dead-letters")
    new KafkaProducer[Array[Byte], String](config, new ByteArraySerializer, new StringSerializer)
  })
}

object SpeedLayerBatch {

  /**
   * The id of the streaming query running this batch: the persistent `id` (kept in the
   * checkpoint, the same after a restart), not the `runId`. StreamExecution sets it as a
   * local property of the thread that runs the batches, which is the one calling foreachBatch.
   */
  def queryId(batch: Dataset[_]): String =
    Option(batch.sparkSession.sparkContext.getLocalProperty(StreamExecution.QUERY_ID_KEY))
      .getOrElse(throw new IllegalStateException("not called from a streaming query (no query id)"))
}

/**
 * A test hook for the crash-recovery test, off unless its environment variable is set: with
 * `SPEEDLAYER_TEST_PAUSE_AFTER_WRITE=N` the job, after writing the N-th batch (counted from its
 * start) that inserted events, prints `SPEEDLAYER_PAUSED_AFTER_WRITE <batchId>` and blocks before Spark
 * commits the batch. A SIGKILL then leaves a batch whose rows are in ClickHouse but whose commit
 * is not in the checkpoint: the restarted job must replay it without storing anything twice.
 * (Killing at a random moment rarely hits that window.) Counted, not by batch id: how many batches
 * a cold job needs for a load depends on the machine.
 */
object FaultInjection {
  val PauseAfterWriteVar = "SPEEDLAYER_TEST_PAUSE_AFTER_WRITE"
  val PausedPrefix = "SPEEDLAYER_PAUSED_AFTER_WRITE "

  def fromEnv(env: Map[String, String]): (Long, BatchCounts) => Unit =
    env.get(PauseAfterWriteVar).flatMap(_.trim.toLongOption) match {
      case None => (_, _) => ()
      case Some(nth) =>
        var batchesWithEvents = 0L
        (batchId, counts) =>
          if (counts.events > 0) batchesWithEvents += 1
          if (batchesWithEvents >= nth && counts.events > 0) {
            System.out.println(PausedPrefix + batchId)
            System.out.flush()
            Thread.sleep(Long.MaxValue)
          }
    }
}
