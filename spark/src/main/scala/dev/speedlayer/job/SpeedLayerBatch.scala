package dev.speedlayer.job

import java.util.concurrent.ConcurrentHashMap

import org.apache.spark.TaskContext
import org.apache.spark.sql.{DataFrame, Dataset, Encoders}
import org.apache.spark.sql.execution.streaming.StreamExecution
import org.apache.spark.storage.StorageLevel

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
 * rendered as JSON lines (RenderOutput), is kept (persisted) and written to ClickHouse by one Spark job (each Spark
 * partition inserts into each table that has rows: ClickHouseSink.writeTables), then the dead
 * letters also go to the dead-letter topic.
 *
 * @param publishDeadLetters writes (key, value) records to the dead-letter topic; a Kafka
 *                           batch write in the job, a collector in tests.
 * @param afterWrite         called with the batch id and its counts once everything is written,
 *                           before Spark commits the batch (FaultInjection uses it).
 */
final class SpeedLayerBatch(
    clickhouse: ClickHouseConfig,
    tables: Tables,
    publishDeadLetters: DataFrame => Unit,
    afterWrite: (Long, BatchCounts) => Unit = (_, _) => ())
    extends ((Dataset[OutputLines], Long) => Unit) {

  override def apply(batch: Dataset[OutputLines], batchId: Long): Unit = {
    val queryId = SpeedLayerBatch.queryId(batch)
    val prefix = s"$queryId-$batchId" // + "-<table>-s<spark partition>"
    // Kept as objects (an RDD cache, not Spark's compressed columnar cache: the rows are read
    // once or twice, building compressed column batches cost more than it saved).
    val lines = batch.rdd.persist(StorageLevel.MEMORY_AND_DISK)
    try {
      val config = clickhouse
      val outputs = tables.outputs
      val counts = lines
        .mapPartitions((rows: Iterator[OutputLines]) =>
          Iterator(ClickHouseSink.writeTables(config, outputs, prefix, TaskContext.getPartitionId(), rows)))
        .collect()
        .foldLeft(BatchCounts())(_ + _)
      BatchCounters.record(queryId, batchId, counts)
      JobMetrics.batchWritten(counts)
      if (counts.dead_letters > 0) {
        publishDeadLetters(DeadLetterTopicRecords(batch.sparkSession.createDataset(lines.flatMap(_.dead_letters))(Encoders.STRING)))
      }
      afterWrite(batchId, counts)
    } finally {
      lines.unpersist(blocking = false)
    }
  }
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

  /** Dead-letter records -> the dead-letter topic, through Spark's Kafka sink. */
  def kafkaPublisher(bootstrapServers: String, topic: String): DataFrame => Unit =
    (records: DataFrame) =>
      records.write
        .format("kafka")
        .option("kafka.bootstrap.servers", bootstrapServers)
        .option("topic", topic)
        .save()
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
