// The embedded ClickHouse front's own tests (pytest, clickhouse-front/tests), run by `npm test`
// with the chdb virtualenv's python, as speedlayer runs the front. pytest and its dependencies
// (clickhouse-front/requirements-test.txt) go into a folder of their own in the cache, on
// PYTHONPATH, so the chdb virtualenv stays exactly what requirements.txt pins.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_ROOT } from '../src/contract/index.ts';
import { ensureChdbEnv } from '../src/targets/local/clickhouse/python-env.ts';

const FRONT = path.join(PROJECT_ROOT, 'clickhouse-front');
const cacheDir = process.env.SPEEDLAYER_CACHE ?? path.join(PROJECT_ROOT, '.speedlayer', 'cache');

const chdb = await ensureChdbEnv({ cacheDir, onProgress: (m) => console.log(m) });
const requirements = path.join(FRONT, 'requirements-test.txt');
const hash = createHash('sha256').update(await readFile(requirements)).digest('hex').slice(0, 16);
const deps = path.join(cacheDir, `front-test-deps-${hash}`);
const marker = path.join(deps, '.installed');
if (!existsSync(marker)) {
  await rm(deps, { recursive: true, force: true });
  console.log(`installing ${path.relative(PROJECT_ROOT, requirements)} into ${deps}`);
  await execa(chdb.python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '--no-deps', '--target', deps, '-r', requirements], {
    stdio: 'inherit',
  });
  await writeFile(marker, hash);
}
const result = await execa(chdb.python, ['-m', 'pytest', '-p', 'no:cacheprovider', '-v', 'tests'], {
  cwd: FRONT,
  env: { ...process.env, PYTHONPATH: deps, PYTHONDONTWRITEBYTECODE: '1' },
  stdio: 'inherit',
  reject: false,
});
process.exit(result.exitCode ?? 1);
