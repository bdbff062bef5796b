#!/usr/bin/env node
// `npm test`: every suite, cheapest first, stopping at the first failure.
// The integration and e2e suites install what they need themselves (Kafka jars via Maven,
// the chDB virtualenv via pip) into a cache shared across runs: .speedlayer/cache.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, SPEEDLAYER_CACHE: process.env.SPEEDLAYER_CACHE ?? path.join(root, '.speedlayer', 'cache') };
const only = process.argv.slice(2);

const suites = [
  ['typecheck', 'npx', ['tsc', '--noEmit']],
  ['unit', 'npx', ['vitest', 'run', '--project', 'unit']],
  // package = compile + ScalaTest + the jar and classpath the local target runs.
  ['spark', 'mvn', ['-B', '-q', '-f', 'spark/pom.xml', 'package']],
  ['integration', 'npx', ['vitest', 'run', '--project', 'integration']],
  ['e2e', 'npx', ['vitest', 'run', '--project', 'e2e']],
];

for (const [name, cmd, args] of suites) {
  if (only.length && !only.includes(name)) continue;
  const started = Date.now();
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, env, stdio: 'inherit' });
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  if (r.status !== 0) {
    console.error(`=== ${name} FAILED after ${secs}s (exit ${r.status ?? r.signal})`);
    process.exit(1);
  }
  console.log(`=== ${name} passed in ${secs}s`);
}
