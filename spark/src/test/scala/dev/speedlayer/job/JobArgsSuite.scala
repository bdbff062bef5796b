package dev.speedlayer.job

import org.scalatest.funsuite.AnyFunSuite

class JobArgsSuite extends AnyFunSuite {

  private val required = Seq(
    "--bootstrap-servers", "127.0.0.1:19092",
    "--events-topic", "speedlayer.events",
    "--dead-letter-topic", "speedlayer.dead-letter",
    "--clickhouse-url", "http://127.0.0.1:18123",
    "--clickhouse-database", "speedlayer",
    "--checkpoint-dir", "/tmp/cp")

  test("required options and the defaults") {
    assert(JobArgs.parse(required, Map.empty) === Right(JobConfig(
      bootstrapServers = "127.0.0.1:19092",
      eventsTopic = "speedlayer.events",
      deadLetterTopic = "speedlayer.dead-letter",
      clickhouseUrl = "http://127.0.0.1:18123",
      clickhouseUser = "default",
      clickhousePassword = "",
      clickhouseDatabase = "speedlayer",
      checkpointDir = "/tmp/cp",
      triggerSeconds = 2,
      maxOffsetsPerTrigger = Contract.pipeline.maxOffsetsPerTrigger,
      startingOffsets = "earliest",
      progressFile = None,
      shufflePartitions = 2,
      usersTopic = "speedlayer.users",
      watermarkDelaySeconds = 120,
      stateRevisitSeconds = 60,
      maxEventTimeAheadSeconds = 300,
      maxEventAgeSeconds = 604800,
      clickhouseRetrySeconds = 600)))
  }

  test("every option, also in --name=value form") {
    val args = required ++ Seq("--clickhouse-user", "writer", "--clickhouse-password=s3cret", "--trigger-seconds", "5",
      "--max-offsets-per-trigger=1000", "--starting-offsets", "latest", "--progress-file", "/tmp/p.json", "--shuffle-partitions", "4",
      "--users-topic=u", "--watermark-delay-seconds", "0", "--state-revisit-seconds", "3",
      "--max-event-time-ahead-seconds", "60", "--max-event-age-seconds=3600", "--clickhouse-retry-seconds", "30")
    val c = JobArgs.parse(args, Map.empty).toOption.get
    assert((c.usersTopic, c.watermarkDelaySeconds, c.stateRevisitSeconds) === (("u", 0, 3)))
    assert(c.clickhouse.retryForMs === 30000L)
    assert(c.limits(Contract.pipeline.limits) === Contract.pipeline.limits.copy(maxEventTimeAheadMs = 60000L, maxEventAgeMs = 3600000L))
    assert((c.clickhouseUser, c.clickhousePassword, c.triggerSeconds, c.maxOffsetsPerTrigger, c.startingOffsets, c.progressFile, c.shufflePartitions) ===
      (("writer", "s3cret", 5, 1000L, "latest", Some("/tmp/p.json"), 4)))
  }

  test("missing required options are all listed, with the usage") {
    val Left(message) = JobArgs.parse(Seq("--events-topic", "t"), Map.empty)
    assert(message.linesIterator.next() ===
      "missing required options: --bootstrap-servers, --dead-letter-topic, --clickhouse-url, --clickhouse-database, --checkpoint-dir")
    assert(message.contains("usage: SpeedLayerJob"))
    assert(message.contains("--max-offsets-per-trigger"))
  }

  test("the password comes from CLICKHOUSE_PASSWORD when the flag is absent; the flag wins") {
    assert(JobArgs.parse(required, Map("CLICKHOUSE_PASSWORD" -> "from-env")).toOption.get.clickhousePassword === "from-env")
    assert(JobArgs.parse(required ++ Seq("--clickhouse-password", "flag"), Map("CLICKHOUSE_PASSWORD" -> "from-env"))
      .toOption.get.clickhousePassword === "flag")
  }

  test("bad values and unknown options are errors") {
    val Left(message) = JobArgs.parse(required ++ Seq("--trigger-seconds", "0", "--shuffle-partitions", "x", "--colour", "red", "--clickhouse-url", "127.0.0.1:8123"), Map.empty)
    val errors = message.linesIterator.takeWhile(_.nonEmpty).toSeq
    assert(errors === Seq(
      "unknown option --colour",
      "--trigger-seconds must be a positive integer, got '0'",
      "--shuffle-partitions must be a positive integer, got 'x'",
      "--clickhouse-url must be an http:// or https:// URL, got '127.0.0.1:8123'"))
  }

  test("--help gives the usage; the password never appears in toString") {
    assert(JobArgs.parse(Seq("--help"), Map.empty).swap.toOption.get.startsWith("usage: SpeedLayerJob"))
    val c = JobArgs.parse(required ++ Seq("--clickhouse-password", "s3cret"), Map.empty).toOption.get
    assert(!c.toString.contains("s3cret"))
    assert(!c.clickhouse.toString.contains("s3cret"))
  }
}
