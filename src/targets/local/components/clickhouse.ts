import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clickhouseClient, clickhouseVersion } from '../../../clients/clickhouse.ts';
import type { LocalConfig } from '../../../config/schema.ts';
import { pipeline, type DashboardProfile } from '../../../contract/index.ts';
import { embeddedClickHouseCommand, ensureChdbEnv } from '../clickhouse/python-env.ts';
import type { LocalStackState } from '../stack-state.ts';
import { ManagedProcess } from '../supervisor.ts';
import type { LocalComponent } from './component.ts';

export interface ClickHouseComponentOptions {
  dir: string;
  cacheDir: string;
  ports: LocalConfig['ports'];
  clickhouse: LocalStackState['clickhouse'];
  database: string;
}

/**
 * A real `clickhouse server` when a binary was found, otherwise the ClickHouse engine (chDB)
 * behind the partial HTTP front in ../clickhouse/. Both listen on 127.0.0.1 only.
 */
export function clickhouseComponent(o: ClickHouseComponentOptions): LocalComponent {
  const process = new ManagedProcess('clickhouse', o.dir);
  const dataDir = path.join(o.dir, 'data');
  const endpoint = {
    url: `http://127.0.0.1:${o.ports.clickhouse}`,
    username: o.clickhouse.user,
    password: o.clickhouse.password,
    database: 'default',
  };
  let python = '';
  return {
    name: 'clickhouse',
    process,
    readyTimeoutMs: 60_000,
    hint: 'ClickHouse did not answer /ping.',
    ports: () => (o.clickhouse.mode === 'server' ? [o.ports.clickhouse, o.ports.clickhouseTcp] : [o.ports.clickhouse]),
    async prepare(report) {
      await mkdir(dataDir, { recursive: true });
      if (o.clickhouse.mode === 'embedded') {
        python = (await ensureChdbEnv({ cacheDir: o.cacheDir, onProgress: report })).python;
      } else {
        await writeFile(path.join(o.dir, 'config.xml'), serverConfigXml(o, dataDir));
      }
    },
    async launch() {
      if (o.clickhouse.mode === 'embedded') {
        const cmd = embeddedClickHouseCommand({
          python,
          host: '127.0.0.1',
          port: o.ports.clickhouse,
          dataDir,
          user: o.clickhouse.user,
          password: o.clickhouse.password,
          ...(o.clickhouse.dashboardUser && o.clickhouse.dashboardPassword
            ? { dashboard: { user: o.clickhouse.dashboardUser, password: o.clickhouse.dashboardPassword, profile: pipeline.clickhouse.dashboardProfile, cacheMs: pipeline.clickhouse.dashboardCacheMs } }
            : {}),
        });
        return { ...cmd, ports: [o.ports.clickhouse] };
      }
      return {
        command: o.clickhouse.binary ?? 'clickhouse',
        args: ['server', `--config-file=${path.join(o.dir, 'config.xml')}`],
        ports: [o.ports.clickhouse, o.ports.clickhouseTcp],
      };
    },
    async ready() {
      const client = clickhouseClient(endpoint);
      try {
        return (await client.ping()).success;
      } finally {
        await client.close();
      }
    },
    async version() {
      const client = clickhouseClient(endpoint);
      try {
        const v = await clickhouseVersion(client);
        return o.clickhouse.mode === 'embedded' ? `${v} (chDB embedded)` : v;
      } finally {
        await client.close();
      }
    },
  };
}

function xmlEscape(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * The dashboard profile as ClickHouse's users.xml writes it: the values, and the same values as
 * constraints (max; min for priority, where a larger number is a lower priority), read-only but
 * allowed to tighten settings (readonly 2, itself constant).
 */
export function dashboardProfileXml(profile: DashboardProfile): string {
  const bound = (name: keyof DashboardProfile) => (name === 'priority' ? 'min' : 'max');
  const names = Object.keys(profile) as Array<keyof DashboardProfile>;
  const values = names.map((k) => `<${k}>${profile[k]}</${k}>`).join('');
  const constraints = names.map((k) => `<${k}><${bound(k)}>${profile[k]}</${bound(k)}></${k}>`).join('');
  return `<dashboard><readonly>2</readonly>${values}<constraints>${constraints}<readonly><const/></readonly></constraints></dashboard>`;
}

/** Minimal server config: loopback only, data under the state dir, the writer and dashboard users with generated passwords. */
export function serverConfigXml(o: ClickHouseComponentOptions, dataDir: string): string {
  const sha = createHash('sha256').update(o.clickhouse.password).digest('hex');
  const dashboard =
    o.clickhouse.dashboardUser && o.clickhouse.dashboardPassword
      ? `
    <${o.clickhouse.dashboardUser}>
      <password_sha256_hex>${createHash('sha256').update(o.clickhouse.dashboardPassword).digest('hex')}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>dashboard</profile>
      <quota>default</quota>
    </${o.clickhouse.dashboardUser}>`
      : '';
  const p = (sub: string) => xmlEscape(path.join(dataDir, sub) + '/');
  return `<clickhouse>
  <logger><level>warning</level><console>1</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${o.ports.clickhouse}</http_port>
  <tcp_port>${o.ports.clickhouseTcp}</tcp_port>
  <path>${p('')}</path>
  <tmp_path>${p('tmp')}</tmp_path>
  <user_files_path>${p('user_files')}</user_files_path>
  <format_schema_path>${p('format_schemas')}</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <max_server_memory_usage_to_ram_ratio>0.5</max_server_memory_usage_to_ram_ratio>
  <users>
    <${o.clickhouse.user}>
      <password_sha256_hex>${sha}</password_sha256_hex>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <access_management>1</access_management>
    </${o.clickhouse.user}>${dashboard}
  </users>
  <profiles><default/>${dashboardProfileXml(pipeline.clickhouse.dashboardProfile)}</profiles>
  <quotas><default/></quotas>
</clickhouse>
`;
}
