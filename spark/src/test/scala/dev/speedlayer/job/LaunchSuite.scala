package dev.speedlayer.job

import java.io.File
import java.lang.management.ManagementFactory
import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Paths}
import java.util.concurrent.TimeUnit

import scala.jdk.CollectionConverters._

import org.apache.spark.launcher.JavaModuleOptions
import org.scalatest.funsuite.AnyFunSuite

/**
 * What the CLI relies on to launch the job locally: spark/jvm-options.txt and
 * target/classpath.txt, used as `java $(cat jvm-options.txt) -cp "$(cat target/classpath.txt):target/classes" ...`.
 */
class LaunchSuite extends AnyFunSuite {

  private val jvmOptionsFile = Paths.get(sys.props("speedlayer.jvmOptionsFile"))
  private val classpathFile = Paths.get(sys.props("speedlayer.classpathFile"))
  private val classesDir = Paths.get(sys.props("speedlayer.classesDir"))

  private def jvmOptions: Seq[String] =
    Files.readAllLines(jvmOptionsFile, StandardCharsets.UTF_8).asScala.toSeq.map(_.trim).filter(_.nonEmpty)

  test("jvm-options.txt is Spark's launcher JavaModuleOptions, one per line") {
    assert(jvmOptions === JavaModuleOptions.defaultModuleOptionArray().toSeq)
  }

  test("the test JVM itself runs with those options (the pom's argLine)") {
    val running = ManagementFactory.getRuntimeMXBean.getInputArguments.asScala.toSet
    assert(jvmOptions.filterNot(running) === Nil)
  }

  test("classpath.txt holds every dependency jar the tests run with, except test-only ones") {
    val listed = Files.readString(classpathFile).trim.split(File.pathSeparator).toSet
    val testOnly = Seq("/org/scalatest/", "/org/scalactic/", "/org/scalatestplus/", "/org/scalacheck/", "/org/scala-sbt/test-interface/")
    val testJars = sys.props("java.class.path").split(File.pathSeparator).toSeq
      .filter(_.endsWith(".jar"))
      .filterNot(j => testOnly.exists(j.contains))
    assert(testJars.filterNot(listed) === Nil)
    // Spark itself (provided) is on it, and the libraries it needs at run time.
    Seq("spark-sql_2.13", "spark-sql-kafka-0-10_2.13", "kafka-clients", "client-v2", "json-schema-validator", "lz4-java", "snappy-java", "hadoop-client-api")
      .foreach(a => assert(listed.exists(_.contains(s"/$a-")), a))
  }

  test("the job starts from classpath.txt + classes: missing options -> usage and exit code 2") {
    val java = Paths.get(sys.props("java.home"), "bin", "java").toString
    val cp = Files.readString(classpathFile).trim + File.pathSeparator + classesDir
    val command = (java +: jvmOptions) ++ Seq("-cp", cp, Contract.pipeline.mainClass, "--events-topic", "speedlayer.events")
    val process = new ProcessBuilder(command.asJava).redirectErrorStream(true).start()
    val output = new String(process.getInputStream.readAllBytes(), StandardCharsets.UTF_8)
    assert(process.waitFor(60, TimeUnit.SECONDS))
    assert(process.exitValue() === 2, output)
    assert(output.contains(
      "missing required options: --bootstrap-servers, --dead-letter-topic, --clickhouse-url, --clickhouse-database, --checkpoint-dir"), output)
  }
}
