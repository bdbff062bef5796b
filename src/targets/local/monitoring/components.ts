import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SpeedlayerError } from '../../../base/errors.ts';
import type { LocalConfig, MonitoringConfig } from '../../../config/schema.ts';
import { PROJECT_ROOT } from '../../../contract/index.ts';
import type { StackEndpoints } from '../../../base/stack.ts';
import { findOnPath, MONITORING_BINARIES, MONITORING_INSTALL_FIX } from './binaries.ts';
import { alertmanagerConfig, settingsRules } from '../../../stack/monitoring-config.ts';
import { localPrometheusConfig } from './config-files.ts';
import { EXPORTER_PASSWORD_ENV, NOTIFICATION_PATH, type ExporterOptions } from './exporter.ts';
import { ManagedProcess } from '../supervisor.ts';
import type { LocalComponent } from '../components/component.ts';

type Ports = LocalConfig['ports'];

function binary(kind: keyof typeof MONITORING_BINARIES): string {
  const found = findOnPath(MONITORING_BINARIES[kind]);
  if (!found) throw new SpeedlayerError(`${MONITORING_BINARIES[kind].join(' or ')} not found on PATH`, { fix: MONITORING_INSTALL_FIX });
  return found;
}

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

async function versionOf(bin: string): Promise<string | undefined> {
  const { stdout, stderr } = await execa(bin, ['--version'], { timeout: 10_000 });
  return /version (\S+)/.exec(stdout || stderr)?.[1];
}

/** The exporter (src/targets/local/monitoring/exporter.ts) as a Node process. */
export function exporterComponent(o: {
  dir: string;
  ports: Ports;
  monitoring: MonitoringConfig;
  sparkDir: string;
  progressFile: string;
  clickhouseDataDir: string;
  notificationsFile: string;
  endpoints: () => Promise<StackEndpoints>;
}): LocalComponent {
  const process = new ManagedProcess('exporter', o.dir);
  const optionsFile = path.join(o.dir, 'exporter.json');
  return {
    name: 'exporter',
    process,
    readyTimeoutMs: 30_000,
    hint: 'The exporter did not answer on /-/ready.',
    ports: () => [o.ports.exporter],
    async prepare() {
      await mkdir(o.dir, { recursive: true });
    },
    async launch() {
      const e = await o.endpoints();
      const options: ExporterOptions = {
        port: o.ports.exporter,
        kafka: e.kafka,
        // The passwords travel in the environment, not in this file or on the command line.
        clickhouse: { url: e.clickhouse.url, username: e.clickhouse.username, database: e.clickhouse.database, password: '' },
        dashboardUser: e.clickhouse.dashboard?.username,
        sparkDir: o.sparkDir,
        progressFile: o.progressFile,
        clickhouseDataDir: o.clickhouseDataDir,
        notificationsFile: o.notificationsFile,
        collectIntervalMs: o.monitoring.scrapeIntervalSeconds * 1000,
        probeIntervalMs: Math.max(15, o.monitoring.scrapeIntervalSeconds) * 1000,
      };
      await writeFile(optionsFile, JSON.stringify(options, null, 2));
      return {
        command: globalThis.process.execPath,
        args: [...exporterMain(), optionsFile],
        cwd: PROJECT_ROOT,
        env: { ...globalThis.process.env, [EXPORTER_PASSWORD_ENV.writer]: e.clickhouse.password, [EXPORTER_PASSWORD_ENV.dashboard]: e.clickhouse.dashboard?.password ?? '' },
        ports: [o.ports.exporter],
      };
    },
    ready: () => httpOk(`http://127.0.0.1:${o.ports.exporter}/-/ready`),
    version: async () => undefined,
  };
}

/** The exporter's entry point next to this module: compiled (dist/), or the source through tsx. */
function exporterMain(): string[] {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? ['--import', 'tsx', path.join(path.dirname(here), 'exporter-main.ts')] : [path.join(path.dirname(here), 'exporter-main.js')];
}

export function notificationLogUrl(ports: Ports): string {
  return `http://127.0.0.1:${ports.exporter}${NOTIFICATION_PATH}`;
}

export function prometheusComponent(o: { dir: string; ports: Ports; monitoring: MonitoringConfig }): LocalComponent {
  const process = new ManagedProcess('prometheus', o.dir);
  const configFile = path.join(o.dir, 'prometheus.yml');
  const settingsFile = path.join(o.dir, 'settings.rules.yml');
  return {
    name: 'prometheus',
    process,
    readyTimeoutMs: 60_000,
    hint: 'Prometheus did not answer on /-/ready.',
    ports: () => [o.ports.prometheus],
    async prepare() {
      await mkdir(path.join(o.dir, 'data'), { recursive: true });
      await writeFile(settingsFile, settingsRules(o.monitoring));
      await writeFile(configFile, localPrometheusConfig(o.monitoring, o.ports, settingsFile));
    },
    async launch() {
      return {
        command: binary('prometheus'),
        args: [
          `--config.file=${configFile}`,
          `--web.listen-address=127.0.0.1:${o.ports.prometheus}`,
          `--storage.tsdb.path=${path.join(o.dir, 'data')}`,
          '--storage.tsdb.retention.time=2d',
          '--web.enable-lifecycle',
        ],
        ports: [o.ports.prometheus],
      };
    },
    ready: () => httpOk(`http://127.0.0.1:${o.ports.prometheus}/-/ready`),
    version: () => versionOf(binary('prometheus')),
  };
}

export function alertmanagerComponent(o: { dir: string; ports: Ports; monitoring: MonitoringConfig }): LocalComponent {
  const process = new ManagedProcess('alertmanager', o.dir);
  const configFile = path.join(o.dir, 'alertmanager.yml');
  return {
    name: 'alertmanager',
    process,
    readyTimeoutMs: 60_000,
    hint: 'Alertmanager did not answer on /-/ready.',
    ports: () => [o.ports.alertmanager],
    async prepare() {
      await mkdir(path.join(o.dir, 'data'), { recursive: true });
      await writeFile(configFile, alertmanagerConfig(o.monitoring, notificationLogUrl(o.ports)));
    },
    async launch() {
      return {
        command: binary('alertmanager'),
        args: [
          `--config.file=${configFile}`,
          `--web.listen-address=127.0.0.1:${o.ports.alertmanager}`,
          `--storage.path=${path.join(o.dir, 'data')}`,
          // One instance: no gossip port to open.
          '--cluster.listen-address=',
        ],
        ports: [o.ports.alertmanager],
      };
    },
    ready: () => httpOk(`http://127.0.0.1:${o.ports.alertmanager}/-/ready`),
    version: () => versionOf(binary('alertmanager')),
  };
}
