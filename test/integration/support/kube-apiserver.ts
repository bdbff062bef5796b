import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import YAML from 'yaml';
import { PROJECT_ROOT } from '../../../src/contract/index.ts';
import { freePort } from '../../support/free-port.ts';
import { CRD_DIR as CRDS_DIR } from '../../unit/kind/support/crd-schema.ts';


export interface KubeApiServer {
  url: string;
  /** The static admin token (group system:masters). */
  token: string;
  /** A merge patch of an object or its status subresource, as an operator or the kubelet writes it. */
  mergePatch(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; finalizers?: string[] | null } } & Record<string, unknown>, subresource?: 'status'): Promise<void>;
  /** A kubeconfig whose current context is named `context` (the one the kind target selects). */
  kubeConfig(context: string): k8s.KubeConfig;
  stop(): Promise<void>;
}

/** Builds (first run) or reuses the cached kube-apiserver, and finds or installs etcd. */
async function binaries(): Promise<{ kubeApiserver: string; etcd: string }> {
  const script = path.join(PROJECT_ROOT, 'scripts', 'kube-apiserver', 'ensure.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [script], { maxBuffer: 1 << 20, timeout: 40 * 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { kubeApiserver: string; etcd: string };
}

function request(method: string, url: string, token?: string, body?: string, contentType?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const lib = url.startsWith('https:') ? https : http;
    const headers: Record<string, string> = {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(contentType ? { 'Content-Type': contentType } : {}),
    };
    // The API server's certificate is the self-signed one it made in --cert-dir.
    const req = lib.request(url, { method, rejectUnauthorized: false, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end(body);
  });
}

const get = (url: string, token?: string) => request('GET', url, token);

async function waitFor(what: string, url: string, token: string | undefined, child: ChildProcess, logFile: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}); log ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
    const r = await get(url, token);
    if (r.status === 200) return;
    last = `${r.status} ${r.body.slice(0, 500)}`;
    await sleep(250);
  }
  throw new Error(`${what} not ready after ${timeoutMs / 1000} s (${url}: ${last}); log ${logFile}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
}

/** The child writes straight to its log file (no pipe to drain). */
function startProcess(file: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(logFile, 'a');
  return spawn(file, args, { stdio: ['ignore', log, log] });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Every CRD of ../shared/crds, created and Established. Posted as JSON, not through client-node,
 * whose typed model would drop the `x-kubernetes-*` keys of the schemas.
 */
async function installCrds(url: string, token: string): Promise<void> {
  const names: string[] = [];
  for (const file of readdirSync(CRDS_DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of YAML.parseAllDocuments(readFileSync(path.join(CRDS_DIR, file), 'utf8'))) {
      const crd = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
      if (crd?.kind !== 'CustomResourceDefinition') continue;
      const r = await request('POST', `${url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, token, JSON.stringify(crd), 'application/json');
      if (r.status !== 201) throw new Error(`CRD ${crd.metadata?.name} from ${file}: ${r.status} ${r.body.slice(0, 1000)}`);
      names.push(crd.metadata!.name!);
    }
  }
  for (const name of names) {
    for (let i = 0; ; i++) {
      const r = await get(`${url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`, token);
      const conditions = (JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } }).status?.conditions ?? [];
      if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (i > 200) throw new Error(`CRD ${name} not Established: ${r.body.slice(0, 500)}`);
      await sleep(100);
    }
  }
}

/**
 * etcd and the real kube-apiserver on 127.0.0.1 (ports chosen free), a static admin token in
 * system:masters, the upstream CRDs installed. No controller manager, scheduler or kubelet run:
 * the tests play the operators' and kubelet's parts by writing status and finalizers.
 */
export async function startKubeApiServer(): Promise<KubeApiServer> {
  if (!existsSync(CRDS_DIR)) {
    throw new Error(`the upstream CRDs are missing: ${CRDS_DIR} (the project expects ../shared/crds beside it, see shared/crds/README.md)`);
  }
  const bins = await binaries();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'speedlayer-kube-apiserver-'));
  const [etcdClient, etcdPeer, securePort] = [await freePort(), await freePort(), await freePort()];
  const etcd = startProcess(bins.etcd, [
    '--name', 'test',
    '--data-dir', path.join(dir, 'etcd'),
    '--listen-client-urls', `http://127.0.0.1:${etcdClient}`,
    '--advertise-client-urls', `http://127.0.0.1:${etcdClient}`,
    '--listen-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-advertise-peer-urls', `http://127.0.0.1:${etcdPeer}`,
    '--initial-cluster', `test=http://127.0.0.1:${etcdPeer}`,
  ], path.join(dir, 'etcd.log'));
  const children: ChildProcess[] = [etcd];
  const stop = async () => {
    for (const c of children.reverse()) await stopProcess(c);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('etcd', `http://127.0.0.1:${etcdClient}/health`, undefined, etcd, path.join(dir, 'etcd.log'), 60_000);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(path.join(dir, 'sa.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const token = randomBytes(24).toString('hex');
    writeFileSync(path.join(dir, 'tokens.csv'), `${token},admin,admin,"system:masters"\n`);
    const apiserver = startProcess(bins.kubeApiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${securePort}`,
      `--cert-dir=${path.join(dir, 'certs')}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${path.join(dir, 'sa.key')}`,
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`,
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
    ], path.join(dir, 'kube-apiserver.log'));
    children.push(apiserver);
    const url = `https://127.0.0.1:${securePort}`;
    await waitFor('kube-apiserver', `${url}/readyz`, token, apiserver, path.join(dir, 'kube-apiserver.log'), 180_000);
    const kubeConfig = (context: string) => {
      const kc = new k8s.KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'test', server: url, skipTLSVerify: true }],
        users: [{ name: 'admin', token }],
        contexts: [{ name: context, cluster: 'test', user: 'admin' }],
        currentContext: context,
      });
      return kc;
    };
    await installCrds(url, token);
    const mergePatch: KubeApiServer['mergePatch'] = async (obj, subresource) => {
      const plural = `${obj.kind.toLowerCase()}s`; // every kind patched here has the regular plural
      const group = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
      const where = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : '';
      const target = `${url}${group}${where}/${plural}/${obj.metadata.name}${subresource ? `/${subresource}` : ''}`;
      const r = await request('PATCH', target, token, JSON.stringify(obj), 'application/merge-patch+json');
      if (r.status !== 200) throw new Error(`PATCH ${target}: ${r.status} ${r.body.slice(0, 500)}`);
    };
    return { url, token, kubeConfig, mergePatch, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
