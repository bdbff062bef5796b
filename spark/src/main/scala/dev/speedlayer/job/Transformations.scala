package dev.speedlayer.job

import org.apache.spark.sql.{DataFrame, Dataset, Encoders}
import org.apache.spark.sql.functions.{col, lit, struct, to_json}
import org.apache.spark.sql.types.BinaryType

// Every step of the pipeline is a pure Dataset => Dataset function in its own object, so it
// can be tested on a MemoryStream or a static Dataset; SpeedLayerJob only does I/O. None of
// them shuffles: a Spark partition of every output holds the rows of one Kafka offset range.

/** Kafka source rows (value, topic, partition, offset, timestamp, ...) -> valid event or dead letter. */
object ValidateEvents {
  def apply(limits: Limits)(records: DataFrame): Dataset[Classified] =
    records
      .select(col("value"), col("topic"), col("partition"), col("offset"), col("timestamp"))
      .as[KafkaRecord](Encoders.product[KafkaRecord])
      .map((r: KafkaRecord) => EventValidator.classify(r, limits))(Encoders.product[Classified])
}

/** The valid events, as rows of the `events` table. */
object SelectEvents {
  def apply(classified: Dataset[Classified]): Dataset[EventRow] =
    classified
      .where(col("event").isNotNull)
      .select(col("event.*"))
      .as[EventRow](Encoders.product[EventRow])
}

/** The rejected records, as rows of the `dead_letters` table. */
object SelectDeadLetters {
  def apply(classified: Dataset[Classified]): Dataset[DeadLetterRow] =
    classified
      .where(col("dead_letter").isNotNull)
      .select(col("dead_letter.*"))
      .as[DeadLetterRow](Encoders.product[DeadLetterRow])
}

/**
 * Rows -> one JSON object per row, keys = column names, for ClickHouse `JSONEachRow`, next to the
 * row's Kafka coordinates (which name the insert, see ClickHouseSink). Timestamps are written as
 * "yyyy-MM-dd HH:mm:ss.SSS" in UTC, the text form ClickHouse parses into DateTime64(3, 'UTC')
 * with its default (basic) date_time_input_format.
 */
object ToJsonEachRow {
  val TimestampFormat = "yyyy-MM-dd HH:mm:ss.SSS"

  private val options = Map(
    "timestampFormat" -> TimestampFormat,
    "timeZone" -> "UTC",
    "ignoreNullFields" -> "false")

  def apply(rows: Dataset[_]): Dataset[JsonRow] =
    rows
      .select(
        col("kafka_partition"),
        col("kafka_offset"),
        to_json(struct(rows.columns.toSeq.map(c => col(s"`$c`")): _*), options).as("json"))
      .as[JsonRow](Encoders.product[JsonRow])
}

/** One row rendered for JSONEachRow, with the Kafka record it came from. */
final case class JsonRow(kafka_partition: Int, kafka_offset: Long, json: String)

/** Dead-letter JSON -> records for the dead-letter topic: key = null, value = the row's JSON. */
object DeadLetterTopicRecords {
  def apply(deadLetters: Dataset[JsonRow]): DataFrame =
    deadLetters.select(lit(null).cast(BinaryType).as("key"), col("json").as("value"))
}
