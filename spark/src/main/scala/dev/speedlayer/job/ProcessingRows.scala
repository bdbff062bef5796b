package dev.speedlayer.job

import java.time.Instant

import org.apache.spark.sql.Encoders

// Rows of the stateful stage (docs/processing.md) and of the tables of 0002_analytics.sql.
// Field names and order of the *Row classes are the tables' columns (minus inserted_at /
// updated_at, which ClickHouse fills); ContractSuite checks them against the DDL.

/** A valid record of the user dimension topic (`speedlayer.users`), with where it was read. */
final case class UserRecord(
    user_id: String,
    signup_time: Instant,
    country: String,
    lifetime_spend: Double,
    kafka_partition: Int,
    kafka_offset: Long) {
  def row: UserRow = UserRow(user_id, signup_time, country, lifetime_spend)
}

/** A row of the ClickHouse table `users` (minus `updated_at`). */
final case class UserRow(user_id: String, signup_time: Instant, country: String, lifetime_spend: Double)

object UserRow {
  val columns: Seq[String] = Encoders.product[UserRow].schema.fieldNames.toSeq
}

/**
 * One input row of the stateful processor: a valid event, a valid user record (both keyed by
 * user_id) or a dead letter (keyed by [[Inbound.deadLetterKey]], never a user id). `event_time`
 * is the watermark column: the event's time, the epoch for the others (so they never move the
 * watermark: Spark's EventTimeWatermarkExec takes the max).
 */
final case class Inbound(
    key: String,
    event_time: Instant,
    event: Option[EventRow],
    user: Option[UserRecord],
    dead_letter: Option[DeadLetterRow])

object Inbound {
  /** Longer than any valid user_id (the schema allows 1..64 characters): cannot collide. */
  def deadLetterKey(kafkaPartition: Int): String = "\u0000" * 65 + kafkaPartition

  def isDeadLetterKey(key: String): Boolean = key.length > 64 && key.charAt(0) == '\u0000'
}

/** An `events` row: the validated event, the tier before it was applied, its session. */
final case class EventOut(event: EventRow, tier: String, session_id: String)

object EventOut {
  /** Columns of `events` written by the job: 0001's (minus inserted_at) + 0002's tier, session_id. */
  val columns: Seq[String] = EventRow.columns ++ Seq("tier", "session_id")
}

/** A `late_events` row: the event, the user's tier at arrival, no session, the batch's watermark. */
final case class LateEventOut(event: EventRow, tier: String, session_id: String, watermark: Instant)

object LateEventOut {
  val columns: Seq[String] = EventRow.columns ++ Seq("tier", "session_id", "watermark")
}

/**
 * A row of `sessions` (minus inserted_at). `counts` holds the per-type counters of pipeline.json
 * `sessions.counters`, in its order; each is written to its own column (see [[SessionRow.columns]]).
 */
final case class SessionRow(
    session_id: String,
    user_id: String,
    tier: String,
    start_time: Instant,
    end_time: Instant,
    duration_ms: Long,
    events_total: Long,
    counts: Seq[Long],
    revenue: Double,
    products_viewed: Long,
    funnel_stage: Int,
    converted: Int,
    cart_abandoned: Int,
    status: String,
    version: Long)

object SessionRow {
  private val fields: Seq[String] = Encoders.product[SessionRow].schema.fieldNames.toSeq

  /** The columns of `sessions` the job writes, in order: `counts` spread into the counter columns. */
  val columns: Seq[String] = fields.flatMap(f => if (f == "counts") Contract.pipeline.sessions.columns else Seq(f))
}

/** A row of `tier_changes` (minus inserted_at). */
final case class TierChangeRow(
    user_id: String,
    from_tier: String,
    to_tier: String,
    changed_at: Instant,
    lifetime_spend: Double,
    event_id: String)

object TierChangeRow {
  val columns: Seq[String] = Encoders.product[TierChangeRow].schema.fieldNames.toSeq
}

/**
 * One output row of the stateful processor: exactly one field is defined. `duplicate` carries a
 * dropped duplicate (only counted, written nowhere).
 */
final case class Output(
    event: Option[EventOut] = None,
    late: Option[LateEventOut] = None,
    duplicate: Option[EventRow] = None,
    session: Option[SessionRow] = None,
    tier_change: Option[TierChangeRow] = None,
    user: Option[UserRow] = None,
    dead_letter: Option[DeadLetterRow] = None)

/** Values of `sessions.status`, tier names. */
object SessionStatus {
  val Active = "active"
  val Closed = "closed"
}

object Tier {
  val Bronze = "Bronze"
  val Silver = "Silver"
  val Gold = "Gold"
  val Platinum = "Platinum"

  /** docs/processing.md: Bronze s < 500; Silver 500 <= s < 2000; Gold 2000 <= s < 10000; Platinum s >= 10000. */
  def of(lifetimeSpend: Double): String =
    if (lifetimeSpend >= 10000) Platinum
    else if (lifetimeSpend >= 2000) Gold
    else if (lifetimeSpend >= 500) Silver
    else Bronze
}
