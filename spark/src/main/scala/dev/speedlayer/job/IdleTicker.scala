package dev.speedlayer.job

import java.util.Properties
import java.util.concurrent.{Executors, TimeUnit}
import java.util.concurrent.atomic.AtomicLong

import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.ObjectMapper
import org.apache.kafka.clients.producer.{KafkaProducer, ProducerConfig, ProducerRecord}
import org.apache.kafka.common.serialization.ByteArraySerializer
import org.apache.spark.sql.streaming.StreamingQueryListener
import org.apache.spark.sql.streaming.StreamingQueryListener.{QueryProgressEvent, QueryStartedEvent, QueryTerminatedEvent}

/**
 * Micro-batches only while something can still change, instead of Spark's no-data batch on
 * every trigger (which a stateful operator in processing time asks for forever; with
 * flatMapGroupsWithState's timeouts each one scanned every user's state, ~0.45 of a core on an
 * idle stack).
 *
 * The job runs with `spark.sql.streaming.noDataMicroBatches.enabled=false`. Nothing in the state
 * can change while no event arrives, except as the consequence of the last events: the next batch
 * applies the watermark they raised, and each user's processing-time timer (at most
 * `stateRevisitSeconds` away, UserProcessor.revisitDelayMs) then visits it under that watermark,
 * closing the sessions it expired. So for `stateRevisitSeconds` + a few triggers after the last
 * batch that read events, this ticker sends one tombstone per trigger to the compacted users
 * topic (a deletion of a key no user has: ClassifyRecords yields nothing for it); each makes a
 * batch, which runs the due timers like a no-data batch would. After that the job is idle until
 * events come again. The window also opens when the query starts (a restart restores state whose
 * timers may be due).
 */
final class IdleTicker(bootstrapServers: String, eventsTopic: String, usersTopic: String, triggerMs: Long, windowMs: Long)
    extends StreamingQueryListener {

  private val lastEventsMs = new AtomicLong(System.currentTimeMillis())
  private val json = new ObjectMapper()
  private val scheduler = Executors.newSingleThreadScheduledExecutor((r: Runnable) => {
    val t = new Thread(r, "speedlayer-idle-ticker")
    t.setDaemon(true)
    t
  })
  private lazy val producer = {
    val p = new Properties()
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)
    p.put(ProducerConfig.ACKS_CONFIG, "1")
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "speedlayer-idle-ticker")
    new KafkaProducer[Array[Byte], Array[Byte]](p, new ByteArraySerializer, new ByteArraySerializer)
  }

  def start(): Unit = {
    scheduler.scheduleWithFixedDelay(() => tick(), triggerMs, triggerMs, TimeUnit.MILLISECONDS)
    ()
  }

  def stop(): Unit = {
    scheduler.shutdownNow()
    try producer.close() catch { case NonFatal(_) => () }
  }

  // Only once a trigger passed without events (while they flow, the batches run the timers
  // anyway) and until the window closes.
  private def tick(): Unit = {
    val quietForMs = System.currentTimeMillis() - lastEventsMs.get()
    if (quietForMs >= triggerMs && quietForMs <= windowMs) {
      try producer.send(new ProducerRecord[Array[Byte], Array[Byte]](usersTopic, IdleTicker.Key, null))
      catch { case NonFatal(e) => System.err.println(s"speedlayer: idle tick not sent: $e") }
    }
  }

  override def onQueryStarted(event: QueryStartedEvent): Unit = lastEventsMs.set(System.currentTimeMillis())

  override def onQueryProgress(event: QueryProgressEvent): Unit =
    if (event.progress.sources.exists(s => IdleTicker.recordsRead(json, s.startOffset, s.endOffset, eventsTopic) > 0)) {
      lastEventsMs.set(System.currentTimeMillis())
    }

  override def onQueryTerminated(event: QueryTerminatedEvent): Unit = ()
}

object IdleTicker {
  /** Longer than any valid user_id (1..64 characters), so it names no user. */
  val Key: Array[Byte] = ("speedlayer-idle-tick-" + "-" * 64).getBytes("UTF-8")

  /**
   * Records of `topic` a batch read, from the Kafka source's offsets in its progress
   * ({"topic":{"partition":offset,...},...}); a batch with no start offsets read from the
   * beginning, so any end offset counts.
   */
  def recordsRead(json: ObjectMapper, startOffset: String, endOffset: String, topic: String): Long = {
    def offsets(s: String): Map[String, Long] =
      Option(s).map(json.readTree).flatMap(n => Option(n.get(topic))) match {
        case Some(t) =>
          val it = t.fields()
          var m = Map.empty[String, Long]
          while (it.hasNext) { val e = it.next(); m += e.getKey -> e.getValue.asLong() }
          m
        case None => Map.empty
      }
    try {
      val start = offsets(startOffset)
      offsets(endOffset).map { case (p, end) => end - start.getOrElse(p, 0L) }.sum
    } catch { case NonFatal(_) => 1L } // unreadable: assume events, never stop ticking early
  }
}
