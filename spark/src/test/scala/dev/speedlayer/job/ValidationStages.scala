package dev.speedlayer.job

import org.apache.spark.sql.{DataFrame, Dataset, Encoders}
import org.apache.spark.sql.functions.col

// The validation alone, without the stateful stage, as Dataset => Dataset functions: the
// validation suites drive EventValidator.classify through Spark with them. The job itself
// validates inside ClassifyRecords.

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
