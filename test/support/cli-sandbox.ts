import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { ClickHouseClient } from '@clickhouse/client';
import { clickhouseClient } from '../../src/clients/clickhouse.ts';
import { pipeline, PROJECT_ROOT } from '../../src/contract/index.ts';
import { localPaths } from '../../src/targets/local/paths.ts';
import { readStackState } from '../../src/targets/local/stack-state.ts';
import { freePort } from './free-port.ts';

/** Runs the real CLI as a user would (`node bin/speedlayer.js ...`) against one isolated home. */
export interface CliSandbox {
  home: string;
  configFile: string;
  ports: Record<'kafka' | 'kafkaController' | 'clickhouse' | 'clickhouseTcp' | 'sparkUi' | 'jobMetrics' | 'exporter' | 'prometheus' | 'alertmanager', number>;
  run(args: string[], opts?: { reject?: boolean; timeoutMs?: number; env?: Record<string, string> }): Promise<{ stdout: string; stderr: string; exitCode?: number }>;
  /** A client of the sandbox stack's ClickHouse (ports and password from its stack state). */
  clickhouse(): Promise<ClickHouseClient>;
}

export async function cliSandbox(extraConfig = '', opts: { sparkCores?: number } = {}): Promise<CliSandbox> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'speedlayer-test-'));
  const ports = {
    kafka: await freePort(),
    kafkaController: await freePort(),
    clickhouse: await freePort(),
    clickhouseTcp: await freePort(),
    sparkUi: await freePort(),
    jobMetrics: await freePort(),
    exporter: await freePort(),
    prometheus: await freePort(),
    alertmanager: await freePort(),
  };
  const configFile = path.join(home, 'speedlayer.yaml');
  await writeFile(
    configFile,
    [
      `home: ${home}`,
      'local:',
      '  ports:',
      ...Object.entries(ports).map(([k, v]) => `    ${k}: ${v}`),
      '  kafka: { heapMb: 768 }',
      `  spark: { driverMemoryMb: 1536, cores: ${opts.sparkCores ?? 2} }`,
      extraConfig,
    ].join('\n'),
  );
  const env = {
    ...process.env,
    SPEEDLAYER_HOME: home,
    SPEEDLAYER_CACHE: process.env.SPEEDLAYER_CACHE ?? path.join(PROJECT_ROOT, '.speedlayer', 'cache'),
    FORCE_COLOR: '0',
  };
  return {
    home,
    configFile,
    ports,
    async clickhouse() {
      const state = await readStackState(localPaths(home).stackFile);
      if (!state) throw new Error(`no local stack in ${home}`);
      return clickhouseClient({
        url: `http://127.0.0.1:${state.ports.clickhouse}`,
        username: state.clickhouse.user,
        password: state.clickhouse.password,
        database: pipeline.clickhouse.database,
      });
    },
    run: (args, opts = {}) =>
      execa('node', [path.join(PROJECT_ROOT, 'bin', 'speedlayer.js'), '--config', configFile, '--target', 'local', ...args], {
        env: { ...env, ...opts.env },
        reject: opts.reject ?? true,
        timeout: opts.timeoutMs ?? 600_000,
        stdin: 'ignore',
      }),
  };
}
