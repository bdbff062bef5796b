import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { findOnPath, MONITORING_BINARIES } from '../../src/targets/local/monitoring/binaries.ts';

// promtool and amtool come with Debian's prometheus and prometheus-alertmanager packages, which
// npm test installs when missing.
export const promtool = findOnPath(MONITORING_BINARIES.promtool) ?? 'promtool';
export const amtool = findOnPath(['amtool']) ?? 'amtool';

/** promtool's rule unit tests (synthetic series in, alerts out), written to `dir/name` and run there. */
export async function promtoolTestRules(dir: string, name: string, tests: unknown) {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(tests));
  return execa(promtool, ['test', 'rules', file], { reject: false, cwd: dir });
}
