package dev.speedlayer.job

import java.time.Instant

import org.apache.spark.sql.{Column, Encoders}
import org.apache.spark.sql.functions.{col, struct, to_json}
import org.scalatest.funsuite.AnyFunSuite

/**
 * RenderOutput writes what Spark's to_json wrote for the same rows (with the options the job
 * used before it rendered rows itself): the lines ClickHouse receives are unchanged, for every
 * table, with awkward strings and numbers.
 */
class RenderOutputSuite extends AnyFunSuite with SharedSpark {
  private val options = Map("timestampFormat" -> RenderOutput.TimestampFormat, "timeZone" -> "UTC", "ignoreNullFields" -> "false")
  private val t = Instant.parse("2025-01-15T10:00:00.123Z")
  private val awkward = "é \u2028 \"quoted\" back\\slash\nnew line \u0001 \uD83D\uDE00 \t\r\b\f \u001f \u007f \u0000"

  private val event = EventRow(
    event_id = "00000000-0000-4000-8000-000000000001", event_type = "PURCHASE", event_time = t, user_id = awkward, device = "mobile",
    page = "", product_id = "p-7", category = "shoes", price = 0.1 + 0.2, quantity = 1000, search_query = awkward, order_id = "o-1",
    items_count = 2, revenue = 1.0e10, currency = "EUR", produced_at = Instant.ofEpochMilli(1736935200456L), kafka_partition = 5,
    kafka_offset = Long.MaxValue)

  private val outputs = Seq(
    Output(event = Some(EventOut(event, "Gold", "s" * 32))),
    Output(event = Some(EventOut(event.copy(price = 4.9e-324, revenue = 1e-7, produced_at = Instant.EPOCH), "Bronze", ""))),
    Output(late = Some(LateEventOut(event.copy(price = 123456789.125), "Silver", "", Instant.parse("2299-12-31T23:59:59.999Z")))),
    Output(event = Some(EventOut(event.copy(event_time = Instant.parse("1969-12-31T23:59:59.999Z"), produced_at = Instant.parse("0999-02-03T04:05:06.007Z"),
      price = Double.NaN, revenue = Double.NegativeInfinity, quantity = -1), "Gold", ""))),
    Output(late = Some(LateEventOut(event.copy(event_time = Instant.parse("+10000-01-01T00:00:00.001Z")), "Gold", "", Instant.parse("0001-01-01T00:00:00Z")))),
    Output(session = Some(SessionRow("sid", "u1", "Platinum", t, t.plusMillis(90000), 90000, 7,
      Seq.tabulate(Contract.pipeline.sessions.counters.size)(_.toLong), 2.5, 3, 2, 1, 0, SessionStatus.Active, 4))),
    Output(tier_change = Some(TierChangeRow("u1", "Bronze", "Silver", t, 500.0, "e-1"))),
    Output(user = Some(UserRow(awkward, Instant.parse("1900-01-01T00:00:00Z"), "DE", 0.0))),
    Output(dead_letter = Some(DeadLetterRow(Reason.InvalidJson, awkward, awkward, 12, "speedlayer.events", 0, 3, t))),
    Output(dead_letter = Some(DeadLetterRow(Reason.Schema, "", "", 0, "speedlayer.users", 2, 0, null))),
    Output(duplicate = Some(event)))

  /** Spark's rendering: one to_json per table over the Output struct columns. */
  private def sparkLines(o: Output): OutputLines = {
    def json(present: String, values: Seq[Column]) = to_json(struct(values: _*), options).as(present)
    def flat(prefix: String, columns: Seq[String]) = columns.map(c => col(s"$prefix.$c").as(c))
    val counterColumns = Contract.pipeline.sessions.columns
    val sessionValues = Encoders.product[SessionRow].schema.fieldNames.toSeq.flatMap { f =>
      if (f == "counts") counterColumns.zipWithIndex.map { case (c, i) => col("session.counts").getItem(i).as(c) }
      else Seq(col(s"session.$f").as(f))
    }
    val rendered = spark.createDataset(Seq(o))(Encoders.product[Output]).select(
      json("events", flat("event.event", EventRow.columns) ++ flat("event", Seq("tier", "session_id"))),
      json("late_events", flat("late.event", EventRow.columns) ++ flat("late", Seq("tier", "session_id", "watermark"))),
      json("sessions", sessionValues),
      json("tier_changes", flat("tier_change", TierChangeRow.columns)),
      json("users", flat("user", UserRow.columns)),
      json("dead_letters", flat("dead_letter", DeadLetterRow.columns))).head()
    def present(field: String, defined: Boolean) = if (defined) Some(rendered.getAs[String](field)) else None
    OutputLines(present("events", o.event.isDefined), present("late_events", o.late.isDefined), present("sessions", o.session.isDefined),
      present("tier_changes", o.tier_change.isDefined), present("users", o.user.isDefined), present("dead_letters", o.dead_letter.isDefined),
      o.duplicate.isDefined)
  }

  test("every kind of output row: the same line as Spark's to_json") {
    outputs.foreach(o => assert(RenderOutput(o) === sparkLines(o), o))
  }

  test("the keys are the table's columns, in order") {
    val line = RenderOutput(outputs.head).events.get
    val keys = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line).fieldNames()
    assert(Iterator.continually(keys).takeWhile(_.hasNext).map(_.next()).toSeq === EventOut.columns)
  }

  test("an output row with nothing in it is a programming error, named") {
    assert(intercept[IllegalArgumentException](RenderOutput(Output())).getMessage.contains("nothing in it"))
  }
}
