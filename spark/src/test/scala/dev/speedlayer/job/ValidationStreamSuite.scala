package dev.speedlayer.job

import java.nio.file.Files
import java.util.concurrent.ConcurrentLinkedQueue

import scala.jdk.CollectionConverters._

import org.apache.spark.sql.{Dataset, Encoders}
import org.apache.spark.sql.execution.streaming.MemoryStream
import org.scalatest.funsuite.AnyFunSuite

import Fixtures._

/**
 * The validation/split transformations on a stream: records shaped exactly like Spark's
 * Kafka source rows go through a MemoryStream, ValidateEvents runs on the streaming
 * DataFrame, and each micro-batch is split with SelectEvents / SelectDeadLetters as in the job.
 */
class ValidationStreamSuite extends AnyFunSuite with SharedSpark {

  /** Runs `batches` through a streaming query; returns every event and dead letter, by offset. */
  private def runStream(batches: Seq[Seq[KafkaSourceRow]]): (Seq[EventRow], Seq[DeadLetterRow]) = {
    val input = MemoryStream[KafkaSourceRow](Encoders.product[KafkaSourceRow], spark.sqlContext)
    val events = new ConcurrentLinkedQueue[EventRow]()
    val deadLetters = new ConcurrentLinkedQueue[DeadLetterRow]()
    val collect: (Dataset[Classified], Long) => Unit = (batch, _) => {
      events.addAll(SelectEvents(batch).collect().toSeq.asJava)
      deadLetters.addAll(SelectDeadLetters(batch).collect().toSeq.asJava)
    }
    val query = ValidateEvents(Limits)(input.toDF()).writeStream
      .option("checkpointLocation", Files.createTempDirectory("speedlayer-validation").toString)
      .foreachBatch(collect)
      .start()
    try {
      batches.foreach { batch =>
        input.addData(batch)
        query.processAllAvailable()
      }
    } finally query.stop()
    (events.asScala.toSeq.sortBy(_.kafka_offset), deadLetters.asScala.toSeq.sortBy(_.kafka_offset))
  }

  private def expectedOf(cases: Seq[ValidationCase], partition: Int): (Seq[EventRow], Seq[DeadLetterRow]) = {
    val outcomes = cases.zipWithIndex.map { case (c, i) => c.expected(partition, i.toLong) }
    (outcomes.collect { case Right(e) => e }, outcomes.collect { case Left(d) => d })
  }

  private def check(cases: Seq[ValidationCase], partition: Int = 0): Unit = {
    val rows = cases.zipWithIndex.map { case (c, i) => source(c.payload, offset = i.toLong, partition = partition) }
    val (events, deadLetters) = runStream(Seq(rows))
    val (expectedEvents, expectedDeadLetters) = expectedOf(cases, partition)
    assert(events === expectedEvents)
    assert(deadLetters === expectedDeadLetters)
  }

  test("valid events of each of the 9 types become events rows") {
    check(ValidationCases.validTypes)
    assert(ValidationCases.validTypes.size === 9)
  }

  test("column mapping: query -> search_query, items -> items_count, produced_at ms -> timestamp") {
    check(ValidationCases.mapping, partition = 5)
  }

  test("not UTF-8 -> dead letter not_utf8") {
    check(ValidationCases.notUtf8)
  }

  test("larger than maxEventBytes -> dead letter too_large") {
    check(ValidationCases.tooLarge)
  }

  test("invalid JSON -> dead letter invalid_json") {
    check(ValidationCases.invalidJson)
  }

  test("each class of schema violation -> dead letter schema, with the JSON path and message of each violation") {
    check(ValidationCases.schema)
  }

  test("event_time beyond the bounds around the Kafka timestamp -> future_event_time / expired_event_time; the edges are accepted") {
    check(ValidationCases.eventTimeBounds)
  }

  test("a mixed stream over several micro-batches: nothing lost, nothing duplicated, order of offsets kept") {
    val cases = ValidationCases.all
    val rows = cases.zipWithIndex.map { case (c, i) => source(c.payload, offset = i.toLong, partition = 2) }
    val (events, deadLetters) = runStream(rows.grouped(7).toSeq)
    val (expectedEvents, expectedDeadLetters) = expectedOf(cases, partition = 2)
    assert(events === expectedEvents)
    assert(deadLetters === expectedDeadLetters)
    assert(events.size + deadLetters.size === cases.size)
  }
}
