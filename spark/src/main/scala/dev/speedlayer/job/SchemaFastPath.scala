package dev.speedlayer.job

import java.util.regex.Pattern

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.JsonNode

/**
 * A check compiled once from the event schema that answers "certainly valid" for the events a
 * producer sends, about ten times faster than the general JSON Schema validator (networknt took
 * ~17% of the job's CPU in a profile). It only ever shortens the way to "valid": any other answer
 * (invalid, or a case it does not decide for sure) sends the record to networknt, which then
 * decides and words the errors as before. So it can make validation faster, never different;
 * SchemaFastPathSuite checks on a generated corpus that it never says "valid" where networknt
 * finds a violation, and that it says "valid" for every event the load generator makes.
 *
 * It knows the keywords of contract/event.schema.json (type, const, enum, format uuid and
 * date-time, pattern, min/maxLength, minimum/maximum, min/maxItems, items, properties, required,
 * additionalProperties: false, allOf, if/then). A schema with any other keyword compiles to a
 * check that never answers "valid" (correct, only slower: the suite fails so that it is noticed).
 */
object SchemaFastPath {
  type Verdict = Int
  val Valid: Verdict = 0
  val Invalid: Verdict = 1
  val Unsure: Verdict = 2

  /** A compiled check; `supported` is false when the schema used a keyword this file does not know. */
  final class Check(val supported: Boolean, run: JsonNode => Verdict) {
    def apply(json: JsonNode): Verdict = if (supported) run(json) else Unsure
  }

  private val Annotations = Set("$schema", "$id", "$comment", "title", "description", "examples", "default")

  private final class Unsupported(keyword: String) extends RuntimeException(keyword)

  def compile(schema: JsonNode): Check =
    try new Check(true, compileNode(schema))
    catch { case _: Unsupported => new Check(false, _ => Unsure) }

  /**
   * Invalid if one is, else Unsure if one is, else Valid; stops at the first Invalid. Loops over
   * arrays and Java iterators, with no closure or Scala iterator made per record: with them, the
   * check was 9.6% of the job's task threads' CPU samples in a load test at 10k events/s.
   */
  private def all(checks: Seq[JsonNode => Verdict]): JsonNode => Verdict = {
    val array = checks.toArray
    node => {
      var verdict = Valid
      var i = 0
      while (verdict != Invalid && i < array.length) {
        val v = array(i)(node)
        if (v != Valid) verdict = v
        i += 1
      }
      verdict
    }
  }

  /**
   * [[all]] for one check over every element of an array. This loop and eachDeclaredField's are
   * kept apart on purpose: one generic loop over an iterator with a check per item was slower
   * (ValidationBenchmarkSuite, docs/benchmarks.md).
   */
  private def eachElement(node: JsonNode, check: JsonNode => Verdict): Verdict = {
    val elements = node.elements()
    var verdict = Valid
    while (verdict != Invalid && elements.hasNext) {
      val v = check(elements.next())
      if (v != Valid) verdict = v
    }
    verdict
  }

  /** [[all]] for the declared properties of an object: each present one against its check. */
  private def eachDeclaredField(node: JsonNode, checks: java.util.HashMap[String, JsonNode => Verdict]): Verdict = {
    val fields = node.fields()
    var verdict = Valid
    while (verdict != Invalid && fields.hasNext) {
      val field = fields.next()
      val check = checks.get(field.getKey)
      if (check != null) {
        val v = check(field.getValue)
        if (v != Valid) verdict = v
      }
    }
    verdict
  }

  private def javaSet(names: Iterator[String]): java.util.HashSet[String] = {
    val set = new java.util.HashSet[String]()
    names.foreach(set.add)
    set
  }

  private def compileNode(schema: JsonNode): JsonNode => Verdict = {
    if (!schema.isObject) throw new Unsupported("non-object schema")
    val keywords = schema.fieldNames().asScala.toSeq.filterNot(Annotations)
    val handled = Set("if", "then") // compiled together, below
    val checks = keywords.filterNot(handled).map(keyword => compileKeyword(keyword, schema.get(keyword), schema))
    val conditional =
      if (schema.has("if") || schema.has("then")) {
        if (schema.has("else") || !schema.has("if") || !schema.has("then")) throw new Unsupported("if without then, or else")
        val condition = compileNode(schema.get("if"))
        val consequence = compileNode(schema.get("then"))
        Seq((node: JsonNode) => condition(node) match {
          case Valid => consequence(node)
          case Invalid => Valid
          case _ => Unsure
        })
      } else Seq.empty
    all(checks ++ conditional)
  }

  private def compileKeyword(keyword: String, value: JsonNode, schema: JsonNode): JsonNode => Verdict = keyword match {
    case "type" if value.isTextual => typeCheck(value.asText())
    case "const" if value.isTextual =>
      val expected = value.asText()
      node => if (node.isTextual && node.asText() == expected) Valid else if (node.isFloatingPointNumber) Unsure else Invalid
    case "const" if value.isIntegralNumber && value.canConvertToLong =>
      val expected = value.asLong()
      node =>
        if (node.isIntegralNumber) { if (node.canConvertToLong && node.asLong() == expected) Valid else Invalid }
        else if (node.isFloatingPointNumber) Unsure
        else Invalid
    case "enum" if value.isArray && value.elements().asScala.forall(_.isTextual) =>
      val allowed = javaSet(value.elements().asScala.map(_.asText()))
      node => if (node.isTextual && allowed.contains(node.asText())) Valid else if (node.isFloatingPointNumber) Unsure else Invalid
    case "format" if value.asText() == "uuid" => strings(s => if (Uuid.matches(s)) Valid else Unsure)
    case "format" if value.asText() == "date-time" => strings(s => if (isPlainUtcDateTime(s)) Valid else Unsure)
    case "pattern" if value.isTextual =>
      FixedWidthPattern.compile(value.asText()) match {
        case Some(fixed) => strings(s => if (fixed.matches(s)) Valid else Unsure)
        case None =>
          val pattern = Pattern.compile(value.asText())
          strings(s => if (pattern.matcher(s).matches()) Valid else Unsure)
      }
    case "minLength" if value.canConvertToInt =>
      val min = value.asInt()
      strings(s => if (s.codePointCount(0, s.length) >= min) Valid else Invalid)
    case "maxLength" if value.canConvertToInt =>
      val max = value.asInt()
      strings(s => if (s.codePointCount(0, s.length) <= max) Valid else Invalid)
    case "minimum" if value.isNumber => bound(value.asDouble(), atLeast = true)
    case "maximum" if value.isNumber => bound(value.asDouble(), atLeast = false)
    case "minItems" if value.canConvertToInt =>
      val min = value.asInt()
      node => if (!node.isArray || node.size() >= min) Valid else Invalid
    case "maxItems" if value.canConvertToInt =>
      val max = value.asInt()
      node => if (!node.isArray || node.size() <= max) Valid else Invalid
    case "items" if value.isObject =>
      val item = compileNode(value)
      node => if (!node.isArray) Valid else eachElement(node, item)
    case "properties" if value.isObject =>
      val properties = new java.util.HashMap[String, JsonNode => Verdict]()
      value.fields().asScala.foreach(e => properties.put(e.getKey, compileNode(e.getValue)))
      node => if (!node.isObject) Valid else eachDeclaredField(node, properties)
    case "required" if value.isArray && value.elements().asScala.forall(_.isTextual) =>
      val names = value.elements().asScala.map(_.asText()).toArray
      node =>
        if (!node.isObject) Valid
        else {
          var present = true
          var i = 0
          while (present && i < names.length) { present = node.has(names(i)); i += 1 }
          if (present) Valid else Invalid
        }
    case "additionalProperties" if value.isBoolean && !value.asBoolean() =>
      val declared = javaSet(schema.path("properties").fieldNames().asScala)
      node => {
        var closed = true
        if (node.isObject) {
          val names = node.fieldNames()
          while (closed && names.hasNext) closed = declared.contains(names.next())
        }
        if (closed) Valid else Invalid
      }
    case "allOf" if value.isArray => all(value.elements().asScala.toSeq.map(compileNode))
    case other => throw new Unsupported(other)
  }

  private def typeCheck(name: String): JsonNode => Verdict = name match {
    case "object" => node => if (node.isObject) Valid else Invalid
    case "array" => node => if (node.isArray) Valid else Invalid
    case "string" => node => if (node.isTextual) Valid else Invalid
    case "boolean" => node => if (node.isBoolean) Valid else Invalid
    // 1.0 is an integer in JSON Schema; whether a validator agrees is not decided here.
    case "integer" => node => if (node.isIntegralNumber) Valid else if (node.isFloatingPointNumber) Unsure else Invalid
    case "number" => node => if (node.isNumber) { if (node.isFloatingPointNumber && !java.lang.Double.isFinite(node.asDouble())) Unsure else Valid } else Invalid
    case other => throw new Unsupported(s"type $other")
  }

  private def strings(check: String => Verdict): JsonNode => Verdict = node => if (node.isTextual) check(node.asText()) else Valid

  /**
   * A bound on numbers. Integers (up to 2^53, exact as doubles) are compared exactly; a fraction
   * on the bound, or out of range, or not finite, is left to networknt (rounding).
   */
  private def bound(limit: Double, atLeast: Boolean): JsonNode => Verdict = node =>
    if (!node.isNumber) Valid
    else if (node.isIntegralNumber) {
      if (!node.canConvertToLong || math.abs(node.asLong()) > (1L << 53)) Unsure
      else if (atLeast == (node.asLong().toDouble >= limit) || node.asLong().toDouble == limit) Valid
      else Invalid
    } else {
      val v = node.asDouble()
      if (!java.lang.Double.isFinite(v) || v == limit) Unsure
      else if (atLeast == (v > limit)) Valid
      else Unsure
    }

  private val Uuid = FixedWidthPattern.compile("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$").get

  /** `yyyy-MM-ddTHH:mm:ss.SSSZ` with a real date and time (no leap second), years 1000..9999. */
  private def isPlainUtcDateTime(s: String): Boolean =
    IsoInstant.isSchemaForm(s) && s.charAt(0) != '0'
}

/**
 * An anchored pattern of fixed width over ASCII, such as the schema's
 * `^[0-9]{4}-[0-9]{2}-...\\.[0-9]{3}Z$`: character classes of ranges and single characters, escaped
 * or plain literals, each optionally repeated `{n}` times. Checked position by position, a few
 * times faster than java.util.regex (which the profile showed next); the same answer as
 * `Pattern.matches` for these patterns (SchemaFastPathSuite compares them).
 */
final class FixedWidthPattern private (allowed: Array[Array[Boolean]]) {
  def matches(s: String): Boolean = {
    if (s.length != allowed.length) return false
    var i = 0
    while (i < allowed.length) {
      val c = s.charAt(i)
      if (c >= 128 || !allowed(i)(c)) return false
      i += 1
    }
    true
  }
}

object FixedWidthPattern {
  /** The pattern, if it has the fixed-width form (else None: use java.util.regex). */
  def compile(pattern: String): Option[FixedWidthPattern] = {
    if (!pattern.startsWith("^") || !pattern.endsWith("$") || pattern.endsWith("\\$")) return None
    val body = pattern.substring(1, pattern.length - 1)
    val positions = Seq.newBuilder[Array[Boolean]]
    var i = 0
    def plain(c: Char) = c.isLetterOrDigit && c < 128 || "-:_ /,@#".indexOf(c) >= 0
    while (i < body.length) {
      val set = new Array[Boolean](128)
      body.charAt(i) match {
        case '[' =>
          val end = body.indexOf(']', i)
          if (end < 0) return None
          val members = body.substring(i + 1, end)
          if (members.isEmpty || members.startsWith("^") || members.exists(c => c == '\\' || c == '[' || c == '&' || c >= 128)) return None
          var j = 0
          while (j < members.length) {
            if (j + 2 < members.length && members.charAt(j + 1) == '-') {
              (members.charAt(j) to members.charAt(j + 2)).foreach(c => set(c) = true)
              j += 3
            } else {
              set(members.charAt(j)) = true
              j += 1
            }
          }
          i = end + 1
        case '\\' if i + 1 < body.length && "./-:".indexOf(body.charAt(i + 1)) >= 0 =>
          set(body.charAt(i + 1)) = true
          i += 2
        case c if plain(c) =>
          set(c) = true
          i += 1
        case _ => return None
      }
      var count = 1
      if (i < body.length && body.charAt(i) == '{') {
        val end = body.indexOf('}', i)
        if (end < 0) return None
        count = body.substring(i + 1, end).toIntOption.filter(n => n >= 0 && n <= 1000).getOrElse(return None)
        i = end + 1
      }
      if (i < body.length && "*+?{".indexOf(body.charAt(i)) >= 0) return None
      (0 until count).foreach(_ => positions += set)
    }
    Some(new FixedWidthPattern(positions.result().toArray))
  }
}
