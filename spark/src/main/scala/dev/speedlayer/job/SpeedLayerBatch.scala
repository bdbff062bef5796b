package dev.speedlayer.job

import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.execution.streaming.StreamExecution
import org.apache.spark.storage.StorageLevel

/** ClickHouse table names (pipeline.json `clickhouse.tables`). */
final case class Tables(events: String, deadLetters: String)

/**
 * The `foreachBatch` body: validate, then write the valid events to ClickHouse `events`, and
 * the dead letters to ClickHouse `dead_letters` and to the dead-letter topic.
 *
 * @param publishDeadLetters writes (key, value) records to the dead-letter topic; a Kafka
 *                           batch write in the job, a collector in tests.
 */
final class SpeedLayerBatch(
    limits: Limits,
    clickhouse: ClickHouseConfig,
    tables: Tables,
    publishDeadLetters: DataFrame => Unit)
    extends ((DataFrame, Long) => Unit) {

  override def apply(batch: DataFrame, batchId: Long): Unit = {
    val prefix = s"${SpeedLayerBatch.queryId(batch)}-$batchId" // + "-<table>-<kafka partition>-<first offset>"
    // Validated once and kept for the three writes (the events, the dead letters twice).
    val classified = ValidateEvents(limits)(batch).persist(StorageLevel.MEMORY_AND_DISK)
    try {
      ClickHouseSink.write(ToJsonEachRow(SelectEvents(classified)), clickhouse, tables.events, EventRow.columns, prefix)
      val deadLetters = ToJsonEachRow(SelectDeadLetters(classified))
      ClickHouseSink.write(deadLetters, clickhouse, tables.deadLetters, DeadLetterRow.columns, prefix)
      publishDeadLetters(DeadLetterTopicRecords(deadLetters))
    } finally {
      classified.unpersist(blocking = false)
    }
  }
}

object SpeedLayerBatch {

  /**
   * The id of the streaming query running this batch: the persistent `id` (kept in the
   * checkpoint, the same after a restart), not the `runId`. StreamExecution sets it as a
   * local property of the thread that runs the batches, which is the one calling foreachBatch.
   */
  def queryId(batch: DataFrame): String =
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
