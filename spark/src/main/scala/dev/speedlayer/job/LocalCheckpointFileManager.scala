package dev.speedlayer.job

import java.nio.file.{Files, Paths, StandardOpenOption}

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FSDataOutputStream, LocalFileSystem, Path, RawLocalFileSystem}
import org.apache.spark.sql.execution.streaming.FileSystemBasedCheckpointFileManager

/**
 * Spark's checkpoint writes (offsets, commits, state store changelogs) on a local disk without
 * starting a process. Hadoop's local file system, without its native library (not on Maven
 * Central), sets the permission of every file it creates by running `chmod`, and FileContext's
 * rename runs `readlink`: about 14 processes per micro-batch, each forked from the whole JVM.
 *
 * The temporary file is written with java.nio instead (no permission set, no .crc file); the rest
 * is Spark's: the temporary file renamed over the final one (atomic on one file system), and reads,
 * listings and deletes through Hadoop. On any other file system it is Spark's manager unchanged.
 */
final class LocalCheckpointFileManager(path: Path, hadoopConf: Configuration)
    extends FileSystemBasedCheckpointFileManager(path, hadoopConf) {

  private val local = fs match {
    case _: LocalFileSystem | _: RawLocalFileSystem => true
    case _ => false
  }

  override def createTempFile(path: Path): FSDataOutputStream =
    if (!local) super.createTempFile(path)
    else {
      val file = Paths.get(fs.makeQualified(path).toUri)
      Files.createDirectories(file.getParent)
      val out = Files.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)
      new FSDataOutputStream(out, null)
    }
}
