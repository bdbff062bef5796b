package dev.speedlayer.job

import java.nio.file.Paths
import java.util.concurrent.atomic.AtomicBoolean

import scala.util.control.NonFatal

import org.apache.spark.sql.{DataFrame, Dataset, SparkSession}
import org.apache.spark.sql.streaming.{OutputMode, StreamingQuery, Trigger}

/** The Spark SQL configuration the job sets (the master is left to spark-submit / -Dspark.master). */
object JobSparkConf {
  val RocksDbStateStoreProvider = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"

  def settings(shufflePartitions: Int): Map[String, String] = Map(
    "spark.sql.shuffle.partitions" -> shufflePartitions.toString,
    // State (added by later stages of the pipeline) lives in RocksDB, with changelog
    // checkpointing: each micro-batch uploads only the changes, not a snapshot.
    "spark.sql.streaming.stateStore.providerClass" -> RocksDbStateStoreProvider,
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled" -> "true",
    // Counting the state's rows costs a RocksDB read on every write (RocksDB.handleMetricsUpdate
    // in put/remove, seen in profiles of the stateful stage); the count is only a metric.
    "spark.sql.streaming.stateStore.rocksdb.trackTotalNumberOfRows" -> "false",
    // A RocksDB snapshot (flushing the memtables and making a checkpoint, inside the commit of
    // the batch: 250-480 ms of a 2-s batch at 10k events/s on 2 cores) every 50 batches, not
    // every 10 (Spark's default). A restart then replays at most 49 changelog files per
    // partition. RocksDB still flushes a full memtable by itself; the job's peak RSS did not grow
    // (docs/benchmarks.md).
    "spark.sql.streaming.stateStore.minDeltasForSnapshot" -> "50",
    // Checkpoint files written without forking chmod/readlink (LocalCheckpointFileManager).
    "spark.sql.streaming.checkpointFileManagerClass" -> classOf[LocalCheckpointFileManager].getName,
    "spark.sql.session.timeZone" -> "UTC")
}

/**
 * Kafka events + users topics -> validation -> stateful processing per user (late, dedup, tiers,
 * sessions: UserProcessor) -> ClickHouse `events`, `late_events`, `sessions`, `tier_changes`, `users`,
 * `dead_letters` (+ dead-letter topic), and one `pipeline_progress` row per batch.
 *
 * Only I/O lives here; the transformations are in Transformations.scala and the batch writer
 * in SpeedLayerBatch. Output on stdout, for the CLI:
 *  - `SPEEDLAYER_PROGRESS {...}` after every micro-batch (see ProgressListener);
 *  - `SPEEDLAYER_FAILED <message>` when the query (or its start) fails; the exit code is then 1.
 * Bad arguments print the usage to stderr and exit with 2.
 */
object SpeedLayerJob {
  val FailedPrefix: String = Contract.pipeline.protocol.failed
  val QueryName = "speedlayer-events"

  def main(args: Array[String]): Unit = {
    val config = JobArgs.parse(args.toIndexedSeq, sys.env) match {
      case Right(c) => c
      case Left(message) =>
        System.err.println(message)
        sys.exit(if (args.contains("--help") || args.contains("-h")) 0 else 2)
    }

    val shuttingDown = new AtomicBoolean(false)
    Runtime.getRuntime.addShutdownHook(new Thread(() => shuttingDown.set(true), "speedlayer-shutdown-flag"))

    var query: Option[StreamingQuery] = None
    val exitCode =
      try {
        val spark = SparkSession
          .builder()
          .appName("speedlayer")
          .config(JobSparkConf.settings(config.shufflePartitions))
          // Batches without input come from the IdleTicker, only while a timeout can still matter.
          .config("spark.sql.streaming.noDataMicroBatches.enabled", "false")
          .getOrCreate()
        spark.streams.addListener(new ProgressListener(config.progressFile.map(Paths.get(_))))
        spark.streams.addListener(new PipelineProgressWriter(config.clickhouse, Contract.pipeline.pipelineProgressTable))
        JobMetrics.serveIfConfigured(spark, config.triggerSeconds)
        val triggerMs = config.triggerSeconds * 1000L
        val ticker = new IdleTicker(config.bootstrapServers, config.eventsTopic, config.usersTopic, triggerMs,
          windowMs = config.stateRevisitSeconds * 1000L + 5 * triggerMs)
        spark.streams.addListener(ticker)
        val started = start(spark, config)
        query = Some(started)
        ticker.start()
        try started.awaitTermination()
        finally ticker.stop()
        0
      } catch {
        case NonFatal(e) if shuttingDown.get() =>
          System.err.println(s"speedlayer: stopped by JVM shutdown (${e.getClass.getSimpleName})")
          0
        case NonFatal(e) =>
          System.out.println(FailedPrefix + failureMessage(e, Some(config.checkpointDir)))
          System.out.flush()
          e.printStackTrace(System.err)
          // Only a run that never completed a batch failed on reading its checkpoint for sure.
          if (query.exists(_.recentProgress.nonEmpty)) 1 else failureExitCode(e, config.checkpointDir)
      }
    if (!shuttingDown.get()) {
      // Spark's non-daemon threads would keep the JVM alive; exit explicitly with the code.
      sys.exit(exitCode)
    }
  }

  def readEvents(spark: SparkSession, config: JobConfig): DataFrame =
    spark.readStream
      .format("kafka")
      .option("kafka.bootstrap.servers", config.bootstrapServers)
      // Both topics in one source: a user's dimension record and events meet in the same
      // keyed state (ClassifyRecords splits them by topic).
      .option("subscribe", s"${config.eventsTopic},${config.usersTopic}")
      .option("startingOffsets", config.startingOffsets)
      .option("maxOffsetsPerTrigger", config.maxOffsetsPerTrigger.toString)
      // Spark's default, stated: offsets that vanished (retention, a recreated topic) fail the
      // query instead of being skipped silently.
      .option("failOnDataLoss", "true")
      // Spark manages offsets in the checkpoint; the group id only names the consumers.
      .option("groupIdPrefix", Contract.pipeline.consumerGroup)
      .options(ExecutorConsumerOptions)
      .load()

  /**
   * Spark's executor consumer asks the broker for the partition's earliest and latest offsets
   * after every poll (two ListOffsets requests), and the broker answers a connection's requests
   * in order. A poll that reached the end of a quiet partition leaves a fetch waiting there for
   * `fetch.max.wait.ms` (500 ms by default), and the ListOffsets behind it waits as long, so a
   * task reading the users topic or the idle ticker's record would wait 0.5 s. Hence a short
   * wait, and polls large enough that a task's share of a batch takes one poll, not one per 500
   * records (docs/benchmarks.md).
   */
  private val ExecutorConsumerOptions: Map[String, String] = Map(
    "kafka.fetch.max.wait.ms" -> "10",
    "kafka.max.poll.records" -> "20000",
    "kafka.max.partition.fetch.bytes" -> (4 * 1024 * 1024).toString)

  def start(spark: SparkSession, config: JobConfig): StreamingQuery = {
    StateFormat.verify(config.checkpointDir, spark.sessionState.newHadoopConf())
    val pipeline = Contract.pipeline
    val batch = new SpeedLayerBatch(
      clickhouse = config.clickhouse,
      tables = Tables.fromContract(pipeline),
      deadLetters = KafkaDeadLetters(config.bootstrapServers, config.deadLetterTopic),
      afterWrite = FaultInjection.fromEnv(sys.env))
    val writeBatch: (Dataset[OutputLines], Long) => Unit = batch
    process(readEvents(spark, config), config.limits(pipeline.limits), config.usersTopic, config.watermarkDelaySeconds, config.stateRevisitSeconds * 1000L)
      .writeStream
      .queryName(QueryName)
      .outputMode(OutputMode.Update())
      .option("checkpointLocation", config.checkpointDir)
      .trigger(Trigger.ProcessingTime(config.triggerSeconds.toLong * 1000L))
      .foreachBatch(writeBatch)
      .start()
  }

  /** Kafka rows of both topics -> validation -> the stateful processor's output. */
  def process(records: DataFrame, limits: Limits, usersTopic: String, watermarkDelaySeconds: Int, revisitMs: Long): Dataset[OutputLines] =
    ProcessUsers(ClassifyRecords(limits, usersTopic)(records), watermarkDelaySeconds, revisitMs)

  /**
   * One line for SPEEDLAYER_FAILED: the most specific error (the deepest cause raised by the
   * job's own code, e.g. a ClickHouse insert that failed every attempt, else the root cause),
   * then the streaming query's ids if the failure was a query's. A checkpoint that cannot be read
   * leads the line (with its path and the recovery), so that a cut line still says it.
   */
  def failureMessage(e: Throwable, checkpointDir: Option[String] = None): String = {
    def oneLine(s: String) = Option(s).getOrElse("").replaceAll("\\s+", " ").trim
    val chain = causes(e)
    val checkpointHint = checkpointDir.filter(dir => checkpointProblem(chain, dir)).map(dir =>
      s"the checkpoint $dir could not be read (corrupted, or written by an incompatible version of the job; " +
        "'speedlayer submit --reset-checkpoint' discards it, after saying what is replayed and lost): ").getOrElse("")
    val cause = chain.reverse.find(_.getClass.getName.startsWith("dev.speedlayer.")).getOrElse(chain.last)
    val causeText = s"${cause.getClass.getName}: ${oneLine(cause.getMessage)}"
    val QueryIds = """Query \[id = ([^,\]]+), runId = ([^\]]+)\]""".r.unanchored
    val context = Option(e.getMessage) match {
      case Some(QueryIds(id, runId)) => s" (query id $id, run id $runId)"
      case _ => ""
    }
    val text = causeText + context
    checkpointHint + (if (text.length > 4000) text.take(4000) + "..." else text)
  }

  /** 1, or the protocol's code for a checkpoint that cannot be read: a restart would fail the same way. */
  def failureExitCode(e: Throwable, checkpointDir: String): Int =
    if (checkpointProblem(causes(e), checkpointDir)) Contract.pipeline.protocol.checkpointUnreadableExitCode else 1

  private def causes(e: Throwable): Seq[Throwable] = Iterator.iterate(e)(_.getCause).takeWhile(_ != null).take(32).toSeq

  /**
   * Whether the failure came from reading the checkpoint: Spark's offset/commit logs or state store,
   * or a message naming the directory. A full disk is not: discarding the checkpoint would not help.
   */
  private def checkpointProblem(chain: Seq[Throwable], dir: String): Boolean =
    !chain.exists(t => Option(t.getMessage).exists(_.contains("No space left on device"))) && chain.exists { t =>
      Option(t.getMessage).exists(m => m.contains(dir) || m.contains("Log file was malformed") || m.contains("STATE_STORE")) ||
        t.getStackTrace.exists(f => f.getClassName.contains("MetadataLog") || f.getClassName.contains(".streaming.state."))
    }
}
