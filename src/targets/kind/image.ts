import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import nodePath from 'node:path';
import { SPARK_JOB_IMAGE_REPO } from './versions.ts';

/** What goes into the job image; the tag is a hash of exactly these files. */
export const IMAGE_INPUTS = ['spark/Dockerfile', 'spark/pom.xml', 'spark/jvm-options.txt', 'spark/src', 'src/contract'];

async function walk(root: string, rel: string): Promise<string[]> {
  const abs = nodePath.join(root, rel);
  const entries = await readdir(abs, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return (await readFile(abs).then(() => true, () => false)) ? [rel] : [];
  const nested = await Promise.all(entries.map((e) => walk(root, nodePath.join(rel, e.name))));
  return nested.flat();
}

/**
 * sha256 over the inputs' paths and contents, with CRLF read as LF and `/` separators, so a
 * Windows checkout (core.autocrlf) gets the same tag as any other.
 */
export async function jobImageTag(projectRoot: string, inputs = IMAGE_INPUTS): Promise<string> {
  const files = (await Promise.all(inputs.map((i) => walk(projectRoot, i)))).flat();
  const hash = createHash('sha256');
  for (const rel of files.map((f) => f.split(nodePath.sep).join('/')).sort()) {
    const content = (await readFile(nodePath.join(projectRoot, rel))).toString('latin1').replace(/\r\n/g, '\n');
    hash.update(`${rel}\0${content.length}\0`).update(content, 'latin1');
  }
  return `${SPARK_JOB_IMAGE_REPO}:${hash.digest('hex').slice(0, 16)}`;
}
