package dev.speedlayer.job

import java.io.InputStream
import java.nio.charset.StandardCharsets

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}

/**
 * The shared contract of the project (`src/contract/` of the repository), read from the
 * classpath where the Maven build puts it as `contract/...`. Nothing here is copied: the
 * CLI, the job and the tests all read the same files.
 */
final case class Pipeline(
    eventsTopic: String,
    deadLetterTopic: String,
    usersTopic: String,
    consumerGroup: String,
    database: String,
    eventsTable: String,
    deadLettersTable: String,
    lateEventsTable: String,
    sessionsTable: String,
    tierChangesTable: String,
    usersTable: String,
    pipelineProgressTable: String,
    triggerIntervalSeconds: Int,
    maxOffsetsPerTrigger: Long,
    watermarkDelaySeconds: Int,
    stateRevisitSeconds: Int,
    clickhouseRetrySeconds: Int,
    mainClass: String,
    protocol: JobProtocol,
    limits: Limits,
    sessions: SessionVocabulary)

/** An event type a session counts, into its column of `sessions`. */
final case class SessionCounter(eventType: String, column: String)

/**
 * `sessions` of pipeline.json: the counted event types, in the order the job's state keeps their
 * counts (append only), and the event types of funnel stages 1..4.
 */
final case class SessionVocabulary(counters: IndexedSeq[SessionCounter], funnelStages: IndexedSeq[String]) {
  require(counters.map(_.eventType).distinct.size == counters.size, "pipeline.json sessions.counters: an event type twice")
  require(counters.map(_.column).distinct.size == counters.size, "pipeline.json sessions.counters: a column twice")

  val columns: IndexedSeq[String] = counters.map(_.column)
  private val counterIndex: Map[String, Int] = counters.map(_.eventType).zipWithIndex.toMap
  private val stageIndex: Map[String, Int] = funnelStages.zipWithIndex.map { case (t, i) => t -> (i + 1) }.toMap

  /** Position of the event type's count (-1: not counted). */
  def counterOf(eventType: String): Int = counterIndex.getOrElse(eventType, -1)

  /** The funnel stage the event type reaches (1..4; 0: none). */
  def stageOf(eventType: String): Int = stageIndex.getOrElse(eventType, 0)

  /** Position of a count the processor derives a column from (converted, cart_abandoned). */
  def requireCounter(eventType: String): Int = {
    val i = counterOf(eventType)
    if (i < 0) throw new IllegalStateException(s"pipeline.json sessions.counters has no $eventType (the job derives a column from it)")
    i
  }
}

/** Line prefixes the job prints on stdout for the CLI (`jobProtocol` of pipeline.json), each with its space. */
final case class JobProtocol(started: String, progress: String, failed: String, checkpointUnreadableExitCode: Int)

/**
 * Limits from `deadLetter` of pipeline.json: sizes, and how far an event's event_time may be from
 * its Kafka record's timestamp (the broker's append time): more than `maxEventTimeAheadMs` ahead
 * is `future_event_time`, more than `maxEventAgeMs` behind is `expired_event_time`.
 */
final case class Limits(maxEventBytes: Int, maxPayloadBytes: Int, maxEventTimeAheadMs: Long, maxEventAgeMs: Long)

object Contract {
  val PipelinePath = "contract/pipeline.json"
  val EventSchemaPath = "contract/event.schema.json"
  val EventsMigrationPath = "contract/clickhouse/migrations/0001_events.sql"
  val AnalyticsMigrationPath = "contract/clickhouse/migrations/0002_analytics.sql"

  private val mapper = new ObjectMapper()

  def resource(path: String): InputStream = {
    val loaders = Seq(Thread.currentThread().getContextClassLoader, getClass.getClassLoader)
    loaders.iterator
      .filter(_ != null)
      .map(_.getResourceAsStream(path))
      .find(_ != null)
      .getOrElse(throw new IllegalStateException(
        s"$path is not on the classpath (the build puts ../src/contract there as contract/)"))
  }

  def resourceText(path: String): String = {
    val in = resource(path)
    try new String(in.readAllBytes(), StandardCharsets.UTF_8)
    finally in.close()
  }

  /** pipeline.json, parsed once per JVM. */
  lazy val pipeline: Pipeline = parsePipeline(resourceText(PipelinePath))

  def parsePipeline(json: String): Pipeline = {
    val root = mapper.readTree(json)
    def at(path: String): JsonNode = {
      val node = root.at(path)
      if (node.isMissingNode || node.isNull) {
        throw new IllegalStateException(s"pipeline.json has no $path")
      }
      node
    }
    Pipeline(
      eventsTopic = at("/kafka/topics/events/name").asText(),
      deadLetterTopic = at("/kafka/topics/deadLetter/name").asText(),
      usersTopic = at("/kafka/topics/users/name").asText(),
      consumerGroup = at("/kafka/consumerGroup").asText(),
      database = at("/clickhouse/database").asText(),
      eventsTable = at("/clickhouse/tables/events").asText(),
      deadLettersTable = at("/clickhouse/tables/deadLetters").asText(),
      lateEventsTable = at("/clickhouse/tables/lateEvents").asText(),
      sessionsTable = at("/clickhouse/tables/sessions").asText(),
      tierChangesTable = at("/clickhouse/tables/tierChanges").asText(),
      usersTable = at("/clickhouse/tables/users").asText(),
      pipelineProgressTable = at("/clickhouse/tables/pipelineProgress").asText(),
      triggerIntervalSeconds = at("/spark/triggerIntervalSeconds").asInt(),
      maxOffsetsPerTrigger = at("/spark/maxOffsetsPerTrigger").asLong(),
      watermarkDelaySeconds = at("/spark/watermarkDelaySeconds").asInt(),
      stateRevisitSeconds = at("/spark/stateRevisitSeconds").asInt(),
      clickhouseRetrySeconds = at("/spark/clickhouseRetrySeconds").asInt(),
      mainClass = at("/spark/mainClass").asText(),
      protocol = JobProtocol(
        started = at("/jobProtocol/started").asText() + " ",
        progress = at("/jobProtocol/progress").asText() + " ",
        failed = at("/jobProtocol/failed").asText() + " ",
        checkpointUnreadableExitCode = at("/jobProtocol/checkpointUnreadableExitCode").asInt()),
      limits = Limits(
        maxEventBytes = at("/deadLetter/maxEventBytes").asInt(),
        maxPayloadBytes = at("/deadLetter/maxPayloadBytes").asInt(),
        maxEventTimeAheadMs = at("/deadLetter/maxEventTimeAheadSeconds").asLong() * 1000L,
        maxEventAgeMs = at("/deadLetter/maxEventAgeSeconds").asLong() * 1000L),
      sessions = SessionVocabulary(
        counters = at("/sessions/counters").elements().asScala.toIndexedSeq
          .map(c => SessionCounter(c.path("eventType").asText(), c.path("column").asText())),
        funnelStages = at("/sessions/funnelStages").elements().asScala.toIndexedSeq.map(_.asText())))
  }
}
