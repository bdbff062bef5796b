#!/usr/bin/env node
// `npm test`: every suite, cheapest first, stopping at the first failure, then one closing line
// "N passed, N failed" over all suites (vitest and ScalaTest counts).
// The integration and e2e suites install what they need themselves (Kafka jars via Maven,
// the chDB virtualenv via pip) into a cache shared across runs: .speedlayer/cache.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Everything the run puts in the temporary folder (the tests' homes and stacks, Spark's scratch
// folders and unpacked native libraries, the suites' reports: about 65 MB) goes into one folder,
// removed after a run that passed: TMPDIR for Node and Python, java.io.tmpdir for ScalaTest.
const runTmp = mkdtempSync(path.join(os.tmpdir(), 'speedlayer-test-run-'));
const env = { ...process.env, TMPDIR: runTmp, SPEEDLAYER_CACHE: process.env.SPEEDLAYER_CACHE ?? path.join(root, '.speedlayer', 'cache') };
const only = process.argv.slice(2);
const reports = mkdtempSync(path.join(runTmp, 'reports-'));
const vitest = (project) => ['vitest', 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${path.join(reports, `${project}.json`)}`];

const suites = [
  ['typecheck', 'npx', ['tsc', '--noEmit']],
  // The CLI the integration and e2e suites start (bin/speedlayer.js) runs dist/: build it from this tree.
  ['build', 'npm', ['run', 'build']],
  // dependency-cruiser: the layer rules of docs/architecture.md, and its diagram drawn from them.
  ['architecture', 'node', ['scripts/architecture.mjs']],
  ['unit', 'npx', vitest('unit')],
  // pytest: the embedded ClickHouse front (clickhouse-front/tests), with the chdb virtualenv.
  ['front', 'node', ['--import', 'tsx', 'scripts/front-tests.ts']],
  // package = compile + ScalaTest + the jar and classpath the local target runs.
  ['spark', 'mvn', ['-B', '-q', '-f', 'spark/pom.xml', `-Dtest.tmpdir=${runTmp}`, 'package']],
  ['integration', 'npx', vitest('integration')],
  ['e2e', 'npx', vitest('e2e')],
  // Faults under load (docs/reliability.md): the job killed, Kafka restarted, ClickHouse away for
  // 90 s, a corrupted checkpoint, `up` interrupted; ~10 minutes on a quiet machine.
  ['faults', 'npx', vitest('faults')],
  // npm run bench -- --smoke: every field of the benchmark's report, on fresh stacks (no timing asserted).
  ['bench-smoke', 'npx', vitest('bench-smoke')],
];

const totals = { passed: 0, failed: 0, skipped: 0 };

// Prometheus, promtool and Alertmanager: the unit suite validates the alert rules with promtool,
// the e2e suites run both servers. Chromium: the integration and e2e suites render loadtest --html
// in it. Installed with apt when missing (as root, or with passwordless sudo).
const onPath = (name) =>
  (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
const monitoringMissing = () => !onPath('prometheus') || !onPath('promtool') || !(onPath('alertmanager') || onPath('prometheus-alertmanager'));
const needsChromium = !only.length || only.some((suite) => suite === 'integration' || suite === 'e2e');
const chromiumMissing = () => needsChromium && !onPath('chromium') && !onPath('chromium-browser') && !onPath('google-chrome');
const aptPackages = () => [...(monitoringMissing() ? ['prometheus', 'prometheus-alertmanager'] : []), ...(chromiumMissing() ? ['chromium'] : [])];
if (aptPackages().length && onPath('apt-get')) {
  const root = process.getuid?.() === 0;
  const sudo = root ? [] : spawnSync('sudo', ['-n', 'true']).status === 0 ? ['sudo', '-n'] : undefined;
  if (sudo) {
    console.log(`=== installing ${aptPackages().join(', ')} with apt-get`);
    const apt = (args) => spawnSync(sudo[0] ?? 'apt-get', [...sudo.slice(1), ...(sudo.length ? ['apt-get'] : []), ...args], { stdio: 'inherit', env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
    apt(['update']);
    apt(['install', '-y', '--no-install-recommends', ...aptPackages()]);
  }
}
if (monitoringMissing()) {
  console.error('prometheus, promtool and alertmanager are needed by the tests: Debian/Ubuntu: sudo apt-get install prometheus prometheus-alertmanager; macOS: brew install prometheus alertmanager.');
  process.exit(1);
}
if (chromiumMissing()) {
  console.error('chromium is needed by the tests (they render loadtest --html in it): Debian/Ubuntu: sudo apt-get install chromium; elsewhere put chromium or google-chrome on PATH.');
  process.exit(1);
}

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-20000);
    });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), tail }));
  });
}

function count(name, tail) {
  if (name === 'front') {
    // pytest: "==== 28 passed, 1 skipped in 4.26s ===="
    const line = tail.trimEnd().split('\n').pop() ?? '';
    const n = (word) => Number(line.match(new RegExp(`(\\d+) ${word}`))?.[1] ?? 0);
    totals.passed += n('passed');
    totals.failed += n('failed') + n('error');
    totals.skipped += n('skipped');
    return;
  }
  if (name === 'spark') {
    // ScalaTest: "Tests: succeeded 82, failed 0, canceled 0, ignored 0, pending 0"
    const m = [...tail.matchAll(/Tests: succeeded (\d+), failed (\d+), canceled (\d+), ignored (\d+)/g)].pop();
    if (m) {
      totals.passed += Number(m[1]);
      totals.failed += Number(m[2]);
      totals.skipped += Number(m[3]) + Number(m[4]);
    }
    return;
  }
  try {
    const r = JSON.parse(readFileSync(path.join(reports, `${name}.json`), 'utf8'));
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests;
    totals.skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  } catch {
    /* typecheck has no counts */
  }
}

let failedSuite;
for (const [name, cmd, args] of suites) {
  if (only.length && !only.includes(name)) continue;
  const started = Date.now();
  console.log(`\n=== ${name}: ${cmd} ${args.join(' ')}`);
  const { code, tail } = await run(cmd, args);
  count(name, tail);
  const secs = ((Date.now() - started) / 1000).toFixed(0);
  if (code !== 0) {
    console.error(`=== ${name} FAILED after ${secs}s (exit ${code})`);
    failedSuite = name;
    break;
  }
  console.log(`=== ${name} passed in ${secs}s`);
}
if (failedSuite && totals.failed === 0) totals.failed = 1; // a suite that failed without a count (e.g. tsc)
if (failedSuite) console.log(`\nkept for inspection: ${runTmp}`);
else rmSync(runTmp, { recursive: true, force: true });
console.log(`\n${totals.passed} passed, ${totals.failed} failed${totals.skipped ? `, ${totals.skipped} skipped` : ''}`);
process.exit(failedSuite ? 1 : 0);
