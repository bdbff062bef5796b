package dev.speedlayer.job

import java.time.Instant

import org.apache.spark.sql.streaming.{ExpiredTimerInfo, OutputMode, TimeMode, TimerValues}
import org.scalatest.funsuite.AnyFunSuite

/** Test data for the stateful stage: events of user u1 at T0 + offsets, Kafka partition 0. */
object Proc {
  val T0: Long = Instant.parse("2025-01-15T10:00:00Z").toEpochMilli // 1736935200000
  val Min: Long = 60 * 1000L
  val User = "u1"

  def id(n: Int): String = f"00000000-0000-4000-8000-$n%012d"

  def ev(n: Int, eventType: String, atMs: Long, offset: Long = -1, user: String = User, partition: Int = 0,
         product: String = "", revenue: Double = 0.0): EventRow =
    EventRow(
      event_id = id(n), event_type = eventType, event_time = Instant.ofEpochMilli(atMs), user_id = user, device = "mobile",
      page = "", product_id = product, category = "", price = 0.0, quantity = 0L, search_query = "", order_id = "",
      items_count = 0L, revenue = revenue, currency = "", produced_at = Instant.EPOCH,
      kafka_partition = partition, kafka_offset = if (offset >= 0) offset else n.toLong)

  def in(e: EventRow): Inbound = Inbound(e.user_id, e.event_time, Some(e), None, None)

  def dim(spend: Double, offset: Long = 0, user: String = User): Inbound = {
    val u = UserRecord(user, Instant.parse("2024-03-01T12:00:00.000Z"), "DE", spend, 1, offset)
    Inbound(user, Instant.EPOCH, None, Some(u), None)
  }

  def sid(startMs: Long, user: String = User): String = UserProcessor.sessionId(user, startMs)

  /** A session row with every counter 0 unless given. */
  def session(startMs: Long, endMs: Long, status: String, version: Long, tier: String = Tier.Bronze, events: Long = 1,
              pageViews: Long = 0, productViews: Long = 0, searches: Long = 0, cartAdds: Long = 0, cartRemoves: Long = 0,
              checkouts: Long = 0, purchases: Long = 0, revenue: Double = 0.0, productsViewed: Long = 0, stage: Int = 0,
              user: String = User): SessionRow = {
    val closed = status == SessionStatus.Closed
    val byColumn = Map("page_views" -> pageViews, "product_views" -> productViews, "searches" -> searches, "cart_adds" -> cartAdds,
      "cart_removes" -> cartRemoves, "checkouts" -> checkouts, "purchases" -> purchases)
    SessionRow(sid(startMs, user), user, tier, Instant.ofEpochMilli(startMs), Instant.ofEpochMilli(endMs), endMs - startMs,
      events, counts(byColumn), revenue, productsViewed, stage,
      if (purchases > 0) 1 else 0, if (closed && cartAdds > 0 && purchases == 0) 1 else 0, status, version)
  }

  /** Counts in the order of pipeline.json sessions.counters, by column; the others 0. */
  def counts(byColumn: Map[String, Long]): Seq[Long] = {
    val columns = Contract.pipeline.sessions.columns
    require(byColumn.filter(_._2 != 0).keySet.subsetOf(columns.toSet), s"not counters of pipeline.json: ${byColumn.keySet -- columns}")
    columns.map(byColumn.getOrElse(_, 0L))
  }

  /** A session row's count of a counter column. */
  def count(s: SessionRow, column: String): Long = s.counts(Contract.pipeline.sessions.columns.indexOf(column))

  def events(out: Seq[Output]): Seq[(String, String, String)] = out.flatMap(_.event).map(e => (e.event.event_id, e.tier, e.session_id))
  def sessions(out: Seq[Output]): Seq[SessionRow] = out.flatMap(_.session)
  def lates(out: Seq[Output]): Seq[LateEventOut] = out.flatMap(_.late)
  def dups(out: Seq[Output]): Seq[String] = out.flatMap(_.duplicate).map(_.event_id)
  def tierChanges(out: Seq[Output]): Seq[TierChangeRow] = out.flatMap(_.tier_change)
}

class UserProcessorSuite extends AnyFunSuite {
  import Proc._

  private def run(prior: Option[UserState], wm: Long, inputs: Inbound*): (UserState, Seq[Output]) =
    UserProcessor.process(User, prior, inputs, wm)

  test("session_id: lowercase hex of the first 16 bytes of SHA-256(user_id:start ms)") {
    // python3: hashlib.sha256(b'u1:1736935200000').digest()[:16].hex()
    assert(UserProcessor.sessionId("u1", T0) === "b2c6baefb2f06bf067a1f60bc58b3c3f")
    assert(UserProcessor.sessionId("u1", T0 + 1) !== UserProcessor.sessionId("u1", T0))
  }

  test("tier thresholds") {
    assert(Seq(0.0, 499.99, 500.0, 1999.99, 2000.0, 9999.99, 10000.0, 1e9).map(Tier.of) ===
      Seq("Bronze", "Bronze", "Silver", "Silver", "Gold", "Gold", "Platinum", "Platinum"))
  }

  test("out-of-order events in a batch are applied in (event_time, event_id) order; one active row per batch") {
    val (st, out) = run(None, 0L,
      in(ev(3, "SEARCH", T0 + 2 * Min)), in(ev(1, "PAGE_VIEW", T0)), in(ev(2, "LOGIN", T0 + Min)), in(ev(4, "PAGE_VIEW", T0 + Min)))
    assert(events(out) === Seq(id(1), id(2), id(4), id(3)).map(i => (i, "Bronze", sid(T0))))
    assert(sessions(out) === Seq(session(T0, T0 + 2 * Min, "active", 1, events = 4, pageViews = 2, searches = 1)))
    assert(st.session.map(_.version) === Some(1L))
    assert(out.size === 5)
  }

  test("late: event_time below the batch's watermark -> late_events with the watermark and tier at arrival; not applied") {
    val wm = T0 + 10 * Min
    val (st1, _) = run(None, 0L, dim(600.0), in(ev(1, "PAGE_VIEW", T0 + 11 * Min)))
    val (st2, out) = run(Some(st1), wm, in(ev(2, "PURCHASE", wm - 1, revenue = 5000)), in(ev(3, "SEARCH", wm)))
    assert(lates(out) === Seq(LateEventOut(ev(2, "PURCHASE", wm - 1, revenue = 5000), "Silver", "", Instant.ofEpochMilli(wm))))
    assert(events(out) === Seq((id(3), "Silver", sid(T0 + 11 * Min)))) // at the watermark: not late
    assert(st2.lifetime_spend === 600.0)
    assert(tierChanges(out).isEmpty)
    // An earlier event joins the session: start_time (the session's name) and end_time stay.
    assert(sessions(out) === Seq(session(T0 + 11 * Min, T0 + 11 * Min, "active", 2, tier = "Silver", events = 2, pageViews = 1, searches = 1)))
  }

  test("duplicates: within a batch the first by Kafka offset is kept, across batches the state drops them; ids leave with the watermark") {
    val first = ev(1, "PAGE_VIEW", T0, offset = 10)
    val again = ev(1, "PAGE_VIEW", T0, offset = 11)
    val (st1, out1) = run(None, 0L, in(again), in(first))
    assert(out1.flatMap(_.event).map(_.event.kafka_offset) === Seq(10L))
    assert(out1.flatMap(_.duplicate).map(_.kafka_offset) === Seq(11L))
    val (st2, out2) = run(Some(st1), T0, in(ev(1, "PAGE_VIEW", T0, offset = 12)), in(ev(2, "SEARCH", T0 + Min)))
    assert(dups(out2) === Seq(id(1)))
    assert(events(out2).map(_._1) === Seq(id(2)))
    assert(st2.seen_ms.toSeq === Seq(T0, T0 + Min))
    // The watermark passes the first copy: its id leaves the state; a copy arriving now is late.
    val (st3, out3) = run(Some(st2), T0 + 1, in(ev(1, "PAGE_VIEW", T0, offset = 13)))
    assert(st3.seen_ms.toSeq === Seq(T0 + Min))
    assert(st3.seen_hi.length === 1 && st3.seen_lo.length === 1)
    assert(lates(out3).map(_.event.kafka_offset) === Seq(13L))
    assert(dups(out3).isEmpty)
  }

  test("thousands of ids for one user: every copy found, in the batch and from the state; the state keeps them in order") {
    val firsts = (0 until 3000).map(n => ev(n, "PAGE_VIEW", T0 + n, offset = n))
    val copies = (0 until 3000 by 6).map(n => ev(n, "PAGE_VIEW", T0 + n, offset = 10000 + n))
    val (st1, out1) = run(None, 0L, (firsts ++ copies).reverse.map(in): _*)
    assert(events(out1).map(_._1) === (0 until 3000).map(id))
    assert(dups(out1).sorted === (0 until 3000 by 6).map(id))
    assert(st1.seen_ms.toSeq === (0 until 3000).map(n => T0 + n))
    val again = (0 until 3000 by 3).map(n => ev(n, "PAGE_VIEW", T0 + n, offset = 20000 + n))
    val fresh = (3000 until 4000).map(n => ev(n, "PAGE_VIEW", T0 + n, offset = 20000 + n))
    val (st2, out2) = run(Some(st1), T0 + 1500, (fresh ++ again).map(in): _*)
    // Below the watermark a copy is late; from it on, the state's id makes it a duplicate.
    assert(lates(out2).map(_.event.event_id).sorted === (0 until 1500 by 3).map(id))
    assert(dups(out2).sorted === (1500 until 3000 by 3).map(id))
    assert(events(out2).map(_._1) === (3000 until 4000).map(id))
    assert(st2.seen_ms.toSeq === (1500 until 4000).map(n => T0 + n))
    assert(st2.seen_lo.toSeq === (1500 until 4000).map(n => java.util.UUID.fromString(id(n)).getLeastSignificantBits))
  }

  test("tier upgrade mid-session: each row carries the tier before it, one tier_changes row per crossing, the session keeps its first tier") {
    val (st1, _) = run(None, 0L, dim(450.0))
    val (st2, out) = run(Some(st1), 0L,
      in(ev(1, "PRODUCT_VIEW", T0, product = "p1")),
      in(ev(2, "PURCHASE", T0 + Min, revenue = 100.0)),   // 550: Bronze -> Silver
      in(ev(3, "PURCHASE", T0 + 2 * Min, revenue = 9500.0)), // 10050: Silver -> Platinum (two tiers: one row)
      in(ev(4, "PAGE_VIEW", T0 + 3 * Min)))
    assert(events(out) === Seq((id(1), "Bronze", sid(T0)), (id(2), "Bronze", sid(T0)), (id(3), "Silver", sid(T0)), (id(4), "Platinum", sid(T0))))
    assert(tierChanges(out) === Seq(
      TierChangeRow(User, "Bronze", "Silver", Instant.ofEpochMilli(T0 + Min), 550.0, id(2)),
      TierChangeRow(User, "Silver", "Platinum", Instant.ofEpochMilli(T0 + 2 * Min), 10050.0, id(3))))
    assert(sessions(out).map(s => (s.tier, count(s, "purchases"), s.revenue, s.converted)) === Seq(("Bronze", 2L, 9600.0, 1)))
    assert(st2.lifetime_spend === 10050.0 && st2.base_spend === 450.0)
    // A Bronze -> Gold jump writes one row.
    val (_, out2) = run(None, 0L, in(ev(9, "PURCHASE", T0, revenue = 2500.0)))
    assert(tierChanges(out2) === Seq(TierChangeRow(User, "Bronze", "Gold", Instant.ofEpochMilli(T0), 2500.0, id(9))))
    assert(events(out2) === Seq((id(9), "Bronze", sid(T0))))
  }

  test("user dimension: sets the base of the lifetime spend (also after purchases) and is passed on to `users`") {
    val (st1, out1) = run(None, 0L, in(ev(1, "PURCHASE", T0, revenue = 100.0)))
    assert(st1.lifetime_spend === 100.0)
    val (st2, out2) = run(Some(st1), 0L, dim(300.0, offset = 5), dim(1950.0, offset = 6), in(ev(2, "PAGE_VIEW", T0 + Min)))
    assert(out2.flatMap(_.user).map(_.lifetime_spend) === Seq(300.0, 1950.0))
    assert(st2.lifetime_spend === 2050.0 && st2.base_spend === 1950.0)
    assert(events(out2) === Seq((id(2), "Gold", sid(T0))))
    assert(out1.flatMap(_.user).isEmpty)
  }

  test("each of the 9 types is counted; funnel stages only in order; cart_abandoned only when closed") {
    val all = Seq(
      ev(1, "LOGIN", T0), ev(2, "ADD_TO_CART", T0 + 1, product = "p9"), // a cart add before any view: no stage
      ev(3, "PAGE_VIEW", T0 + 2), ev(4, "SEARCH", T0 + 3), ev(5, "PRODUCT_VIEW", T0 + 4, product = "p1"),
      ev(6, "PRODUCT_VIEW", T0 + 5, product = "p2"), ev(7, "PRODUCT_VIEW", T0 + 6, product = "p1"),
      ev(8, "CHECKOUT_START", T0 + 7), // before a cart add after the view: no stage
      ev(9, "ADD_TO_CART", T0 + 8, product = "p1"), ev(10, "REMOVE_FROM_CART", T0 + 9, product = "p1"))
    val (st, out) = run(None, 0L, all.map(in): _*)
    val active = session(T0, T0 + 9, "active", 1, events = 10, pageViews = 1, productViews = 3, searches = 1, cartAdds = 2,
      cartRemoves = 1, checkouts = 1, productsViewed = 2, stage = 2)
    assert(sessions(out) === Seq(active))
    assert(active.cart_abandoned === 0)
    val (_, out2) = run(Some(st), 0L, in(ev(11, "CHECKOUT_START", T0 + 10)), in(ev(12, "PURCHASE", T0 + 11, revenue = 12.5)),
      in(ev(13, "LOGOUT", T0 + 12)))
    assert(sessions(out2) === Seq(session(T0, T0 + 12, "closed", 2, events = 13, pageViews = 1, productViews = 3, searches = 1,
      cartAdds = 2, cartRemoves = 1, checkouts = 2, purchases = 1, revenue = 12.5, productsViewed = 2, stage = 4)))
    // Closed with a cart add and no purchase: abandoned.
    val (_, out3) = run(None, 0L, in(ev(1, "ADD_TO_CART", T0, product = "p1")), in(ev(2, "LOGOUT", T0 + 1)))
    assert(sessions(out3) === Seq(session(T0, T0 + 1, "closed", 1, events = 2, cartAdds = 1)))
    assert(sessions(out3).head.cart_abandoned === 1)
  }

  test("a session state from before a counted type was appended to pipeline.json: its count starts at 0; more counts than listed are refused") {
    val (st, _) = run(None, 0L, in(ev(1, "PAGE_VIEW", T0)))
    val n = Contract.pipeline.sessions.counters.size
    val last = Contract.pipeline.sessions.counters.last
    val older = st.copy(session = st.session.map(s => s.copy(counts = s.counts.take(n - 1))))
    val (st2, out) = run(Some(older), 0L, in(ev(2, last.eventType, T0 + 1, product = "p1", revenue = 1.0)))
    assert(sessions(out).map(s => (count(s, "page_views"), count(s, last.column), s.counts.size)) === Seq((1L, 1L, n)))
    assert(st2.session.get.counts.size === n)
    // Timed out without new events: the row is aligned too.
    val (_, closed) = run(Some(older), T0 + UserProcessor.SessionGapMs + 1)
    assert(sessions(closed).map(s => (s.status, s.counts)) === Seq(("closed", counts(Map("page_views" -> 1L)))))

    val newer = st.copy(session = st.session.map(s => s.copy(counts = s.counts :+ 0L)))
    val e = intercept[IllegalStateException](run(Some(newer), 0L, in(ev(3, "SEARCH", T0 + 2))))
    assert(e.getMessage.contains(s"has ${n + 1} counts, pipeline.json sessions.counters lists $n"))
    assert(e.getMessage.contains("'speedlayer submit --reset-checkpoint'"))
  }

  test("30 minutes of inactivity: exactly 30 min joins, more starts a new session (the old one closed first)") {
    val gap = UserProcessor.SessionGapMs
    val (_, out) = run(None, 0L, in(ev(1, "PAGE_VIEW", T0)), in(ev(2, "PAGE_VIEW", T0 + gap)), in(ev(3, "PAGE_VIEW", T0 + 2 * gap + 1)))
    assert(events(out).map(_._3) === Seq(sid(T0), sid(T0), sid(T0 + 2 * gap + 1)))
    assert(sessions(out) === Seq(
      session(T0, T0 + gap, "closed", 1, events = 2, pageViews = 2),
      session(T0 + 2 * gap + 1, T0 + 2 * gap + 1, "active", 1, pageViews = 1)))
  }

  test("LOGOUT belongs to its session and closes it; the next event starts a new one; the state keeps no session") {
    val (st1, out1) = run(None, 0L, in(ev(1, "LOGIN", T0)), in(ev(2, "LOGOUT", T0 + Min)))
    assert(sessions(out1) === Seq(session(T0, T0 + Min, "closed", 1, events = 2)))
    assert(st1.session === None)
    val (_, out2) = run(Some(st1), 0L, in(ev(3, "PAGE_VIEW", T0 + Min + 1)))
    assert(events(out2) === Seq((id(3), "Bronze", sid(T0 + Min + 1))))
  }

  test("the watermark closes a session once it passes end + 30 min; versions increase, closed highest; no row when unchanged") {
    val gap = UserProcessor.SessionGapMs
    val (st1, out1) = run(None, 0L, in(ev(1, "PAGE_VIEW", T0)))
    assert(sessions(out1).map(s => (s.status, s.version)) === Seq(("active", 1L)))
    val (st2, out2) = run(Some(st1), T0, in(ev(2, "SEARCH", T0 + Min)))
    assert(sessions(out2).map(s => (s.status, s.version)) === Seq(("active", 2L)))
    val (st3, out3) = run(Some(st2), T0 + Min + gap) // exactly end + 30 min: not passed
    assert(out3.isEmpty && st3.session.isDefined)
    val (st4, out4) = run(Some(st3), T0 + Min + gap + 1)
    assert(sessions(out4) === Seq(session(T0, T0 + Min, "closed", 3, events = 2, pageViews = 1, searches = 1)))
    assert(st4.session === None)
    assert(st4.seen_ms.isEmpty && !st4.needsRevisit) // every id is below the watermark now
  }

  test("state stays bounded: closed sessions and ids below the watermark leave it; the spend stays") {
    var st: Option[UserState] = None
    (0 until 50).foreach { i =>
      val t = T0 + i * 40 * Min
      val (s, _) = UserProcessor.process(User, st, Seq(in(ev(i * 2, "PURCHASE", t, revenue = 1.0)), in(ev(i * 2 + 1, "PAGE_VIEW", t + 1))), t - 2 * Min)
      st = Some(s)
    }
    assert(st.get.seen_ms.length === 2)
    assert(st.get.session.map(_.start_ms) === Some(T0 + 49 * 40 * Min))
    assert(st.get.lifetime_spend === 50.0)
  }

  test("the transformWithState processor with an in-memory handle: state, one timer per user, revisit, dead letters") {
    val gap = UserProcessor.SessionGapMs
    val handle = new InMemoryProcessorHandle
    val processor = new UserStateProcessor(revisitMs = 5000)
    processor.setHandle(handle)
    processor.init(OutputMode.Update(), TimeMode.ProcessingTime())
    def at(nowMs: Long, watermarkMs: Long): TimerValues = new TimerValues {
      override def getCurrentProcessingTimeInMs: Long = nowMs
      override def getCurrentWatermarkInMs: Long = watermarkMs
    }
    def expired(ms: Long): ExpiredTimerInfo = new ExpiredTimerInfo { override def getExpiryTimeInMs: Long = ms }
    def state = handle.valueOf[StoredUser](User, UserStateProcessor.StateName).map(_.state)
    def rendered(o: Output) = RenderOutput(o)
    // The timer the state records is the one registered (none: NoTimer).
    def timerOf(of: String) = {
      val recorded = handle.valueOf[StoredUser](of, UserStateProcessor.StateName).map(_.timer_ms).filter(_ != StoredUser.NoTimer).toSeq
      assert(recorded === handle.timersOf(of))
      recorded
    }
    handle.key = User

    val out1 = processor.handleInputRows(User, Iterator(in(ev(1, "PAGE_VIEW", T0))), at(1000L, 0L)).toSeq
    assert(out1.flatMap(_.sessions) === Seq(rendered(Output(session = Some(session(T0, T0, "active", 1, pageViews = 1)))).sessions.get))
    val open = state.get
    assert(open.session.isDefined && timerOf(User) === Seq(6000L))

    // Input 2 s later: the timer (6000) comes before the one needed now (8000), so it stays.
    processor.handleInputRows(User, Iterator(in(ev(2, "PAGE_VIEW", T0 + 1000))), at(3000L, 0L)).toSeq
    assert(timerOf(User) === Seq(6000L))
    // Input in the batch the timer is due in: the visit replaces it (no second visit in the batch).
    processor.handleInputRows(User, Iterator(in(ev(3, "PAGE_VIEW", T0 + 2000))), at(6000L, 0L)).toSeq
    assert(timerOf(User) === Seq(11000L))
    // LOGOUT closes the session; the kept ids are forgotten once the watermark passes the newest
    // (T0 + 3000), 2,001 ms of event time after this watermark: earlier than the timer, so it moves.
    val out2 = processor.handleInputRows(User, Iterator(in(ev(4, "LOGOUT", T0 + 3000))), at(7000L, T0 + 1000)).toSeq
    assert(out2.flatMap(_.sessions).map(_.contains("\"status\":\"closed\"")) === Seq(true))
    assert(timerOf(User) === Seq(9001L))
    // The timer fires with the watermark past the newest id: nothing to write, nothing kept, no timer.
    assert(processor.handleExpiredTimer(User, at(9001L, T0 + 3001), expired(9001L)).isEmpty)
    handle.deleteTimer(9001L) // what Spark does after the visit
    assert(state.exists(s => s.session.isEmpty && s.seen_ms.isEmpty) && handle.timersOf(User) === Seq.empty)

    // Another user sends nothing more: when the timer fires and the watermark has passed end + 30 min,
    // the session is closed and the ids forgotten, with no new timer.
    val quiet = "u2"
    handle.key = quiet
    processor.handleInputRows(quiet, Iterator(in(ev(5, "PAGE_VIEW", T0, user = quiet))), at(1000L, 0L)).toSeq
    assert(timerOf(quiet) === Seq(6000L))
    val out3 = processor.handleExpiredTimer(quiet, at(7000L, T0 + gap + 1), expired(6000L)).toSeq
    handle.deleteTimer(6000L)
    assert(out3 === Seq(rendered(Output(session = Some(session(T0, T0, "closed", 2, pageViews = 1, user = quiet))))))
    assert(handle.valueOf[StoredUser](quiet, UserStateProcessor.StateName).map(_.state).exists(s => s.session.isEmpty && s.seen_ms.isEmpty))
    assert(handle.timersOf(quiet) === Seq.empty)

    // The revisit follows the event time still to go, between 1 s and the maximum.
    assert(UserProcessor.revisitDelayMs(open, T0 + gap - 3000, 5000) === 3001L)
    assert(UserProcessor.revisitDelayMs(open, T0 + gap - 100, 5000) === 1000L)
    assert(UserProcessor.revisitDelayMs(open, T0, 5000) === 5000L)
    // Kept ids do not bring the revisit forward: with a session, its end decides (all ids are
    // older); without one, the newest id (all are forgotten at once), not the oldest.
    val ids = UserState.empty.copy(seen_hi = Array(1L, 2L), seen_lo = Array(1L, 2L), seen_ms = Array(T0 - 60000, T0 + 4000))
    assert(UserProcessor.revisitDelayMs(ids.copy(session = open.session), T0, 3600000L) === gap + 1)
    assert(UserProcessor.revisitDelayMs(ids, T0, 3600000L) === 4001L)
    assert(UserProcessor.revisitDelayMs(UserState.empty, T0, 5000) === 5000L)

    // Dead letters pass through, no state, no timer.
    val dl = DeadLetterRow("schema", "e", "{}", 2, "speedlayer.events", 3, 7, Instant.EPOCH)
    handle.key = Inbound.deadLetterKey(3)
    val passed = processor.handleInputRows(Inbound.deadLetterKey(3), Iterator(Inbound(Inbound.deadLetterKey(3), Instant.EPOCH, None, None, Some(dl))), at(12000L, 0L)).toSeq
    assert(passed === Seq(rendered(Output(dead_letter = Some(dl)))))
    assert(handle.valueOf[StoredUser](Inbound.deadLetterKey(3), UserStateProcessor.StateName).isEmpty && handle.timersOf(Inbound.deadLetterKey(3)).isEmpty)
  }
}
