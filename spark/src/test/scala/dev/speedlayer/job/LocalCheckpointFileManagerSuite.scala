package dev.speedlayer.job

import java.nio.charset.StandardCharsets.UTF_8
import java.nio.file.{Files, Path => NioPath}

import scala.jdk.CollectionConverters._

import org.apache.commons.io.IOUtils
import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileAlreadyExistsException, FileSystem, Path}
import org.apache.spark.sql.execution.streaming.CheckpointFileManager
import org.scalatest.funsuite.AnyFunSuite

class LocalCheckpointFileManagerSuite extends AnyFunSuite {

  private def withDir(body: NioPath => Unit): Unit = {
    val dir = Files.createTempDirectory("checkpoint-manager")
    try body(dir)
    finally Files.walk(dir).sorted(java.util.Comparator.reverseOrder[NioPath]()).forEach(p => Files.delete(p))
  }

  /** The manager Spark makes for a checkpoint path under the job's settings. */
  private def managerFor(dir: NioPath): CheckpointFileManager = {
    val conf = new Configuration()
    JobSparkConf.settings(shufflePartitions = 2).foreach { case (key, value) => conf.set(key, value) }
    CheckpointFileManager.create(new Path(dir.toUri), conf)
  }

  private def write(manager: CheckpointFileManager, path: Path, text: String, overwrite: Boolean): Unit = {
    val out = manager.createAtomic(path, overwriteIfPossible = overwrite)
    out.write(text.getBytes(UTF_8))
    out.close()
  }

  private def read(manager: CheckpointFileManager, path: Path): String = {
    val in = manager.open(path)
    try new String(IOUtils.toByteArray(in), UTF_8)
    finally in.close()
  }

  private def names(dir: NioPath): Set[String] = Files.list(dir).iterator().asScala.map(_.getFileName.toString).toSet

  test("the job's settings make Spark use it for checkpoints") {
    withDir(dir => assert(managerFor(dir).isInstanceOf[LocalCheckpointFileManager]))
  }

  test("a file appears whole under its name, with no temporary or checksum file beside it") {
    withDir { dir =>
      val manager = managerFor(dir)
      val file = new Path(dir.resolve("offsets/7").toUri)
      write(manager, file, "v1\n{\"batch\":7}", overwrite = false)
      assert(read(manager, file) === "v1\n{\"batch\":7}")
      // Hadoop's own write path leaves .7.crc (and sets the permission by running chmod).
      assert(names(dir.resolve("offsets")) === Set("7"))
    }
  }

  test("a cancelled write leaves nothing behind") {
    withDir { dir =>
      val manager = managerFor(dir)
      val out = manager.createAtomic(new Path(dir.resolve("8").toUri), overwriteIfPossible = false)
      out.write(1)
      out.cancel()
      assert(names(dir) === Set.empty)
    }
  }

  test("an existing file is kept unless overwriting is asked for") {
    withDir { dir =>
      val manager = managerFor(dir)
      val file = new Path(dir.resolve("commits-1").toUri)
      write(manager, file, "first", overwrite = false)
      intercept[FileAlreadyExistsException](write(manager, file, "second", overwrite = false))
      assert(read(manager, file) === "first")
      write(manager, file, "second", overwrite = true)
      assert(read(manager, file) === "second")
    }
  }

  test("overwriting a file Hadoop wrote with a checksum drops the stale checksum") {
    withDir { dir =>
      // A checkpoint from before this manager: written through Hadoop's local file system, with its .crc.
      val file = new Path(dir.resolve("state-1.changelog").toUri)
      val hadoop = FileSystem.getLocal(new Configuration())
      val old = hadoop.create(file, true)
      old.write("old contents".getBytes(UTF_8))
      old.close()
      assert(names(dir).contains(".state-1.changelog.crc"))

      val manager = managerFor(dir)
      write(manager, file, "new", overwrite = true)
      assert(names(dir) === Set("state-1.changelog"))
      assert(read(manager, file) === "new")
    }
  }
}
