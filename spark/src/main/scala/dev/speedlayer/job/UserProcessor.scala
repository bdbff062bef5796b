package dev.speedlayer.job

import java.nio.charset.StandardCharsets
import java.security.MessageDigest
import java.time.Instant
import java.util.UUID

import scala.collection.mutable.ArrayBuffer

import org.apache.spark.sql.Encoders
import org.apache.spark.sql.streaming.{ExpiredTimerInfo, OutputMode, StatefulProcessor, TTLConfig, TimeMode, TimerValues, ValueState}

/**
 * The open session of a user (docs/processing.md, Sessions). `start_ms` never changes (it names
 * the session), `end_ms` is the largest event time so far (never decreases), `version` is the
 * version of the last row written for it (0: none yet). `counts`: the events of each counted type,
 * in the order of pipeline.json `sessions.counters` (a state written before a type was appended
 * there is shorter: see [[UserProcessor.countsOf]]).
 */
final case class SessionState(
    session_id: String,
    tier: String,
    start_ms: Long,
    end_ms: Long,
    events_total: Long,
    counts: Seq[Long],
    revenue: Double,
    products: Seq[String],
    funnel_stage: Int,
    version: Long)

/**
 * Everything the job keeps per user, in the state store (RocksDB), encoded with Kryo (ProcessUsers
 * says why).
 *
 * @param base_spend     `lifetime_spend` of the latest user-dimension record (0 before one came)
 * @param lifetime_spend base_spend + the revenue of every PURCHASE applied so far (a running sum)
 * @param seen_hi        event ids (as UUID high/low bits) kept for deduplication, with their
 * @param seen_lo        event times in `seen_ms`; an id leaves once its time is below the
 * @param seen_ms        watermark. Primitive arrays: every visit decodes and encodes the whole
 *                       state, so it must be cheap to do.
 * @param session        the open session, if any; closed sessions leave the state.
 */
final case class UserState(
    base_spend: Double,
    lifetime_spend: Double,
    seen_hi: Array[Long],
    seen_lo: Array[Long],
    seen_ms: Array[Long],
    session: Option[SessionState]) {

  /** Needs to be looked at again without new input: to close its session or forget old ids. */
  def needsRevisit: Boolean = session.isDefined || seen_ms.nonEmpty

  /** Field-wise equality (arrays compared by content), for tests. */
  def sameAs(o: UserState): Boolean =
    base_spend == o.base_spend && lifetime_spend == o.lifetime_spend && session == o.session &&
      seen_hi.sameElements(o.seen_hi) && seen_lo.sameElements(o.seen_lo) && seen_ms.sameElements(o.seen_ms)
}

object UserState {
  val empty: UserState = UserState(0.0, 0.0, Array.emptyLongArray, Array.emptyLongArray, Array.emptyLongArray, None)
}

/**
 * The stateful processing of docs/processing.md, for one user and one micro-batch: late
 * detection, deduplication by event_id, lifetime spend and tiers, sessions. [[UserProcessor.process]]
 * is a pure function of (state, input rows, watermark); [[UserStateProcessor]] adapts it to
 * Spark's `transformWithState` (see ProcessUsers for how it is run and why in processing time).
 */
object UserProcessor {
  val SessionGapMs: Long = 30L * 60 * 1000

  private val vocabulary = Contract.pipeline.sessions
  private val purchases = vocabulary.requireCounter("PURCHASE")
  private val cartAdds = vocabulary.requireCounter("ADD_TO_CART")

  /**
   * The session's counts aligned with pipeline.json: a state from before a counted type was
   * appended has fewer, the new ones start at 0. More counts than the vocabulary has (one was
   * removed) cannot be mapped back: the checkpoint must be reset.
   */
  def countsOf(s: SessionState): Seq[Long] = {
    val n = vocabulary.counters.size
    if (s.counts.length == n) s.counts
    else if (s.counts.length < n) s.counts.padTo(n, 0L)
    else throw new IllegalStateException(
      s"the checkpointed state of session ${s.session_id} has ${s.counts.length} counts, pipeline.json sessions.counters lists $n " +
        "(counters are append only): 'speedlayer submit --reset-checkpoint' discards the state")
  }

  /**
   * When to look at a state again without input: when the watermark could have passed the
   * open session's end + 30 min (closing it, and forgetting every kept id, whose times are all
   * <= the end), or, with no open session (closed by LOGOUT), the newest kept id (forgetting them
   * all at once). Event time is read as that much processing time (it runs at about wall-clock
   * speed in a live stream), at least 1 s and at most `maxMs` (so a replay, whose event time runs
   * faster, is never more than `maxMs` behind).
   *
   * Not the oldest id: an active user's oldest id expires every few seconds, and revisiting for
   * it rewrote the state of nearly every user on every batch. Ids are also forgotten whenever the
   * user sends something, so the state stays bounded by the watermark either way.
   */
  def revisitDelayMs(s: UserState, watermarkMs: Long, maxMs: Long): Long = {
    val due = s.session.map(_.end_ms + SessionGapMs + 1).orElse(if (s.seen_ms.nonEmpty) Some(s.seen_ms.max + 1) else None)
    due match {
      case None => maxMs
      case Some(d) => math.max(1L, math.min(math.max(d - watermarkMs, 1000L), maxMs))
    }
  }

  /** A session's row as written to ClickHouse. */
  def sessionRow(userId: String, s: SessionState, status: String): SessionRow = {
    val closed = status == SessionStatus.Closed
    val counts = countsOf(s)
    SessionRow(
      session_id = s.session_id,
      user_id = userId,
      tier = s.tier,
      start_time = Instant.ofEpochMilli(s.start_ms),
      end_time = Instant.ofEpochMilli(s.end_ms),
      duration_ms = s.end_ms - s.start_ms,
      events_total = s.events_total,
      counts = counts,
      revenue = s.revenue,
      products_viewed = s.products.size.toLong,
      funnel_stage = s.funnel_stage,
      converted = if (counts(purchases) > 0) 1 else 0,
      cart_abandoned = if (closed && counts(cartAdds) > 0 && counts(purchases) == 0) 1 else 0,
      status = status,
      version = s.version)
  }

  /** Lowercase hex of the first 16 bytes of SHA-256(user_id + ":" + start epoch ms). */
  def sessionId(userId: String, startMs: Long): String = {
    val digest = MessageDigest.getInstance("SHA-256").digest(s"$userId:$startMs".getBytes(StandardCharsets.UTF_8))
    val sb = new StringBuilder(32)
    var i = 0
    while (i < 16) {
      sb.append(Character.forDigit((digest(i) >> 4) & 0xf, 16)).append(Character.forDigit(digest(i) & 0xf, 16))
      i += 1
    }
    sb.toString
  }

  private def uuidOf(eventId: String): UUID =
    try UUID.fromString(eventId)
    catch { case _: IllegalArgumentException => UUID.nameUUIDFromBytes(eventId.getBytes(StandardCharsets.UTF_8)) }

  private def newSession(userId: String, e: EventRow, tier: String): SessionState = {
    val t = e.event_time.toEpochMilli
    SessionState(sessionId(userId, t), tier, t, t, 0, Seq.fill(vocabulary.counters.size)(0L), 0.0, Seq.empty, 0, 0)
  }

  /**
   * The session with `e` applied: events_total, the count of its type (pipeline.json
   * sessions.counters; LOGIN and LOGOUT have none), end, funnel stage (pipeline.json
   * sessions.funnelStages, only from the stage before), and what only some types do: a
   * PRODUCT_VIEW's product, a PURCHASE's revenue.
   */
  private def applyEvent(s: SessionState, e: EventRow): SessionState = {
    val t = e.event_time.toEpochMilli
    val counter = vocabulary.counterOf(e.event_type)
    val counts = if (counter < 0) s.counts else { val c = countsOf(s); c.updated(counter, c(counter) + 1) }
    val stage = vocabulary.stageOf(e.event_type)
    s.copy(
      events_total = s.events_total + 1,
      end_ms = math.max(s.end_ms, t),
      counts = counts,
      funnel_stage = if (stage > 0 && s.funnel_stage == stage - 1) stage else s.funnel_stage,
      products = if (e.event_type == "PRODUCT_VIEW" && !s.products.contains(e.product_id)) s.products :+ e.product_id else s.products,
      revenue = if (e.event_type == "PURCHASE") s.revenue + e.revenue else s.revenue)
  }

  /**
   * One user, one micro-batch (docs/processing.md):
   *  1. the watermark closes the open session if it passed end + 30 min, and forgets the event
   *     ids whose time is below it;
   *  2. user-dimension records (Kafka order) set the base of the lifetime spend;
   *  3. events in arrival order (Kafka partition, offset): older than the watermark -> late;
   *     an event_id already kept (state or earlier in the batch) -> duplicate; else kept;
   *  4. kept events in (event_time, event_id) order: the tier before the event, the session
   *     (a gap of more than 30 min after the session's last event time closes it and starts a
   *     new one; LOGOUT closes its session), PURCHASE adds its revenue (tier change rows);
   *  5. the open session's row, if it changed (versions count the rows written per session).
   *
   * @param inputs the user's rows of this batch (events and dimension records); empty on a timeout
   * @return the new state and the output rows
   */
  def process(userId: String, prior: Option[UserState], inputs: Seq[Inbound], watermarkMs: Long): (UserState, Seq[Output]) = {
    val out = ArrayBuffer.empty[Output]
    val st0 = prior.getOrElse(UserState.empty)
    var session = st0.session
    var lifetime = st0.lifetime_spend
    var base = st0.base_spend

    def close(s: SessionState): Unit = {
      val v = s.copy(version = s.version + 1)
      out += Output(session = Some(sessionRow(userId, v, SessionStatus.Closed)))
    }

    // 1. Watermark: close an expired session, forget old ids.
    session.foreach { s =>
      if (watermarkMs > s.end_ms + SessionGapMs) {
        close(s)
        session = None
      }
    }
    val arrived = inputs.flatMap(_.event).sortBy(e => (e.kafka_partition, e.kafka_offset))
    val ids = new KeptIds(st0.seen_ms.length + arrived.size)
    var i = 0
    while (i < st0.seen_ms.length) {
      if (st0.seen_ms(i) >= watermarkMs) ids.add(st0.seen_hi(i), st0.seen_lo(i), st0.seen_ms(i))
      i += 1
    }

    // 2. The user dimension, in Kafka order.
    inputs.flatMap(_.user).sortBy(u => (u.kafka_partition, u.kafka_offset)).foreach { u =>
      lifetime = lifetime - base + u.lifetime_spend
      base = u.lifetime_spend
      out += Output(user = Some(u.row))
    }

    // 3. Late events and duplicates, in arrival order.
    val tierAtArrival = Tier.of(lifetime)
    val watermark = Instant.ofEpochMilli(watermarkMs)
    val kept = ArrayBuffer.empty[EventRow]
    arrived.foreach { e =>
      val t = e.event_time.toEpochMilli
      if (t < watermarkMs) {
        out += Output(late = Some(LateEventOut(e, tierAtArrival, "", watermark)))
      } else {
        val uuid = uuidOf(e.event_id)
        if (ids.contains(uuid.getMostSignificantBits, uuid.getLeastSignificantBits)) {
          out += Output(duplicate = Some(e))
        } else {
          ids.add(uuid.getMostSignificantBits, uuid.getLeastSignificantBits, t)
          kept += e
        }
      }
    }

    // 4. Apply the kept events in event-time order.
    var changed = false
    kept.sortBy(e => (e.event_time.toEpochMilli, e.event_id)).foreach { e =>
      val t = e.event_time.toEpochMilli
      val tierBefore = Tier.of(lifetime)
      session.foreach { s =>
        if (t - s.end_ms > SessionGapMs) {
          close(s)
          session = None
          changed = false
        }
      }
      val s = applyEvent(session.getOrElse(newSession(userId, e, tierBefore)), e)
      out += Output(event = Some(EventOut(e, tierBefore, s.session_id)))
      if (e.event_type == "PURCHASE") {
        lifetime += e.revenue
        val tierAfter = Tier.of(lifetime)
        if (tierAfter != tierBefore) {
          out += Output(tier_change = Some(TierChangeRow(userId, tierBefore, tierAfter, e.event_time, lifetime, e.event_id)))
        }
      }
      if (e.event_type == "LOGOUT") {
        close(s)
        session = None
        changed = false
      } else {
        session = Some(s)
        changed = true
      }
    }

    // 5. The open session's row, when this batch changed it.
    if (changed) {
      session = session.map { s =>
        val v = s.copy(version = s.version + 1)
        out += Output(session = Some(sessionRow(userId, v, SessionStatus.Active)))
        v
      }
    }

    (UserState(base, lifetime, ids.highBits, ids.lowBits, ids.times, session), out.toSeq)
  }
}

/**
 * The event ids a visit keeps, in order (UUID bits and event times: the next [[UserState]]'s
 * arrays), and whether one is among them. Primitive arrays and an open-addressing index at most
 * half full: every visit rebuilds it from the state, so no boxed pair or set entry per kept id.
 *
 * @param capacity the most ids that will be added
 */
final class KeptIds(capacity: Int) {
  private val high = new Array[Long](capacity)
  private val low = new Array[Long](capacity)
  private val eventTimes = new Array[Long](capacity)
  private var count = 0
  /** 1 + the index of the id in a slot; 0: empty. */
  private val slots = new Array[Int](Integer.highestOneBit(math.max(1, capacity)) << 2)
  private val mask = slots.length - 1

  private def slotOf(highBits: Long, lowBits: Long): Int = {
    val mixed = (highBits ^ lowBits * 0x9e3779b97f4a7c15L) * 0xbf58476d1ce4e5b9L
    (mixed ^ (mixed >>> 31)).toInt & mask
  }

  def contains(highBits: Long, lowBits: Long): Boolean = {
    var slot = slotOf(highBits, lowBits)
    while (slots(slot) != 0) {
      val index = slots(slot) - 1
      if (high(index) == highBits && low(index) == lowBits) return true
      slot = (slot + 1) & mask
    }
    false
  }

  def add(highBits: Long, lowBits: Long, timeMs: Long): Unit = {
    if (count == capacity) throw new IllegalStateException(s"more than $capacity event ids kept")
    var slot = slotOf(highBits, lowBits)
    while (slots(slot) != 0) slot = (slot + 1) & mask
    high(count) = highBits; low(count) = lowBits; eventTimes(count) = timeMs
    count += 1
    slots(slot) = count
  }

  def highBits: Array[Long] = java.util.Arrays.copyOf(high, count)
  def lowBits: Array[Long] = java.util.Arrays.copyOf(low, count)
  def times: Array[Long] = java.util.Arrays.copyOf(eventTimes, count)
}

/**
 * The `transformWithState` processor: [[UserProcessor.process]] with the user's state in a value
 * state (Kryo bytes, ProcessUsers says why) and one processing-time timer per user; its rows are
 * rendered for ClickHouse (RenderOutput). Dead letters (their own keys) pass through statelessly.
 *
 * The timer asks for a visit without input (after at most `revisitMs`, see
 * UserProcessor.revisitDelayMs) while the state holds an open session or event ids, so that the
 * session is closed and the ids forgotten as the watermark moves on even if the user sends
 * nothing more. The state itself never expires: it holds the user's lifetime spend. A timer that
 * is already due no later than needed is kept: an active user then costs no timer writes on most
 * batches, only one visit without input per `revisitMs` (a visit too early changes nothing).
 */
final class UserStateProcessor(revisitMs: Long) extends StatefulProcessor[String, Inbound, OutputLines] {
  @transient private var user: ValueState[StoredUser] = _

  override def init(outputMode: OutputMode, timeMode: TimeMode): Unit =
    user = getHandle.getValueState[StoredUser](UserStateProcessor.StateName, UserStateProcessor.StateEncoder, TTLConfig.NONE)

  override def handleInputRows(key: String, rows: Iterator[Inbound], timerValues: TimerValues): Iterator[OutputLines] =
    if (Inbound.isDeadLetterKey(key)) rows.flatMap(_.dead_letter).map(d => RenderOutput(Output(dead_letter = Some(d))))
    else visit(key, rows.toSeq, timerValues, firing = None)

  override def handleExpiredTimer(key: String, timerValues: TimerValues, expiredTimerInfo: ExpiredTimerInfo): Iterator[OutputLines] =
    visit(key, Seq.empty, timerValues, firing = Some(expiredTimerInfo.getExpiryTimeInMs))

  /** @param firing the timer being handled (Spark deletes it afterwards), if this is its visit */
  private def visit(key: String, inputs: Seq[Inbound], timerValues: TimerValues, firing: Option[Long]): Iterator[OutputLines] = {
    val watermarkMs = timerValues.getCurrentWatermarkInMs
    val nowMs = timerValues.getCurrentProcessingTimeInMs
    val stored = Option(user.get()) // null when the user has none (one read, not exists() and get())
    val (next, out) = UserProcessor.process(key, stored.map(_.state), inputs, watermarkMs)
    val registered = stored.map(_.timer_ms).filter(t => t != StoredUser.NoTimer && !firing.contains(t))
    val wanted = if (next.needsRevisit) Some(nowMs + UserProcessor.revisitDelayMs(next, watermarkMs, revisitMs)) else None
    val timer = (registered, wanted) match {
      // A timer due at or before this batch's time would fire in this batch, after this visit.
      case (Some(pending), Some(due)) if pending > nowMs && pending <= due => pending
      case _ =>
        val handle = getHandle
        registered.foreach(handle.deleteTimer)
        wanted.foreach(handle.registerTimer)
        wanted.getOrElse(StoredUser.NoTimer)
    }
    user.update(StoredUser(next, timer))
    out.iterator.map(RenderOutput(_))
  }
}

/** What the value state holds: the user's state and the time of its timer, so that a visit reads no timer list. */
final case class StoredUser(state: UserState, timer_ms: Long)

object StoredUser {
  val NoTimer: Long = -1L
}

object UserStateProcessor {
  val StateName = "user"
  // Once per JVM: Spark calls init for every partition of every batch.
  private val StateEncoder = Encoders.kryo[StoredUser]
}
