package dev.speedlayer.job

import java.net.{InetSocketAddress, URLDecoder}
import java.nio.charset.StandardCharsets
import java.util.concurrent.{ConcurrentHashMap, ConcurrentLinkedQueue, Executors}

import scala.jdk.CollectionConverters._

import com.sun.net.httpserver.{HttpExchange, HttpServer}

/** One HTTP request as the fake ClickHouse received it. */
final case class ChRequest(method: String, path: String, params: Map[String, String], headers: Map[String, String], body: Array[Byte]) {
  def query: String = params.getOrElse("query", "")
  def table: Option[String] = ChRequest.InsertInto.findFirstMatchIn(query).map(_.group(1))
  def columns: Seq[String] =
    ChRequest.Columns.findFirstMatchIn(query).map(_.group(1).split(",").toSeq.map(_.trim.stripPrefix("`").stripSuffix("`"))).getOrElse(Nil)
  def token: Option[String] = params.get("insert_deduplication_token")
  def lines: Seq[String] = new String(body, StandardCharsets.UTF_8).split("\n").toSeq.filter(_.nonEmpty)
}

object ChRequest {
  private val InsertInto = """(?i)INSERT\s+INTO\s+[`"]?([A-Za-z0-9_.]+)[`"]?""".r
  private val Columns = """(?i)INSERT\s+INTO\s+\S+\s*\(([^)]*)\)""".r
}

/**
 * A stand-in for ClickHouse's HTTP interface on 127.0.0.1, enough for client-v2 inserts:
 * it records every request, answers 200, or an HTTP 500 with a ClickHouse-style error when
 * `failWhen` says so, and drops a block whose (table, insert_deduplication_token) it has
 * already stored, as ClickHouse does with non_replicated_deduplication_window.
 */
final class FakeClickHouse extends AutoCloseable {
  val requests = new ConcurrentLinkedQueue[ChRequest]()
  private val stored = new ConcurrentHashMap[(String, String), Seq[String]]()
  private val storedOrder = new ConcurrentLinkedQueue[(String, String)]()
  @volatile var failWhen: ChRequest => Boolean = _ => false
  /** The error a failing request gets: (HTTP status, ClickHouse code, its name). */
  @volatile var failWith: (Int, Int, String) = (500, 252, "TOO_MANY_PARTS")

  private val server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0)
  server.createContext("/", (exchange: HttpExchange) => handle(exchange))
  private val executor = Executors.newFixedThreadPool(4, (r: Runnable) => {
    val t = new Thread(r, "fake-clickhouse")
    t.setDaemon(true)
    t
  })
  server.setExecutor(executor)
  server.start()

  def url: String = s"http://127.0.0.1:${server.getAddress.getPort}"

  def inserts: Seq[ChRequest] = requests.asScala.toSeq.filter(_.table.isDefined)
  def insertsInto(table: String): Seq[ChRequest] = inserts.filter(_.table.contains(table))

  /** The rows ClickHouse would hold: each (table, token) block once. */
  def storedRows(table: String): Seq[String] =
    storedOrder.asScala.toSeq.filter(_._1 == table).flatMap(k => stored.get(k))

  private def handle(exchange: HttpExchange): Unit = {
    try {
      val body = exchange.getRequestBody.readAllBytes()
      val rawQuery = Option(exchange.getRequestURI.getRawQuery).getOrElse("")
      val params = rawQuery.split("&").toSeq.filter(_.nonEmpty).map { kv =>
        val Array(k, v) = (kv.split("=", 2) :+ "").take(2)
        URLDecoder.decode(k, StandardCharsets.UTF_8) -> URLDecoder.decode(v, StandardCharsets.UTF_8)
      }.toMap
      val headers = exchange.getRequestHeaders.asScala.map { case (k, v) => k.toLowerCase -> v.asScala.mkString(",") }.toMap
      val request = ChRequest(exchange.getRequestMethod, exchange.getRequestURI.getPath, params, headers, body)
      requests.add(request)
      exchange.getResponseHeaders.add("X-ClickHouse-Server-Display-Name", "fake")
      exchange.getResponseHeaders.add("X-ClickHouse-Timezone", "UTC")
      if (failWhen(request)) {
        val (status, code, name) = failWith
        val error = s"Code: $code. DB::Exception: fake failure. ($name) (version 25.8.1.1)"
        exchange.getResponseHeaders.add("X-ClickHouse-Exception-Code", code.toString)
        val bytes = error.getBytes(StandardCharsets.UTF_8)
        exchange.sendResponseHeaders(status, bytes.length.toLong)
        exchange.getResponseBody.write(bytes)
      } else {
        for (table <- request.table; token <- request.token) {
          if (stored.putIfAbsent(table -> token, request.lines) == null) storedOrder.add(table -> token)
        }
        exchange.getResponseHeaders.add("X-ClickHouse-Summary",
          s"""{"read_rows":"0","read_bytes":"0","written_rows":"${request.lines.size}","written_bytes":"${body.length}","total_rows_to_read":"0","result_rows":"0","result_bytes":"0"}""")
        exchange.sendResponseHeaders(200, -1)
      }
    } finally exchange.close()
  }

  override def close(): Unit = {
    server.stop(0)
    executor.shutdownNow()
  }
}
