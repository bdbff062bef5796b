package dev.speedlayer.bench

import java.io.ByteArrayOutputStream
import java.nio.charset.StandardCharsets

import com.fasterxml.jackson.core.JsonFactory
import org.apache.spark.TaskContext
import org.apache.spark.sql.{Dataset, Row, SparkSession}
import org.apache.spark.sql.streaming.Trigger

import dev.speedlayer.job.{ClickHouseSink, JobArgs, JobSparkConf, ProgressListener, SpeedLayerBatch, SpeedLayerJob}

/**
 * The reference of the benchmark suite (bench/suite.ts, "pipeline vs pass-through"): the
 * job's own Kafka source (SpeedLayerJob.readEvents) and ClickHouse sink
 * (ClickHouseSink.insertWithRetry, JSONEachRow) with the same trigger, and nothing in between: no
 * validation, no state. Each record's bytes go to one String column of [[Table]], which the
 * benchmark creates. Takes the job's arguments, so the benchmark starts it exactly like the job.
 */
object PassThroughJob {
  val Table = "bench_passthrough"
  val Columns: Seq[String] = Seq("kafka_partition", "kafka_offset", "payload")

  def main(args: Array[String]): Unit = {
    val config = JobArgs.parse(args.toIndexedSeq, sys.env).fold(m => { System.err.println(m); sys.exit(2) }, identity)
    val spark = SparkSession.builder().appName("speedlayer-passthrough").config(JobSparkConf.settings(config.shufflePartitions)).getOrCreate()
    spark.streams.addListener(new ProgressListener(None)) // SPEEDLAYER_PROGRESS lines, as the job prints
    val clickhouse = config.clickhouse
    val write: (Dataset[Row], Long) => Unit = (batch, batchId) => {
      val prefix = s"${SpeedLayerBatch.queryId(batch)}-$batchId"
      batch.select("partition", "offset", "value").foreachPartition { (rows: Iterator[Row]) =>
        val body = new ByteArrayOutputStream(64 * 1024)
        val json = new JsonFactory().createGenerator(body)
        var count = 0
        rows.foreach { r =>
          json.writeStartObject()
          json.writeNumberField("kafka_partition", r.getInt(0))
          json.writeNumberField("kafka_offset", r.getLong(1))
          // A tombstone (the job's IdleTicker deletes a key of the users topic) has no value.
          json.writeStringField("payload", Option(r.getAs[Array[Byte]](2)).map(new String(_, StandardCharsets.UTF_8)).getOrElse(""))
          json.writeEndObject()
          json.writeRaw('\n')
          count += 1
        }
        json.close()
        if (count > 0) {
          ClickHouseSink.insertWithRetry(clickhouse, Table, Columns, s"$prefix-$Table-s${TaskContext.getPartitionId()}", body.toByteArray, count)
        }
      }
    }
    SpeedLayerJob
      .readEvents(spark, config)
      .writeStream
      .queryName("speedlayer-passthrough")
      .option("checkpointLocation", config.checkpointDir)
      .trigger(Trigger.ProcessingTime(config.triggerSeconds.toLong * 1000L))
      .foreachBatch(write)
      .start()
      .awaitTermination()
  }
}
