package dev.speedlayer.job

import java.io.ByteArrayInputStream
import java.nio.charset.StandardCharsets
import java.time.temporal.ChronoUnit
import java.util.concurrent.{CompletionException, ExecutionException, TimeUnit}

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

import com.clickhouse.client.api.{Client, ServerException}
import com.clickhouse.client.api.insert.InsertSettings
import com.clickhouse.data.ClickHouseFormat
import org.slf4j.LoggerFactory

/** Where and how to write to ClickHouse. Serializable: it travels to the executors. */
final case class ClickHouseConfig(
    url: String,
    user: String,
    password: String,
    database: String,
    retryForMs: Long = 600000,
    initialBackoffMs: Long = 500,
    maxBackoffMs: Long = 15000,
    connectTimeoutMs: Long = 10000,
    socketTimeoutMs: Long = 120000) {
  require(retryForMs >= 0, "retryForMs must not be negative")
  override def toString: String =
    s"ClickHouseConfig($url, user=$user, password=${if (password.isEmpty) "<empty>" else "<redacted>"}, database=$database)"
}

/**
 * Inserts JSONEachRow into ClickHouse with the official Java client (client-v2).
 *
 * Exactly-once into ClickHouse: [[writeTables]] sends one insert per table and Spark partition of
 * a micro-batch, carrying an `insert_deduplication_token` that names the same rows on a replay
 * (see there); ClickHouse (non_replicated_deduplication_window on the tables) drops the blocks it
 * already stored. A retried insert keeps its token too, so an insert that succeeded but whose
 * response was lost is not doubled.
 */
object ClickHouseSink {
  private val log = LoggerFactory.getLogger(getClass)

  // One client per executor JVM and configuration (it holds a pooled HTTP connection manager).
  private val clients = new PerJvm[ClickHouseConfig, Client]("speedlayer-clickhouse-close")(newClient)

  def client(config: ClickHouseConfig): Client = clients(config)

  def newClient(config: ClickHouseConfig): Client =
    new Client.Builder()
      .addEndpoint(config.url)
      .setUsername(config.user)
      .setPassword(config.password)
      .setDefaultDatabase(config.database)
      .setClientName("speedlayer-job")
      // No compression, in either direction. By default client-v2 asks the server for
      // responses in ClickHouse's own LZ4 block framing (`compress=1`) and can send requests
      // framed the same way; the local target may be an embedded ClickHouse behind a partial
      // HTTP front that implements neither that framing nor HTTP Content-Encoding. Requests go
      // over loopback or the cluster network, so compression would save little anyway.
      .compressClientRequest(false)
      .compressServerResponse(false)
      .useHttpCompression(false)
      // Retries are done here (with backoff and the same deduplication token), not by the client.
      .setMaxRetries(0)
      .setConnectTimeout(config.connectTimeoutMs, ChronoUnit.MILLIS)
      .setSocketTimeout(config.socketTimeoutMs, ChronoUnit.MILLIS)
      .build()

  /**
   * One Spark partition of a micro-batch of the stateful stage's output: one insert per table
   * that has rows, with the token `<queryId>-<batchId>-<table>-s<sparkPartition>`. Here the
   * Spark partition id is deterministic: the rows come out of transformWithState, whose
   * partition i is shuffle partition i (hash of user_id), the same partition as its state
   * store and so the same on a replay (spark.sql.shuffle.partitions is fixed by the checkpoint),
   * and the processor's output is a function of (state and timers, input offsets, watermark, batch time),
   * all restored from the checkpoint. Rows with no Kafka record of their own (a session closed
   * by the watermark) need such a name.
   *
   * @param outputs (field of OutputLines, table, columns)
   */
  def writeTables(
      config: ClickHouseConfig,
      outputs: Seq[(String, String, Seq[String])],
      tokenPrefix: String,
      sparkPartition: Int,
      rows: Iterator[OutputLines]): BatchCounts = {
    val lineOf = outputs.map { case (field, _, _) => OutputLines.field(field) }.toArray
    val bodies = Array.fill(lineOf.length)(new java.io.ByteArrayOutputStream(16 * 1024))
    val counts = new Array[Long](lineOf.length)
    var duplicates = 0L
    rows.foreach { r =>
      var i = 0
      while (i < lineOf.length) {
        lineOf(i)(r).foreach { l =>
          bodies(i).write(l.getBytes(StandardCharsets.UTF_8))
          bodies(i).write('\n')
          counts(i) += 1
        }
        i += 1
      }
      if (r.duplicate) duplicates += 1
    }
    val inserts = outputs.zipWithIndex.collect {
      case ((_, table, columns), i) if counts(i) > 0 =>
        () => insertWithRetry(config, table, columns, s"$tokenPrefix-$table-s$sparkPartition", bodies(i).toByteArray, counts(i).toInt)
    }
    runAll(inserts)
    val rowsOf = outputs.map(_._1).zip(counts).toMap.withDefaultValue(0L)
    BatchCounts(rowsOf("events"), rowsOf("late_events"), rowsOf("sessions"), rowsOf("tier_changes"), rowsOf("users"), rowsOf("dead_letters"), duplicates)
  }

  // Inserts of one task run at once: each mostly waits for ClickHouse (a round trip, the
  // parse, the rollups' materialized views), and one after the other they made the stateful
  // stage's tasks wait about 0.7 s per 2-second batch. Daemon threads, created as needed.
  private val insertThreads = java.util.concurrent.Executors.newCachedThreadPool { (r: Runnable) =>
    val t = new Thread(r, "speedlayer-clickhouse-insert")
    t.setDaemon(true)
    t
  }

  /**
   * Runs every insert at once and waits for all of them; then fails with the first failure (in
   * write order), if any. Waiting for all before failing leaves no insert running behind a
   * failed task (a replay sends the same tokens, so the ones that landed are not doubled).
   */
  private def runAll(inserts: Seq[() => Unit]): Unit =
    if (inserts.size <= 1) inserts.foreach(_())
    else {
      val running = inserts.map(insert => insertThreads.submit(new java.util.concurrent.Callable[Unit] { def call(): Unit = insert() }))
      val failures = running.flatMap { f =>
        try { f.get(); None }
        catch { case e: ExecutionException if e.getCause != null => Some(e.getCause) }
      }
      failures.headOption.foreach(first => throw first)
    }

  /**
   * One insert, retried with the same token and capped exponential backoff (initialBackoffMs,
   * doubling up to maxBackoffMs) for up to retryForMs: a ClickHouse that is away for minutes
   * (a restart, an upgrade) only delays the batch, which then catches up. After that the batch
   * fails with the last error, the job stops with SPEEDLAYER_FAILED and its supervisor restarts
   * it from the checkpoint (the replay carries the same tokens).
   */
  def insertWithRetry(config: ClickHouseConfig, table: String, columns: Seq[String], token: String, body: Array[Byte], rows: Int): Unit = {
    val started = System.nanoTime()
    def elapsedMs = (System.nanoTime() - started) / 1000000L
    var attempt = 1
    var backoff = config.initialBackoffMs
    var done = false
    while (!done) {
      try {
        insertOnce(config, table, columns, token, body)
        done = true
        if (attempt > 1) log.warn(s"insert into ${config.database}.$table (token $token) succeeded at attempt $attempt after $elapsedMs ms")
      } catch {
        case NonFatal(e) if isPermanent(unwrap(e)) =>
          val cause = unwrap(e)
          throw new ClickHouseInsertException(
            s"insert of $rows rows into ${config.database}.$table (token $token) refused, not retried (waiting would not change it): ${describe(cause)}",
            cause)
        case NonFatal(e) =>
          val cause = unwrap(e)
          val wait = math.min(backoff, config.retryForMs - elapsedMs)
          if (wait <= 0) {
            throw new ClickHouseInsertException(
              s"insert of $rows rows into ${config.database}.$table (token $token) failed after $attempt attempts in " +
                s"${elapsedMs / 1000} s (retry limit ${config.retryForMs / 1000} s): ${describe(cause)}",
              cause)
          }
          log.warn(s"insert into ${config.database}.$table (token $token) failed (attempt $attempt, ${elapsedMs / 1000} s of " +
            s"${config.retryForMs / 1000} s), retrying in $wait ms: ${describe(cause)}")
          JobMetrics.insertRetries.incrementAndGet()
          Thread.sleep(wait)
          backoff = math.min(backoff * 2, config.maxBackoffMs)
          attempt += 1
      }
    }
  }

  /**
   * ClickHouse error codes that no wait can cure (a wrong password, a missing table or column, a
   * read-only user, rows that do not parse): failing at once tells the user now instead of after
   * retryForMs of silent retries and the supervisor's restarts. Everything else is retried.
   */
  val PermanentErrorCodes: Set[Int] = Set(
    16, // NO_SUCH_COLUMN_IN_TABLE
    27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    47, // UNKNOWN_IDENTIFIER
    53, // TYPE_MISMATCH
    60, // UNKNOWN_TABLE
    62, // SYNTAX_ERROR
    81, // UNKNOWN_DATABASE
    117, // INCORRECT_DATA
    164, // READONLY
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    194, // REQUIRED_PASSWORD
    497, // ACCESS_DENIED
    516 // AUTHENTICATION_FAILED
  )

  private def isPermanent(e: Throwable): Boolean = e match {
    case server: ServerException => PermanentErrorCodes.contains(server.getCode)
    case _ => false
  }

  private def insertOnce(config: ClickHouseConfig, table: String, columns: Seq[String], token: String, body: Array[Byte]): Unit = {
    val settings = new InsertSettings()
      .setDeduplicationToken(token)
      // Stated, not left to the server's defaults: deduplicate by the token, and make the
      // materialized views on `events` (the rollups) drop a replayed block too; before
      // ClickHouse 26.2 (e.g. the 25.8 server of the kind target) the views would count it
      // again (docs/clickhouse.md).
      .serverSetting("insert_deduplicate", "1")
      .serverSetting("deduplicate_blocks_in_dependent_materialized_views", "1")
      .compressClientRequest(false)
      .useHttpCompression(false)
    val response = client(config)
      .insert(table, columns.asJava, new ByteArrayInputStream(body), ClickHouseFormat.JSONEachRow, settings)
      .get(config.socketTimeoutMs + config.connectTimeoutMs, TimeUnit.MILLISECONDS)
    response.close()
  }

  /** "Class: message", and the root cause's too when there is one (e.g. "Connection refused"). */
  private def describe(e: Throwable): String = {
    val root = Iterator.iterate(e)(_.getCause).takeWhile(_ != null).take(16).toSeq.last
    val text = s"${e.getClass.getSimpleName}: ${e.getMessage}"
    if (root eq e) text else s"$text; caused by ${root.getClass.getSimpleName}: ${root.getMessage}"
  }

  private def unwrap(e: Throwable): Throwable = e match {
    case ee: ExecutionException if ee.getCause != null => unwrap(ee.getCause)
    case ce: CompletionException if ce.getCause != null => unwrap(ce.getCause)
    case other => other
  }
}

final class ClickHouseInsertException(message: String, cause: Throwable) extends RuntimeException(message, cause)
