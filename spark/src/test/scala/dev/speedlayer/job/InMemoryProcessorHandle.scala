package dev.speedlayer.job

import scala.collection.mutable

import org.apache.spark.sql.Encoder
import org.apache.spark.sql.streaming.{ListState, MapState, QueryInfo, StatefulProcessorHandle, TTLConfig, ValueState}

/**
 * What `transformWithState` gives a processor, in memory, for one grouping key at a time (`key`):
 * value states and processing-time timers, so that UserStateProcessor runs without Spark. Like
 * Spark's handle, registering a timer twice or deleting a missing one is a mistake; here it fails.
 */
final class InMemoryProcessorHandle extends StatefulProcessorHandle {
  var key: String = ""
  private val values = mutable.Map.empty[(String, String), Any]
  private val timers = mutable.Map.empty[String, mutable.SortedSet[Long]]

  def timersOf(of: String): Seq[Long] = timers.get(of).map(_.toSeq).getOrElse(Seq.empty)
  def valueOf[T](of: String, name: String): Option[T] = values.get((name, of)).map(_.asInstanceOf[T])

  override def getValueState[T](name: String, encoder: Encoder[T], ttl: TTLConfig): ValueState[T] = new ValueState[T] {
    override def exists(): Boolean = values.contains((name, key))
    override def get(): T = values.get((name, key)).map(_.asInstanceOf[T]).getOrElse(null.asInstanceOf[T])
    override def update(value: T): Unit = values((name, key)) = value
    override def clear(): Unit = values.remove((name, key))
  }
  override def getValueState[T](name: String, ttl: TTLConfig)(implicit encoder: Encoder[T]): ValueState[T] = getValueState(name, encoder, ttl)

  override def registerTimer(expiryMs: Long): Unit =
    require(timers.getOrElseUpdate(key, mutable.SortedSet.empty[Long]).add(expiryMs), s"timer $expiryMs of $key registered twice")
  override def deleteTimer(expiryMs: Long): Unit =
    require(timers.get(key).exists(_.remove(expiryMs)), s"timer $expiryMs of $key deleted but not registered")
  override def listTimers(): Iterator[Long] = timersOf(key).iterator

  override def getListState[T](name: String, encoder: Encoder[T], ttl: TTLConfig): ListState[T] = unsupported
  override def getListState[T](name: String, ttl: TTLConfig)(implicit encoder: Encoder[T]): ListState[T] = unsupported
  override def getMapState[K, V](name: String, keyEncoder: Encoder[K], valueEncoder: Encoder[V], ttl: TTLConfig): MapState[K, V] = unsupported
  override def getMapState[K, V](name: String, ttl: TTLConfig)(implicit keyEncoder: Encoder[K], valueEncoder: Encoder[V]): MapState[K, V] = unsupported
  override def getQueryInfo(): QueryInfo = unsupported
  override def deleteIfExists(name: String): Unit = unsupported
  private def unsupported = throw new UnsupportedOperationException("not used by UserStateProcessor")
}
