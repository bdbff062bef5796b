package dev.speedlayer.job

import java.nio.charset.StandardCharsets

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.Path
import org.apache.spark.sql.Encoders

/**
 * The shape of the per-user state a checkpoint holds. The state is Kryo bytes (ProcessUsers), so
 * Spark's state schema check sees one binary column whatever UserState looks like, and Kryo would
 * misread a state written by a job whose UserState had other fields. The job records the shape (the
 * operator that keeps the state, and the schema Spark would give StoredUser) in the checkpoint and
 * refuses to start on another one, as Spark refuses a struct state of another shape.
 */
object StateFormat {
  val FileName = "speedlayer-state-format.json"

  val shape: String = s"""{"operator":"transformWithState","state":${Encoders.product[StoredUser].schema.json}}"""

  final class Mismatch(message: String) extends IllegalStateException(message)

  /** Records the shape in a new checkpoint; throws [[Mismatch]] (naming the checkpoint) if it holds another. */
  def verify(checkpointDir: String, hadoopConf: Configuration): Unit = {
    val file = new Path(checkpointDir, FileName)
    val fs = file.getFileSystem(hadoopConf)
    if (fs.exists(file)) {
      val in = fs.open(file)
      val recorded = try new String(in.readAllBytes(), StandardCharsets.UTF_8) finally in.close()
      if (recorded != shape)
        throw new Mismatch(s"the per-user state in the checkpoint $checkpointDir has another shape than this job's " +
          s"($file was written by another version of the job; this job's: $shape)")
    } else {
      val out = fs.create(file, false)
      try out.write(shape.getBytes(StandardCharsets.UTF_8)) finally out.close()
    }
  }
}
