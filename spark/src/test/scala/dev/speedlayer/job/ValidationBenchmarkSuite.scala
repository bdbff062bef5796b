package dev.speedlayer.job

import org.apache.spark.sql.{Dataset, Encoders}
import org.apache.spark.storage.StorageLevel
import org.scalatest.funsuite.AnyFunSuite

import Fixtures._

/**
 * Micro-benchmark of the per-record validation cost. The job must sustain 10,000 events/s on
 * 2 cores shared with Kafka and ClickHouse, so validation must cost a small fraction of the
 * 100 µs of one core that each event may take. Prints SPEEDLAYER_BENCH lines (best of several
 * rounds, after JIT warm-up); asserts only a loose bound, so that it flags a regression such
 * as compiling the schema per record (~2 ms), not a busy machine.
 */
class ValidationBenchmarkSuite extends AnyFunSuite with SharedSpark {

  /** 90% valid events of all nine types, 10% invalid ones (schema and syntax errors). */
  private val mix: Array[Array[Byte]] = {
    val valid = validEvents.map(_._2)
    val invalid = Seq(
      s"""{${base("LOGIN", "not-a-uuid")}}""",
      s"""{${base("PURCHASE")},"order_id":"o","items":[{"product_id":"p","quantity":1,"price":1}],"currency":"EUR"}""",
      """{"schema_version":1,""")
    (0 until 100).map(i => utf8(if (i % 10 == 9) invalid(i % invalid.size) else valid(i % valid.size))).toArray
  }

  private def bestOf[A](rounds: Int)(run: => Long): Long = (1 to rounds).map(_ => run).min

  test("per-record validation cost (one thread, cached schema)") {
    val records = mix.zipWithIndex.map { case (p, i) => record(p, offset = i.toLong) }
    def round(n: Int): Long = {
      val start = System.nanoTime()
      var i = 0
      while (i < n) { EventValidator.classify(records(i % records.length), Limits); i += 1 }
      System.nanoTime() - start
    }
    round(100000) // JIT warm-up
    val n = 50000
    val ns = bestOf(5)(round(n)).toDouble / n
    println(f"SPEEDLAYER_BENCH validation: ${ns / 1000}%.1f µs/record (${1e9 / ns}%.0f records/s on one core; 90%% valid, cached JsonSchema)")
    // ~5 µs here; compiling the schema per record would make it ~45 µs.
    assert(ns < 25000, s"validation costs ${ns / 1000} µs/record")
  }

  test("schema compilation cost (why the compiled schema is cached per JVM)") {
    val text = Contract.resourceText(Contract.EventSchemaPath)
    val cold = System.nanoTime()
    EventSchema.compile(text)
    val coldNs = System.nanoTime() - cold
    (0 until 200).foreach(_ => EventSchema.compile(text))
    val n = 100
    val hotNs = bestOf(3) {
      val start = System.nanoTime()
      (0 until n).foreach(_ => EventSchema.compile(text))
      System.nanoTime() - start
    }.toDouble / n
    println(f"SPEEDLAYER_BENCH schema compilation: ${coldNs / 1000}%.0f µs on first call here, ${hotNs / 1000}%.0f µs when hot (validation: ~5 µs)")
  }

  test("per-record cost in Spark on local[2]: validate, persist, render both tables") {
    val n = 60000
    val data = mix
    val input = spark
      .range(0, n, 1, 2)
      .map(i => source(data((i % data.length).toInt), offset = i, partition = (i % 2).toInt))(Encoders.product[KafkaSourceRow])
      .toDF()
      .persist(StorageLevel.MEMORY_ONLY)
    input.count()
    def drain[T](ds: Dataset[T]): Unit = ds.foreachPartition((it: Iterator[T]) => it.foreach(_ => ()))
    // What SpeedLayerBatch does per micro-batch, minus the HTTP and Kafka I/O.
    def round(): Long = {
      val start = System.nanoTime()
      val classified = ValidateEvents(Limits)(input).persist(StorageLevel.MEMORY_AND_DISK)
      drain(ToJsonEachRow(SelectEvents(classified)))
      drain(ToJsonEachRow(SelectDeadLetters(classified)))
      classified.unpersist(blocking = true)
      System.nanoTime() - start
    }
    round() // warm-up: code generation, JIT
    val ns = bestOf(3)(round()).toDouble / n
    println(f"SPEEDLAYER_BENCH spark batch: ${ns / 1000}%.1f µs/record wall on local[2] (${1e9 / ns}%.0f records/s with both cores)")
    input.unpersist(blocking = true)
    assert(ns < 100000)
  }
}
