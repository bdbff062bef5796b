package dev.speedlayer.job

import scala.util.Try

/** The job's command line, parsed. */
final case class JobConfig(
    bootstrapServers: String,
    eventsTopic: String,
    deadLetterTopic: String,
    clickhouseUrl: String,
    clickhouseUser: String,
    clickhousePassword: String,
    clickhouseDatabase: String,
    checkpointDir: String,
    triggerSeconds: Int,
    maxOffsetsPerTrigger: Long,
    startingOffsets: String,
    progressFile: Option[String],
    shufflePartitions: Int,
    usersTopic: String,
    watermarkDelaySeconds: Int,
    stateRevisitSeconds: Int,
    maxEventTimeAheadSeconds: Long,
    maxEventAgeSeconds: Long,
    clickhouseRetrySeconds: Int) {

  def clickhouse: ClickHouseConfig =
    ClickHouseConfig(url = clickhouseUrl, user = clickhouseUser, password = clickhousePassword, database = clickhouseDatabase,
      retryForMs = clickhouseRetrySeconds * 1000L)

  override def toString: String =
    s"JobConfig(bootstrapServers=$bootstrapServers, eventsTopic=$eventsTopic, deadLetterTopic=$deadLetterTopic, " +
      s"clickhouseUrl=$clickhouseUrl, clickhouseUser=$clickhouseUser, clickhousePassword=<redacted>, " +
      s"clickhouseDatabase=$clickhouseDatabase, checkpointDir=$checkpointDir, triggerSeconds=$triggerSeconds, " +
      s"maxOffsetsPerTrigger=$maxOffsetsPerTrigger, startingOffsets=$startingOffsets, progressFile=$progressFile, " +
      s"shufflePartitions=$shufflePartitions, usersTopic=$usersTopic, watermarkDelaySeconds=$watermarkDelaySeconds, " +
      s"stateRevisitSeconds=$stateRevisitSeconds, maxEventTimeAheadSeconds=$maxEventTimeAheadSeconds, " +
      s"maxEventAgeSeconds=$maxEventAgeSeconds, clickhouseRetrySeconds=$clickhouseRetrySeconds)"

  /** The contract's limits with this run's event-time bounds. */
  def limits(contract: Limits): Limits =
    contract.copy(maxEventTimeAheadMs = maxEventTimeAheadSeconds * 1000L, maxEventAgeMs = maxEventAgeSeconds * 1000L)
}

object JobArgs {
  val PasswordEnv = "CLICKHOUSE_PASSWORD"

  private final case class Opt(name: String, default: Option[String], help: String)

  private def options(pipeline: Pipeline): Seq[Opt] = Seq(
    Opt("bootstrap-servers", None, "Kafka bootstrap servers, host:port[,host:port]"),
    Opt("events-topic", None, s"topic to read events from (pipeline.json: ${pipeline.eventsTopic})"),
    Opt("dead-letter-topic", None, s"topic to publish dead letters to (pipeline.json: ${pipeline.deadLetterTopic})"),
    Opt("clickhouse-url", None, "ClickHouse HTTP endpoint, e.g. http://127.0.0.1:18123"),
    Opt("clickhouse-user", Some("default"), "ClickHouse user"),
    Opt("clickhouse-password", Some(""), s"ClickHouse password; if absent, the environment variable $PasswordEnv"),
    Opt("clickhouse-database", None, s"ClickHouse database (pipeline.json: ${pipeline.database})"),
    Opt("checkpoint-dir", None, "checkpoint location of the streaming query"),
    Opt("trigger-seconds", Some(pipeline.triggerIntervalSeconds.toString), "processing-time trigger interval, seconds"),
    Opt("max-offsets-per-trigger", Some(pipeline.maxOffsetsPerTrigger.toString), "most Kafka records per micro-batch"),
    Opt("starting-offsets", Some("earliest"), "where a new query starts: earliest, latest or Spark's JSON form"),
    Opt("progress-file", None, "optional: file that always holds the latest progress JSON"),
    Opt("shuffle-partitions", Some("2"), "spark.sql.shuffle.partitions"),
    Opt("users-topic", Some(pipeline.usersTopic), "compacted user-dimension topic, read with the events"),
    Opt("watermark-delay-seconds", Some(pipeline.watermarkDelaySeconds.toString), "event-time watermark delay: older events are late"),
    Opt("state-revisit-seconds", Some(pipeline.stateRevisitSeconds.toString), "longest processing time before a user's state is revisited without input (closes sessions the watermark expired, forgets old event ids)"),
    Opt("clickhouse-retry-seconds", Some(pipeline.clickhouseRetrySeconds.toString), "how long a failed ClickHouse insert is retried (capped exponential backoff) before the job fails"),
    Opt("max-event-time-ahead-seconds", Some((pipeline.limits.maxEventTimeAheadMs / 1000).toString), "an event_time further ahead of its Kafka timestamp is a future_event_time dead letter"),
    Opt("max-event-age-seconds", Some((pipeline.limits.maxEventAgeMs / 1000).toString), "an event_time further behind its Kafka timestamp is an expired_event_time dead letter"))

  private val Optional = Set("progress-file")

  def usage(pipeline: Pipeline = Contract.pipeline): String = {
    val lines = options(pipeline).map { o =>
      val note = o.default match {
        case Some("") => " (default: empty)"
        case Some(d) => s" (default: $d)"
        case None if Optional(o.name) => ""
        case None => " (required)"
      }
      f"  --${o.name}%-26s ${o.help}$note"
    }
    ("usage: SpeedLayerJob [--option value | --option=value]..." +: lines).mkString("\n") +
      "\nThe Spark master is not set by the job: spark-submit sets it, or -Dspark.master=local[2]."
  }

  /** Left(message with usage) or Right(config). `--help` gives Left(usage). */
  def parse(args: Seq[String], env: Map[String, String], pipeline: Pipeline = Contract.pipeline): Either[String, JobConfig] = {
    val known = options(pipeline).map(o => o.name -> o).toMap
    val errors = Seq.newBuilder[String]
    val given = scala.collection.mutable.LinkedHashMap.empty[String, String]

    var rest = args.toList
    while (rest.nonEmpty) {
      rest match {
        case ("--help" | "-h") :: _ => return Left(usage(pipeline))
        case flag :: tail if flag.startsWith("--") =>
          val (name, inline) = flag.drop(2).split("=", 2) match {
            case Array(n, v) => (n, Some(v))
            case Array(n) => (n, None)
          }
          if (!known.contains(name)) {
            errors += s"unknown option --$name"
            // skip its value too, if it has one
            rest = if (inline.isEmpty && tail.headOption.exists(!_.startsWith("--"))) tail.drop(1) else tail
          } else {
            inline match {
              case Some(v) =>
                given(name) = v
                rest = tail
              case None =>
                tail match {
                  case v :: more if !v.startsWith("--") =>
                    given(name) = v
                    rest = more
                  case _ =>
                    errors += s"--$name needs a value"
                    rest = tail
                }
            }
          }
        case other :: tail =>
          errors += s"unexpected argument '$other'"
          rest = tail
        case Nil =>
      }
    }

    if (!given.contains("clickhouse-password")) env.get(PasswordEnv).foreach(given("clickhouse-password") = _)

    val missing = options(pipeline).filter(o => o.default.isEmpty && !Optional(o.name) && !given.contains(o.name))
    if (missing.nonEmpty) errors += s"missing required options: ${missing.map("--" + _.name).mkString(", ")}"

    def value(name: String): String = given.getOrElse(name, known(name).default.getOrElse(""))
    def positiveInt(name: String): Int =
      Try(value(name).toInt).toOption.filter(_ > 0).getOrElse { errors += s"--$name must be a positive integer, got '${value(name)}'"; 1 }
    def nonNegativeInt(name: String): Int =
      Try(value(name).toInt).toOption.filter(_ >= 0).getOrElse { errors += s"--$name must be a non-negative integer, got '${value(name)}'"; 0 }
    def positiveLong(name: String): Long =
      Try(value(name).toLong).toOption.filter(_ > 0).getOrElse { errors += s"--$name must be a positive integer, got '${value(name)}'"; 1L }

    val config = JobConfig(
      bootstrapServers = value("bootstrap-servers"),
      eventsTopic = value("events-topic"),
      deadLetterTopic = value("dead-letter-topic"),
      clickhouseUrl = value("clickhouse-url"),
      clickhouseUser = value("clickhouse-user"),
      clickhousePassword = value("clickhouse-password"),
      clickhouseDatabase = value("clickhouse-database"),
      checkpointDir = value("checkpoint-dir"),
      triggerSeconds = positiveInt("trigger-seconds"),
      maxOffsetsPerTrigger = positiveLong("max-offsets-per-trigger"),
      startingOffsets = value("starting-offsets"),
      progressFile = given.get("progress-file").filter(_.nonEmpty),
      shufflePartitions = positiveInt("shuffle-partitions"),
      usersTopic = value("users-topic"),
      watermarkDelaySeconds = nonNegativeInt("watermark-delay-seconds"),
      stateRevisitSeconds = positiveInt("state-revisit-seconds"),
      maxEventTimeAheadSeconds = positiveLong("max-event-time-ahead-seconds"),
      maxEventAgeSeconds = positiveLong("max-event-age-seconds"),
      clickhouseRetrySeconds = nonNegativeInt("clickhouse-retry-seconds"))

    if (config.clickhouseUrl.nonEmpty && !config.clickhouseUrl.matches("(?i)https?://.+")) {
      errors += s"--clickhouse-url must be an http:// or https:// URL, got '${config.clickhouseUrl}'"
    }

    val all = errors.result()
    if (all.isEmpty) Right(config) else Left((all :+ "" :+ usage(pipeline)).mkString("\n"))
  }
}
