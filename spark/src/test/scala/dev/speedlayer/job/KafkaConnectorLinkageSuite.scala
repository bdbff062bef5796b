package dev.speedlayer.job

import java.lang.reflect.{Constructor, Field, Method}
import java.util.jar.JarFile

import scala.collection.mutable
import scala.jdk.CollectionConverters._

import org.apache.xbean.asm9.{ClassReader, ClassVisitor, MethodVisitor, Opcodes, Type}
import org.scalatest.funsuite.AnyFunSuite

/**
 * spark-token-provider-kafka-0-10 4.0.4 is not served by the registry the build machines
 * reach, so the pom uses 4.0.0 next to spark-sql-kafka-0-10 4.0.4. This suite reads the
 * bytecode of spark-sql-kafka-0-10 and checks that every method, constructor and field it
 * uses from the token provider (package org.apache.spark.kafka010) exists in the jar on the
 * classpath with the exact descriptor, i.e. that the pair links.
 */
class KafkaConnectorLinkageSuite extends AnyFunSuite {

  private val TokenPackage = "org/apache/spark/kafka010/"

  private final case class Ref(kind: String, owner: String, name: String, descriptor: String)

  private def referencesOf(jarPath: String): Set[Ref] = {
    val refs = mutable.Set.empty[Ref]
    val jar = new JarFile(jarPath)
    try {
      jar.entries().asScala.filter(_.getName.endsWith(".class")).foreach { entry =>
        val in = jar.getInputStream(entry)
        val reader = try new ClassReader(in) finally in.close()
        reader.accept(new ClassVisitor(Opcodes.ASM9) {
          override def visitMethod(access: Int, name: String, desc: String, sig: String, exceptions: Array[String]): MethodVisitor =
            new MethodVisitor(Opcodes.ASM9) {
              override def visitMethodInsn(op: Int, owner: String, n: String, d: String, itf: Boolean): Unit =
                if (owner.startsWith(TokenPackage)) refs += Ref("method", owner, n, d)
              override def visitFieldInsn(op: Int, owner: String, n: String, d: String): Unit =
                if (owner.startsWith(TokenPackage)) refs += Ref("field", owner, n, d)
              override def visitTypeInsn(op: Int, t: String): Unit =
                if (t.startsWith(TokenPackage)) refs += Ref("class", t, "", "")
            }
        }, ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES)
      }
    } finally jar.close()
    refs.toSet
  }

  private def hierarchy(c: Class[_]): Seq[Class[_]] =
    if (c == null) Nil else c +: (hierarchy(c.getSuperclass) ++ c.getInterfaces.toSeq.flatMap(hierarchy))

  private def resolves(ref: Ref): Boolean = {
    val cls = Class.forName(ref.owner.replace('/', '.'), false, getClass.getClassLoader)
    ref.kind match {
      case "class" => true
      case "field" =>
        hierarchy(cls).exists(_.getDeclaredFields.exists((f: Field) => f.getName == ref.name && Type.getDescriptor(f.getType) == ref.descriptor))
      case "method" if ref.name == "<init>" =>
        cls.getDeclaredConstructors.exists((c: Constructor[_]) => Type.getConstructorDescriptor(c) == ref.descriptor)
      case "method" =>
        hierarchy(cls).exists(_.getDeclaredMethods.exists((m: Method) => m.getName == ref.name && Type.getMethodDescriptor(m) == ref.descriptor))
    }
  }

  test("spark-sql-kafka-0-10 links against the spark-token-provider-kafka-0-10 on the classpath") {
    val connectorJar = Class.forName("org.apache.spark.sql.kafka010.KafkaSourceProvider").getProtectionDomain.getCodeSource.getLocation.getPath
    val providerJar = Class.forName("org.apache.spark.kafka010.KafkaConfigUpdater").getProtectionDomain.getCodeSource.getLocation.getPath
    assert(connectorJar.contains("spark-sql-kafka-0-10_2.13-4.0.4"), connectorJar)
    assert(providerJar.contains("spark-token-provider-kafka-0-10_2.13-"), providerJar)
    val refs = referencesOf(connectorJar)
    assert(refs.count(_.kind == "method") >= 8, refs) // the check is not vacuous
    val unresolved = refs.filterNot(r => scala.util.Try(resolves(r)).getOrElse(false))
    assert(unresolved.isEmpty, s"unresolved against $providerJar: ${unresolved.mkString("\n")}")
  }
}
