#!/usr/bin/env node
// The real kube-apiserver and etcd for the kind target's integration tests (test/integration/kind-kube-api.test.ts).
// kube-apiserver: built once from the Go module proxy (go.mod/main.go beside this file, no upstream
// code in the repository) into the download cache, $SPEEDLAYER_CACHE/kube-apiserver-<version>/.
// etcd: Debian's etcd-server (3.4.23, accepted by this API server), installed with apt-get when
// missing and running as root (CI); otherwise the error says what to install.
// Prints the two paths as JSON; `node scripts/kube-apiserver/ensure.mjs` warms the cache by hand.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const KUBERNETES_VERSION = 'v1.36.3';
/** The Go release the module is built with; fetched from the module proxy when no Go is installed. */
const GO_TOOLCHAIN = 'go1.26.8';
/**
 * The toolchain zips' module hashes (Go's dirhash "h1:", what go.sum and sum.golang.org record), so a
 * changed download is refused before it runs. Taken from `go mod download -json` of these versions
 * through proxy.golang.org on 2026-11-28 (sum.golang.org itself is not reachable from the build machine).
 */
const GO_TOOLCHAIN_H1 = {
  amd64: 'h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM=',
  arm64: 'h1:sYL/O6MqS68ML0kjsQ36WoYIpJqkw60TxizWUYUKQMc=',
};
// dirhash.Hash1 of a module zip: sha256 of the sorted "<sha256 hex>  <name>" lines of its files.
const ZIP_H1 = `import base64, hashlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    lines = ''.join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\\n" for n in sorted(z.namelist()))
print('h1:' + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode())`;

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');

function cacheDir() {
  return path.resolve(process.env.SPEEDLAYER_CACHE ?? path.join(root, '.speedlayer', 'cache'));
}

function which(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, name);
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

function log(message) {
  process.stderr.write(`[kube-apiserver] ${message}\n`);
}

/**
 * A Go toolchain: the installed one, or the official release zip from the Go module proxy
 * (module golang.org/toolchain, the same archive `GOTOOLCHAIN=auto` downloads).
 */
async function goBinary() {
  const installed = which('go');
  if (installed) return installed;
  const dir = path.join(cacheDir(), `go-${GO_TOOLCHAIN}`);
  const go = path.join(dir, 'bin', 'go');
  if (existsSync(go)) return go;
  const arch = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const version = `v0.0.1-${GO_TOOLCHAIN}.linux-${arch}`;
  const url = `https://proxy.golang.org/golang.org/toolchain/@v/${version}.zip`;
  log(`no Go on PATH: downloading ${url}`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`download of ${url} failed: HTTP ${res.status}`);
  const tmp = mkdtempSync(path.join(cacheDir(), '.go-'));
  const zip = path.join(tmp, 'go.zip');
  writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
  const h1 = execFileSync('python3', ['-c', ZIP_H1, zip], { encoding: 'utf8' }).trim();
  if (h1 !== GO_TOOLCHAIN_H1[arch]) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`${url}: module hash ${h1}, expected ${GO_TOOLCHAIN_H1[arch]}: refusing to run it. Install Go ${GO_TOOLCHAIN} from go.dev/dl instead.`);
  }
  execFileSync('python3', ['-m', 'zipfile', '-e', zip, tmp], { stdio: 'inherit' });
  const extracted = path.join(tmp, `golang.org/toolchain@${version}`);
  // zip entries carry no mode bits through Python's extractor: the programs need them back.
  const executables = [path.join(extracted, 'bin'), ...readdirSync(path.join(extracted, 'pkg', 'tool')).map((d) => path.join(extracted, 'pkg', 'tool', d))];
  for (const d of executables) for (const f of readdirSync(d)) chmodSync(path.join(d, f), 0o755);
  renameSync(extracted, dir);
  rmSync(tmp, { recursive: true, force: true });
  return go;
}

export async function ensureKubeApiserver() {
  const dir = path.join(cacheDir(), `kube-apiserver-${KUBERNETES_VERSION}`);
  const binary = path.join(dir, 'kube-apiserver');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const go = await goBinary();
  const work = mkdtempSync(path.join(dir, '.build-'));
  for (const f of ['go.mod', 'go.sum', 'main.go']) if (existsSync(path.join(here, f))) copyFileSync(path.join(here, f), path.join(work, f));
  const started = Date.now();
  log(`building kube-apiserver ${KUBERNETES_VERSION} from the Go module proxy (first time only: ~700 MB of modules, minutes)`);
  const env = { ...process.env, GOFLAGS: '-mod=readonly', CGO_ENABLED: '0', GOTOOLCHAIN: 'auto' };
  const out = path.join(work, 'kube-apiserver');
  const build = spawnSync(go, ['build', '-trimpath', '-ldflags=-s -w', '-o', out, '.'], { cwd: work, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0) {
    rmSync(work, { recursive: true, force: true });
    throw new Error(`'go build' of kube-apiserver failed (exit ${build.status}); command: cd ${work} && ${go} build -o kube-apiserver .`);
  }
  renameSync(out, binary); // atomic: a concurrent run sees the whole binary or none
  rmSync(work, { recursive: true, force: true });
  log(`built in ${Math.round((Date.now() - started) / 1000)} s: ${binary} (${Math.round(statSync(binary).size / 1e6)} MB)`);
  return binary;
}

export function ensureEtcd() {
  const found = which('etcd');
  if (found) return found;
  if (process.getuid?.() === 0 && which('apt-get')) {
    log('installing etcd-server with apt-get');
    const apt = (args) => spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    apt(['update', '-qq']);
    if (apt(['install', '-y', '-qq', '--no-install-recommends', 'etcd-server']).status === 0 && which('etcd')) return which('etcd');
  }
  throw new Error("etcd is not installed: install Debian's etcd-server (apt-get install etcd-server) or put an etcd 3.4+ binary on PATH");
}

export async function ensureControlPlaneBinaries() {
  return { kubeApiserver: await ensureKubeApiserver(), etcd: ensureEtcd() };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await ensureControlPlaneBinaries()));
}
