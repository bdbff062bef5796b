package dev.speedlayer.job

import com.fasterxml.jackson.databind.ObjectMapper
import org.scalatest.funsuite.AnyFunSuite

/** Which batches count as having read events: they (re)open the IdleTicker's window. */
class IdleTickerSuite extends AnyFunSuite {
  private val json = new ObjectMapper()
  private val events = "speedlayer.events"

  test("events read in a batch are counted from the Kafka source's start and end offsets") {
    val start = """{"speedlayer.events":{"0":10,"1":5},"speedlayer.users":{"0":3}}"""
    val end = """{"speedlayer.events":{"0":12,"1":8},"speedlayer.users":{"0":3}}"""
    assert(IdleTicker.recordsRead(json, start, end, events) === 5)
  }

  test("a batch of ticks only (users topic advanced) read no events") {
    val start = """{"speedlayer.events":{"0":12,"1":8},"speedlayer.users":{"0":3}}"""
    val end = """{"speedlayer.events":{"0":12,"1":8},"speedlayer.users":{"0":4}}"""
    assert(IdleTicker.recordsRead(json, start, end, events) === 0)
  }

  test("the first batch (no start offsets) counts every event up to its end") {
    assert(IdleTicker.recordsRead(json, null, """{"speedlayer.events":{"0":7}}""", events) === 7)
  }

  test("unreadable offsets count as events, so the ticker never stops early") {
    assert(IdleTicker.recordsRead(json, "{", "not json", events) > 0)
  }

  test("the tick's key can be no user's id (the schema allows 1..64 characters)") {
    assert(new String(IdleTicker.Key, "UTF-8").length > 64)
  }
}
