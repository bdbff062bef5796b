import net from 'node:net';
import type { DoctorCheck } from '../../../base/stack.ts';
import { SpeedlayerError } from '../../../base/errors.ts';
import { findExecutable, lines, versionAtLeast } from '../exec.ts';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import { DEFAULT_KIND_MINOR, KIND_NODE_IMAGES, MIN_VERSIONS } from '../versions.ts';

export const PREFLIGHT_COMMANDS = {
  docker: ['docker', 'info', '--format', '{{json .}}'],
  kind: ['kind', 'version'],
  helm: ['helm', 'version', '--short'],
  kindClusters: ['kind', 'get', 'clusters'],
} as const;

const INSTALL_HINT: Record<string, string> = {
  kind: 'Install kind: winget install Kubernetes.kind (or choco install kind); on macOS/Linux see kind.sigs.k8s.io.',
  helm: 'Install Helm: winget install Helm.Helm (or choco install kubernetes-helm).',
  docker: 'Install Docker Desktop (winget install Docker.DockerDesktop) and start it.',
};

export interface DockerInfo {
  memMiB: number;
  serverVersion: string;
  operatingSystem: string;
  cpus: number;
  /** "1" or "2" (empty when the engine does not say). */
  cgroupVersion: string;
  /** true: Docker Desktop's "Use containerd for pulling and storing images". */
  containerdImageStore: boolean;
}

/** What the stack reserves: the budgets' totals (memory limits, CPU requests). */
export interface StackNeeds {
  memoryMiB: number;
  cpuMillicores: number;
}

/** The figures preflight needs from `docker info --format '{{json .}}'`. */
export function parseDockerInfo(stdout: string): DockerInfo {
  const info = JSON.parse(stdout.trim()) as Record<string, unknown>;
  return {
    memMiB: Math.floor(Number(info.MemTotal ?? 0) / 1024 / 1024),
    serverVersion: String(info.ServerVersion ?? ''),
    operatingSystem: String(info.OperatingSystem ?? ''),
    cpus: Number(info.NCPU ?? 0),
    cgroupVersion: String(info.CgroupVersion ?? ''),
    // The containerd store reports its snapshotter: DriverStatus [["driver-type", "io.containerd.snapshotter.v1"]].
    containerdImageStore: JSON.stringify(info.DriverStatus ?? []).includes('io.containerd.snapshotter'),
  };
}

/** First "x.y.z" in a tool's version output (kind v0.32.0 go1.24..., v3.19.0+g..., or kubectl-style JSON). */
export function parseVersion(stdout: string): string | undefined {
  try {
    const json = JSON.parse(stdout) as { clientVersion?: { gitVersion?: string } };
    if (json.clientVersion?.gitVersion) return json.clientVersion.gitVersion.replace(/^v/, '');
  } catch {
    /* not JSON */
  }
  return /v?(\d+\.\d+\.\d+)/.exec(stdout)?.[1];
}

/** The kindest/node image built for the installed kind release (config may override it). */
export function nodeImageFor(kindVersion: string | undefined, override?: string): string | undefined {
  if (override) return override;
  const minor = kindVersion ? kindVersion.split('.').slice(0, 2).join('.') : DEFAULT_KIND_MINOR;
  // A kind release not in the table: its own default image (undefined: no `image:` in the config).
  return KIND_NODE_IMAGES[minor];
}

export function wslMemoryFix(neededMiB: number, platform: NodeJS.Platform): string {
  const gb = Math.ceil((neededMiB + 2048) / 1024);
  if (platform !== 'win32') return `Give Docker Desktop at least ${gb} GB: Settings → Resources → Advanced → Memory limit, then Apply & restart.`;
  return [
    `Docker Desktop (WSL 2 backend) gets its memory from %UserProfile%\\.wslconfig. Give it at least ${gb} GB:`,
    '  [wsl2]',
    `  memory=${gb}GB`,
    "then run 'wsl --shutdown' in PowerShell and start Docker Desktop again (docs/kind.md, step 1).",
  ].join('\n');
}

export function wslCpuFix(neededMillicores: number, platform: NodeJS.Platform): string {
  const cpus = Math.max(4, Math.ceil(neededMillicores / 1000));
  if (platform !== 'win32') return `Give Docker Desktop at least ${cpus} CPUs: Settings → Resources → Advanced → CPU limit, then Apply & restart.`;
  return [
    `Docker Desktop (WSL 2 backend) gets its CPUs from %UserProfile%\\.wslconfig. Give it at least ${cpus}:`,
    '  [wsl2]',
    `  processors=${cpus}`,
    "then run 'wsl --shutdown' in PowerShell and start Docker Desktop again (docs/kind.md, step 1).",
  ].join('\n');
}

export function cgroupV2Fix(platform: NodeJS.Platform): string {
  if (platform !== 'win32') return 'Update Docker Desktop (4.x runs its VM with cgroup v2), or on Linux boot with systemd.unified_cgroup_hierarchy=1.';
  return [
    'Kubernetes 1.35+ kubelets need cgroup v2. Update WSL and Docker Desktop (`wsl --update`), and in %UserProfile%\\.wslconfig set:',
    '  [wsl2]',
    '  kernelCommandLine = cgroup_no_v1=all',
    "then run 'wsl --shutdown' in PowerShell and start Docker Desktop again.",
  ].join('\n');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export interface PreflightResult {
  checks: DoctorCheck[];
  kindVersion?: string;
  clusterExists: boolean;
}

/**
 * Read-only checks, in the order that matters: the Docker engine first (nothing else can work
 * without it), then the tools, memory and host ports. Nothing is created or changed here.
 */
export async function runPreflightChecks(k: KindEnv, needs: StackNeeds): Promise<PreflightResult> {
  const checks: DoctorCheck[] = [];
  const ok = (name: string, found: string) => checks.push({ name, ok: true, found });
  const bad = (name: string, found: string, fix: string) => checks.push({ name, ok: false, found, fix });
  const isKind = k.cluster.usesKindCli;

  const dockerPath = await findExecutable('docker', k.env, k.platform, k.pathApi);
  let docker: DockerInfo | undefined;
  if (!dockerPath) {
    bad('Docker engine', 'docker CLI not found', INSTALL_HINT.docker!);
  } else {
    try {
      docker = parseDockerInfo((await k.runner.run(PREFLIGHT_COMMANDS.docker, { timeoutMs: 20_000 })).stdout);
      ok('Docker engine', `${docker.operatingSystem || 'Docker'} ${docker.serverVersion}, ${docker.memMiB} MiB, ${docker.cpus} CPUs`);
    } catch (err) {
      const stderr = lines(String((err as { stderr?: unknown }).stderr ?? (err as Error).message ?? ''));
      bad(
        'Docker engine',
        `not reachable: ${stderr.find((l) => /cannot connect|error|daemon/i.test(l)) ?? stderr[0] ?? 'no answer'}`,
        'Start Docker Desktop and wait until it shows "Engine running", then retry (check with `docker info`).',
      );
    }
  }
  if (docker) {
    if (!versionAtLeast(docker.serverVersion, MIN_VERSIONS.docker)) {
      bad('Docker version', docker.serverVersion, `Update Docker Desktop (engine ${MIN_VERSIONS.docker} or newer).`);
    }
    if (docker.memMiB < needs.memoryMiB) {
      bad('Docker memory', `${docker.memMiB} MiB < ${needs.memoryMiB} MiB the stack's pods may use (memory_budget)`, wslMemoryFix(needs.memoryMiB, k.platform));
    } else {
      ok('Docker memory', `${docker.memMiB} MiB ≥ ${needs.memoryMiB} MiB`);
    }
    if (docker.cpus * 1000 < needs.cpuMillicores) {
      bad('Docker CPUs', `${docker.cpus} CPUs < ${needs.cpuMillicores}m the stack's pods request (cpu_budget): some would never be scheduled`, wslCpuFix(needs.cpuMillicores, k.platform));
    } else {
      ok('Docker CPUs', `${docker.cpus} CPUs ≥ ${needs.cpuMillicores}m requested`);
    }
    if (docker.cgroupVersion === '1') {
      bad('cgroup version', 'v1: the Kubernetes 1.36 kubelet in the node refuses to start', cgroupV2Fix(k.platform));
    } else {
      ok('cgroup version', docker.cgroupVersion ? `v${docker.cgroupVersion}` : 'not reported (assumed v2)');
    }
    if (docker.containerdImageStore) ok('image store', 'containerd (the job image reaches the node by docker save + kind load image-archive)');
    else ok('image store', 'classic (overlay2)');
  }

  let kindVersion: string | undefined;
  // kubectl is not among them: the CLI talks to the API server itself (@kubernetes/client-node).
  const tools = isKind ? (['kind', 'helm'] as const) : (['helm'] as const);
  for (const tool of tools) {
    if (!(await findExecutable(tool, k.env, k.platform, k.pathApi))) {
      bad(tool, 'not found on PATH', INSTALL_HINT[tool]!);
      continue;
    }
    try {
      const version = parseVersion((await k.runner.run(PREFLIGHT_COMMANDS[tool], { timeoutMs: 20_000 })).stdout);
      if (tool === 'kind') kindVersion = version;
      if (!version || !versionAtLeast(version, MIN_VERSIONS[tool])) {
        bad(tool, version ?? 'unknown version', `${tool} ${MIN_VERSIONS[tool]} or newer is needed. ${INSTALL_HINT[tool]}`);
      } else ok(tool, version);
    } catch (err) {
      bad(tool, `'${tool}' failed: ${(err as Error).message.split('\n')[0]}`, INSTALL_HINT[tool]!);
    }
  }

  // An existing cluster holds its own ports; only a cluster still to be created needs them free.
  let clusterExists = false;
  if (isKind && docker && kindVersion) {
    const clusters = lines((await k.runner.run(PREFLIGHT_COMMANDS.kindClusters)).stdout);
    clusterExists = clusters.includes(k.config.clusterName);
    ok('kind cluster', clusterExists ? `'${k.config.clusterName}' exists, reused` : `'${k.config.clusterName}' will be created`);
  }
  if (isKind && !clusterExists) {
    for (const [name, port] of Object.entries(k.config.ports)) {
      if (await portFree(port)) ok(`host port ${port}`, `free (${name})`);
      else bad(`host port ${port}`, `in use (${name})`, `Stop the program using 127.0.0.1:${port}, or set kind.ports.${name} in the config file.`);
    }
  }
  return { checks, kindVersion, clusterExists };
}

export function preflightError(failed: DoctorCheck[]): SpeedlayerError {
  const [first, ...rest] = failed;
  const what = first!.name === 'Docker engine' ? `Docker engine ${first!.found}` : `${first!.name}: ${first!.found}`;
  return new SpeedlayerError(rest.length ? `${what} (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : what, {
    fix: failed.map((c) => (failed.length > 1 ? `- ${c.name}: ${c.fix}` : c.fix)).join('\n'),
  });
}

/** Fails before anything changes; remembers the kind version for the node image. */
export function preflightStep(k: KindEnv, needs: StackNeeds, found: { kindVersion?: string; clusterExists?: boolean }): KindStep {
  const commands = [PREFLIGHT_COMMANDS.docker, ...(k.cluster.usesKindCli ? [PREFLIGHT_COMMANDS.kind] : []),
    PREFLIGHT_COMMANDS.helm].map((c) => [...c]);
  return kindStep('Preflight: Docker (memory, CPUs, cgroup v2), kind, helm, ports', { commands }, async (ctx) => {
    const result = await runPreflightChecks(k, needs);
    for (const c of result.checks) ctx.status.debug(`${c.ok ? 'ok ' : 'BAD'} ${c.name}: ${c.found}`);
    const failed = result.checks.filter((c) => !c.ok);
    if (failed.length) throw preflightError(failed);
    found.kindVersion = result.kindVersion;
    found.clusterExists = result.clusterExists;
    return result.checks.find((c) => c.name === 'Docker engine')?.found;
  });
}
