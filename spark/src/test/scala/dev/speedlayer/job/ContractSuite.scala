package dev.speedlayer.job

import java.nio.file.{Files, Paths}

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.ObjectMapper
import org.scalatest.funsuite.AnyFunSuite

/** The job against the shared contract in src/contract (read from the classpath). */
class ContractSuite extends AnyFunSuite with SharedSpark {

  private val contractDir = Paths.get(sys.props("speedlayer.contractDir"))

  /** Column names of `CREATE TABLE IF NOT EXISTS <table>` in the migration, in order. */
  private def ddlColumns(table: String, path: String = Contract.EventsMigrationPath): Seq[String] = {
    val sql = Contract.resourceText(path)
    val start = sql.indexOf(s"CREATE TABLE IF NOT EXISTS $table\n")
    assert(start >= 0, s"no CREATE TABLE $table")
    val body = sql.substring(sql.indexOf("(", start) + 1, sql.indexOf("\n)", start))
    body.split("\n").toSeq.map(_.trim).filter(l => l.nonEmpty && !l.startsWith("--") && !l.startsWith("INDEX ")).map(_.split("\\s+")(0))
  }

  test("the contract files on the classpath are src/contract itself, not copies") {
    Seq("pipeline.json", "event.schema.json", "clickhouse/migrations/0001_events.sql").foreach { f =>
      assert(Contract.resourceText(s"contract/$f") === new String(Files.readAllBytes(contractDir.resolve(f)), "UTF-8"), f)
    }
  }

  test("pipeline.json: main class, tables and limits as the job uses them") {
    val p = Contract.pipeline
    assert(p.mainClass === SpeedLayerJob.getClass.getName.stripSuffix("$"))
    assert(p.eventsTable === "events")
    assert(p.deadLettersTable === "dead_letters")
    assert(p.limits.maxEventBytes > 0 && p.limits.maxPayloadBytes >= p.limits.maxEventBytes)
    assert(p.triggerIntervalSeconds === 2)
    assert(p.maxOffsetsPerTrigger > 0)
  }

  test("EventRow has exactly the columns of `events` (minus inserted_at), in order") {
    assert(ddlColumns("events") === EventRow.columns :+ "inserted_at")
  }

  test("DeadLetterRow has exactly the columns of `dead_letters` (minus inserted_at), in order") {
    assert(ddlColumns("dead_letters") === DeadLetterRow.columns :+ "inserted_at")
  }

  test("the rows of the stateful stage have exactly the columns of the 0002 tables (minus inserted_at / updated_at), in order (sessions: as a set, with the counter columns later migrations add)") {
    val analytics = Contract.AnalyticsMigrationPath
    assert(ddlColumns("late_events", analytics).filterNot(_ == "inserted_at") === LateEventOut.columns)
    assert(sessionsColumns.sorted === (SessionRow.columns :+ "inserted_at").sorted)
    assert(sessionsColumns.distinct === sessionsColumns)
    assert(ddlColumns("tier_changes", analytics) === TierChangeRow.columns :+ "inserted_at")
    assert(ddlColumns("users", analytics) === UserRow.columns :+ "updated_at")
    assert(ddlColumns("pipeline_progress", analytics) === PipelineProgressWriter.columns :+ "inserted_at")
    // events: 0001's columns + the two ALTERs of 0002.
    val sql = Contract.resourceText(analytics)
    assert(sql.contains("ALTER TABLE events ADD COLUMN IF NOT EXISTS tier LowCardinality(String)"))
    assert(sql.contains("ALTER TABLE events ADD COLUMN IF NOT EXISTS session_id String"))
    assert(EventOut.columns === EventRow.columns ++ Seq("tier", "session_id"))
    val p = Contract.pipeline
    assert(Tables.fromContract(p) === Tables("events", "dead_letters", "late_events", "sessions", "tier_changes", "users", "pipeline_progress"))
    assert(p.usersTopic === "speedlayer.users")
  }

  /** The columns of `sessions` after every migration: 0002's CREATE TABLE, then each ADD COLUMN of a later one. */
  private def sessionsColumns: Seq[String] = {
    val migrations = Files.list(contractDir.resolve("clickhouse/migrations")).iterator().asScala.map(_.getFileName.toString)
      .filter(_.matches("\\d{4}_.+\\.sql")).toSeq.sorted
    val added = "(?m)^ALTER TABLE sessions ADD COLUMN IF NOT EXISTS (\\w+) ".r
    ddlColumns("sessions", Contract.AnalyticsMigrationPath) ++
      migrations.flatMap(m => added.findAllMatchIn(Contract.resourceText(s"contract/clickhouse/migrations/$m")).map(_.group(1)))
  }

  test("pipeline.json sessions: counted types and funnel stages are event types of the schema; each counter has its `sessions` column") {
    val schema = new ObjectMapper().readTree(Contract.resourceText(Contract.EventSchemaPath))
    val eventTypes = schema.at("/properties/event_type/enum").elements().asScala.map(_.asText()).toSet
    val vocabulary = Contract.pipeline.sessions
    assert(vocabulary.counters.map(_.eventType).toSet.subsetOf(eventTypes))
    assert(vocabulary.funnelStages.toSet.subsetOf(eventTypes))
    assert(vocabulary.funnelStages.size === 4) // funnel_by_tier_15m.sql reads stages 1..4
    assert(vocabulary.columns.toSet.subsetOf(sessionsColumns.toSet))
    // Append only: checkpointed sessions hold their counts in this order (UserProcessor.countsOf).
    assert(vocabulary.columns.take(7) === Seq("page_views", "product_views", "searches", "cart_adds", "cart_removes", "checkouts", "purchases"))
  }

  test("every property of event.schema.json has its events column (query -> search_query, items -> items_count)") {
    val schema = new ObjectMapper().readTree(Contract.resourceText(Contract.EventSchemaPath))
    val properties = schema.get("properties").fieldNames().asScala.toSeq
    val renamed = Map("query" -> "search_query", "items" -> "items_count")
    val stored = properties.filterNot(_ == "schema_version").map(p => renamed.getOrElse(p, p))
    assert(stored.toSet === EventRow.columns.toSet -- Set("kafka_partition", "kafka_offset"))
  }

  test("the Spark settings of the job, also used by the tests' session") {
    assert(JobSparkConf.settings(3) === Map(
      "spark.sql.shuffle.partitions" -> "3",
      "spark.sql.streaming.stateStore.providerClass" -> "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
      "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled" -> "true",
      "spark.sql.streaming.stateStore.rocksdb.trackTotalNumberOfRows" -> "false",
      "spark.sql.streaming.stateStore.minDeltasForSnapshot" -> "50",
      "spark.sql.streaming.checkpointFileManagerClass" -> "dev.speedlayer.job.LocalCheckpointFileManager",
      "spark.sql.session.timeZone" -> "UTC"))
    JobSparkConf.settings(2).foreach { case (k, v) => assert(spark.conf.get(k) === v, k) }
    // The provider class exists on the classpath the job runs with.
    Class.forName(JobSparkConf.RocksDbStateStoreProvider)
  }
}
