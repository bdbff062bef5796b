package dev.speedlayer.job

import java.util.concurrent.ConcurrentHashMap

import scala.jdk.CollectionConverters._
import scala.util.control.NonFatal

/**
 * One resource per key for the whole JVM (a ClickHouse client, a Kafka producer), made on first
 * use and reused by every task and batch, closed when the JVM exits.
 */
final class PerJvm[K, V <: AutoCloseable](closingThreadName: String)(create: K => V) {
  private val made = new ConcurrentHashMap[K, V]()

  try Runtime.getRuntime.addShutdownHook(new Thread(() => closeAll(), closingThreadName))
  catch { case _: IllegalStateException => () } // first used while the JVM is already shutting down

  def apply(key: K): V = made.computeIfAbsent(key, (k: K) => create(k))

  private def closeAll(): Unit = {
    made.values().asScala.foreach(v => try v.close() catch { case NonFatal(_) => () })
    made.clear()
  }
}
