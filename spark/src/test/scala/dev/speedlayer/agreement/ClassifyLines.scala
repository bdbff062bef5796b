package dev.speedlayer.agreement

import java.io.{BufferedReader, InputStreamReader, PrintStream}
import java.nio.charset.StandardCharsets
import java.time.Instant
import java.util.Base64

import com.fasterxml.jackson.databind.ObjectMapper

import dev.speedlayer.job.{Contract, EventValidator, KafkaRecord}

/**
 * The job's verdict on records given by the TypeScript agreement test
 * (test/integration/validation-agreement.test.ts): one JSON line per record on stdin,
 * {"bytes_base64": string or null (a tombstone), "kafka_timestamp_ms": number}, one line out per
 * record, {"verdict": "accepted" or the dead-letter reason, "error": the dead letter's error}.
 * Compiled with the tests, not shipped.
 */
object ClassifyLines {
  def main(args: Array[String]): Unit = {
    val mapper = new ObjectMapper()
    val limits = Contract.pipeline.limits
    val in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
    val out = new PrintStream(System.out, false, StandardCharsets.UTF_8)
    var line = in.readLine()
    var offset = 0L
    while (line != null) {
      val request = mapper.readTree(line)
      val base64 = request.get("bytes_base64")
      val value = if (base64 == null || base64.isNull) null else Base64.getDecoder.decode(base64.asText())
      val timestamp = Instant.ofEpochMilli(request.get("kafka_timestamp_ms").asLong())
      val classified = EventValidator.classify(KafkaRecord(value, Contract.pipeline.eventsTopic, 0, offset, timestamp), limits)
      val verdict = mapper.createObjectNode()
      classified.dead_letter match {
        case Some(dead) => verdict.put("verdict", dead.reason).put("error", dead.error)
        case None => verdict.put("verdict", "accepted")
      }
      out.println(mapper.writeValueAsString(verdict))
      offset += 1
      line = in.readLine()
    }
    out.flush()
  }
}
