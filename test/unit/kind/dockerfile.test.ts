import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../src/contract/index.ts';
import { IMAGE_INPUTS, jobImageTag } from '../../../src/targets/kind/image.ts';
import { POD_PATHS } from '../../../src/targets/kind/names.ts';

const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'spark', 'Dockerfile'), 'utf8');

describe('spark/Dockerfile', () => {
  it('is multi-stage: a Maven build stage, then apache/spark:4.0.4 pinned by digest', () => {
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(froms[0]).toMatch(/^maven:/);
    // The digest the Spark Operator 2.5.2 Dockerfile pins for its own base image.
    expect(froms.at(-1)).toMatch(/^apache\/spark:4\.0\.4@sha256:[0-9a-f]{64}$/);
  });
  it('puts the jar and the JMX agent where the SparkApplication expects them', () => {
    expect(dockerfile).toContain(POD_PATHS.jobJar);
    expect(dockerfile).toContain(POD_PATHS.jmxExporterJar);
  });
  it('copies from the repository root (src/contract) and everything it copies is hashed into the tag', async () => {
    const copied = [...dockerfile.matchAll(/^COPY\s+(?!--from)(\S+)/gm)].map((m) => m[1]!.replace(/\*$/, ''));
    expect(copied).toContain('src/contract');
    for (const c of copied) expect(IMAGE_INPUTS.some((i) => c === i || c.startsWith(`${i}/`) || i.startsWith(c)), c).toBe(true);
    expect(await jobImageTag(PROJECT_ROOT)).toMatch(/^speedlayer-job:[0-9a-f]{16}$/);
  });
});
