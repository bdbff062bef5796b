package dev.speedlayer.job

import java.time.Instant

import scala.util.control.NonFatal

import com.fasterxml.jackson.databind.JsonNode

/**
 * Records of the user-dimension topic (docs/processing.md): value = JSON
 * `{"user_id", "signup_time" (ISO-8601 UTC), "country" (ISO 3166 alpha-2), "lifetime_spend" (number >= 0)}`.
 * The same checks as for events, in the same order (too_large, not_utf8, invalid_json), then
 * the fields (`schema`, every violation as `<JSON path>: <message>`, sorted, joined by "; ").
 * Never throws.
 */
object UserRecords {
  private val MinTime = Instant.parse("1900-01-01T00:00:00Z")
  private val MaxTime = Instant.parse("2299-12-31T23:59:59.999Z")

  /** None for a tombstone (null value: the compacted topic's deletion marker). */
  def parse(r: KafkaRecord, limits: Limits): Option[Either[DeadLetterRow, UserRecord]] =
    if (r.value == null) None
    else Some(
      try parseValue(r, limits)
      catch {
        case NonFatal(e) =>
          Left(EventValidator.deadLetter(r, r.value, Reason.Schema, s"$$: validation failed: ${e.getClass.getName}", limits))
      })

  private def parseValue(r: KafkaRecord, limits: Limits): Either[DeadLetterRow, UserRecord] = {
    val bytes = r.value
    def dead(reason: String, error: String) = Left(EventValidator.deadLetter(r, bytes, reason, error, limits))
    EventValidator.readJson(bytes, limits) match {
      case Left((reason, error)) => dead(reason, error)
      case Right(json) =>
        fields(json, r) match {
          case Left(errors) => dead(Reason.Schema, errors.sorted.mkString("; "))
          case Right(u) => Right(u)
        }
    }
  }

  private def fields(json: JsonNode, r: KafkaRecord): Either[Seq[String], UserRecord] = {
    if (!json.isObject) return Left(Seq(s"$$: ${json.getNodeType.toString.toLowerCase} found, object expected"))
    val errors = Seq.newBuilder[String]
    def node(name: String): Option[JsonNode] = Option(json.get(name)).filterNot(_.isNull)
    def string(name: String): String = node(name) match {
      case Some(n) if n.isTextual => n.asText()
      case Some(n) => errors += s"$$.$name: ${n.getNodeType.toString.toLowerCase} found, string expected"; ""
      case None => errors += s"$$: required property '$name' not found"; ""
    }
    val userId = string("user_id")
    if (json.has("user_id") && json.get("user_id").isTextual && (userId.isEmpty || userId.length > 64)) {
      errors += "$.user_id: must be 1 to 64 characters long"
    }
    val signupText = string("signup_time")
    val signup =
      if (!json.has("signup_time") || !json.get("signup_time").isTextual) Instant.EPOCH
      else
        try {
          val t = Instant.parse(signupText)
          if (t.isBefore(MinTime) || t.isAfter(MaxTime)) { errors += s"$$.signup_time: $signupText is outside 1900..2299"; Instant.EPOCH }
          else t
        } catch { case NonFatal(_) => errors += s"$$.signup_time: $signupText is not an ISO-8601 instant"; Instant.EPOCH }
    val country = string("country")
    if (json.has("country") && json.get("country").isTextual && !country.matches("[A-Z]{2}")) {
      errors += s"$$.country: $country is not an ISO 3166 alpha-2 code"
    }
    val spend = node("lifetime_spend") match {
      case Some(n) if n.isNumber && n.asDouble() >= 0 && !n.asDouble().isInfinite => n.asDouble()
      case Some(n) if n.isNumber => errors += s"$$.lifetime_spend: ${n.asText()} is not a finite number >= 0"; 0.0
      case Some(n) => errors += s"$$.lifetime_spend: ${n.getNodeType.toString.toLowerCase} found, number expected"; 0.0
      case None => errors += "$: required property 'lifetime_spend' not found"; 0.0
    }
    val all = errors.result()
    if (all.nonEmpty) Left(all) else Right(UserRecord(userId, signup, country, spend, r.partition, r.offset))
  }
}
