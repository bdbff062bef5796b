package dev.speedlayer.job

import com.fasterxml.jackson.databind.{JsonNode, ObjectMapper}
import com.fasterxml.jackson.databind.node.{ArrayNode, JsonNodeFactory, ObjectNode}
import org.scalacheck.Gen
import org.scalatest.funsuite.AnyFunSuite
import org.scalatestplus.scalacheck.ScalaCheckPropertyChecks

import Fixtures._

/**
 * SchemaFastPath against networknt on a generated corpus: it never says "valid" where networknt
 * finds a violation (so validation is never different), and it says "valid" for valid events of
 * every type (so it is actually the fast path).
 */
class SchemaFastPathSuite extends AnyFunSuite with ScalaCheckPropertyChecks {
  implicit override val generatorDrivenConfig: PropertyCheckConfiguration = PropertyCheckConfiguration(minSuccessful = 3000)

  private val mapper = new ObjectMapper()
  private val nodes = JsonNodeFactory.instance
  private val fastPath = EventSchema.fastPath

  private def networkntValid(json: JsonNode): Boolean = EventValidator.allSchemaErrors(EventSchema.schema, json).isEmpty

  test("the contract's schema uses only keywords the fast path knows") {
    assert(fastPath.supported)
  }

  test("a schema with a keyword it does not know never takes the fast path") {
    val check = SchemaFastPath.compile(mapper.readTree("""{"type":"object","propertyNames":{"maxLength":3}}"""))
    assert(!check.supported)
    assert(check(mapper.readTree("{}")) === SchemaFastPath.Unsure)
  }

  /** Valid events of every type with generated values within the schema. */
  private val validEvent: Gen[ObjectNode] = for {
    json <- Gen.oneOf(validEvents.map(_._2))
    user <- Gen.choose(1, 64).flatMap(n => Gen.stringOfN(n, Gen.alphaNumChar))
    millis <- Gen.choose(Instant0, Instant1)
    price <- Gen.oneOf(Gen.choose(0.01, 5000.0), Gen.choose(1, 5000).map(_.toDouble))
    quantity <- Gen.choose(1, 1000)
    upper <- Gen.oneOf(true, false)
  } yield {
    val event = mapper.readTree(json).asInstanceOf[ObjectNode]
    event.put("user_id", user)
    event.put("event_time", java.time.Instant.ofEpochMilli(millis).toString.pipe(t => if (t.length == 24) t else t.dropRight(1) + ".000Z"))
    if (upper) event.put("event_id", event.get("event_id").asText().toUpperCase)
    if (event.has("price")) event.put("price", price)
    if (event.has("quantity")) event.put("quantity", quantity)
    event
  }

  private lazy val Instant0 = java.time.Instant.parse("1900-01-01T00:00:00Z").toEpochMilli
  private lazy val Instant1 = java.time.Instant.parse("2299-12-31T23:59:59.999Z").toEpochMilli

  implicit private class Pipe[A](a: A) { def pipe[B](f: A => B): B = f(a) }

  test("every valid event takes the fast path, and networknt agrees that it is valid") {
    forAll(validEvent) { event =>
      assert(networkntValid(event), event)
      assert(fastPath(event) === SchemaFastPath.Valid, event)
    }
  }

  /** Values of every JSON type, including the edge cases of the schema's bounds and formats. */
  private val anyValue: Gen[JsonNode] = Gen.oneOf(
    Gen.const(nodes.nullNode()), Gen.oneOf(true, false).map(nodes.booleanNode),
    Gen.oneOf(0, 1, -1, 2, 1000, 1001, 100, 101, Int.MaxValue).map(n => nodes.numberNode(n): JsonNode),
    Gen.oneOf(0.0, -0.0, 1.0, 1.5, -0.5, 1000.0, 1000.5, 1e308, 4.9e-324, -4.9e-324).map(d => nodes.numberNode(d): JsonNode),
    Gen.const(nodes.numberNode(new java.math.BigInteger("123456789012345678901234567890"))),
    Gen.const(nodes.numberNode(new java.math.BigDecimal("-1e-400"))),
    Gen.oneOf("", "x", "a" * 64, "a" * 65, "\uD83D\uDE00" * 64, "\uD83D\uDE00" * 65, "USD", "usd", "USD\n", "EURO",
      "PAGE_VIEW", "PURCHASE", "LOGOUT", "page_view", "desktop", "tablet", "TV",
      "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000g", "00000000000040008000000000000001",
      "2025-01-15T10:00:00.123Z", "2025-02-30T10:00:00.123Z", "2025-01-15T24:00:00.000Z", "2016-12-31T23:59:60.000Z",
      "2025-01-15T10:00:00Z", "2025-01-15T10:00:00.123+00:00", "0000-01-01T00:00:00.000Z", "2025-01-15T10:00:00.123Z\n")
      .map(s => nodes.textNode(s): JsonNode),
    Gen.const(nodes.arrayNode()), Gen.const(nodes.objectNode()))

  private val fieldNames = Seq("schema_version", "event_id", "event_type", "event_time", "user_id", "device", "produced_at",
    "page", "product_id", "category", "price", "quantity", "query", "order_id", "items", "revenue", "currency",
    "unknown", "#hash", "$.x", "")

  /** A valid event changed in one to three ways: fields removed, set to any value, added; items changed. */
  private val mutatedEvent: Gen[ObjectNode] = for {
    event <- validEvent
    changes <- Gen.choose(1, 3)
    edits <- Gen.listOfN(changes, for {
      kind <- Gen.choose(0, 3)
      field <- Gen.oneOf(fieldNames)
      value <- anyValue
      itemIndex <- Gen.choose(0, 3)
      itemField <- Gen.oneOf("product_id", "quantity", "price", "other", "#x")
    } yield (kind, field, value, itemIndex, itemField))
  } yield {
    edits.foreach {
      case (0, field, _, _, _) => event.remove(field)
      case (1, field, value, _, _) => event.set[JsonNode](field, value.deepCopy[JsonNode]())
      case (2, _, value, index, itemField) =>
        val items = Option(event.get("items")).collect { case a: ArrayNode => a }.getOrElse(event.putArray("items"))
        if (index < items.size() && items.get(index).isObject) items.get(index).asInstanceOf[ObjectNode].set[JsonNode](itemField, value.deepCopy[JsonNode]())
        else if (index == 3) items.removeAll()
        else items.add(value.deepCopy[JsonNode]())
      case (_, _, _, _, _) =>
        val items = event.putArray("items")
        (0 until 101).foreach(i => items.addObject().put("product_id", s"p$i").put("quantity", 1).put("price", 1))
    }
    event
  }

  test("a changed event never takes the fast path where networknt finds a violation") {
    var fast = 0
    var invalid = 0
    forAll(mutatedEvent) { event =>
      val valid = networkntValid(event)
      if (!valid) invalid += 1
      if (fastPath(event) == SchemaFastPath.Valid) {
        fast += 1
        assert(valid, s"the fast path accepted an event networknt refuses: $event")
      }
    }
    info(s"$invalid of the changed events were invalid; $fast took the fast path")
    assert(invalid > 1000, "the corpus should be mostly invalid events")
  }

  private def schemaPatterns(node: JsonNode): Seq[String] = {
    import scala.jdk.CollectionConverters._
    val own = Option(node.get("pattern")).filter(_.isTextual).map(_.asText()).toSeq
    own ++ (if (node.isContainerNode) node.elements().asScala.toSeq.flatMap(schemaPatterns) else Seq.empty)
  }

  test("the schema's patterns are fixed-width, and match exactly what java.util.regex matches") {
    val patterns = schemaPatterns(EventSchema.schema.getSchemaNode) ++ Seq("^[a-c-]{2}x\\.$", "^ab$", "^[0-9]{0}z$")
    assert(patterns.size >= 6)
    val alphabet = Gen.oneOf("0123456789abcdefgABCDEFGXYZT-:.z\n\u00e9\u0660".toSeq)
    patterns.foreach { p =>
      val fixed = FixedWidthPattern.compile(p)
      assert(fixed.isDefined, p)
      val regex = java.util.regex.Pattern.compile(p)
      val samples = Gen.oneOf(
        Gen.choose(0, 40).flatMap(n => Gen.stringOfN(n, alphabet)),
        Gen.oneOf(validEvents.map(_._2)).map(json => mapper.readTree(json).path("event_time").asText()),
        Gen.const("00000000-0000-4000-8000-000000000001"), Gen.const("EUR"), Gen.const("EUR\n"))
      forAll(samples) { s => assert(fixed.get.matches(s) === regex.matcher(s).matches(), (p, s)) }
    }
  }

  test("patterns of another form are left to java.util.regex") {
    Seq("[0-9]{3}", "^[0-9]+$", "^(ab|cd)$", "^a.c$", "^[^0-9]$", "^[a&&b]$", "^\\d{3}$", "^[a-z]{2}$x").foreach { p =>
      assert(FixedWidthPattern.compile(p).isEmpty, p)
    }
  }
}
