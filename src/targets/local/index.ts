import { rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { WebhookNotification } from '../../clients/alertmanager.ts';
import { SpeedlayerError } from '../../base/errors.ts';
import { partitionOffsets } from '../../clients/kafka.ts';
import { pipeline } from '../../contract/index.ts';
import { applyClickHouseSchemaStep } from '../../stack/clickhouse-schema.ts';
import { createKafkaTopicsStep } from '../../stack/kafka-topics.ts';
import type { Step } from '../../base/step.ts';
import type { ComponentState, DoctorCheck, StackEndpoints } from '../../base/stack.ts';
import type { JobProgress } from '../../contract/job-progress.ts';
import type { DownOptions, Target, TargetContext } from '../../stack/target.ts';
import { clickhouseComponent } from './components/clickhouse.ts';
import type { LocalComponent } from './components/component.ts';
import { kafkaComponent } from './components/kafka.ts';
import { buildSparkJob, readJobProgress, sparkJobComponent } from './components/spark-job.ts';
import { discardCheckpoint, readCheckpoint, recordsBetween } from './checkpoint.ts';
import { alertmanagerComponent, exporterComponent, prometheusComponent } from './monitoring/components.ts';
import { readNotificationLines } from './monitoring/notification-log.ts';
import { diskCheck, javaCheck, mavenCheck, memoryCheck, monitoringChecks, portChecks, pythonCheck } from './doctor.ts';
import { localPaths } from './paths.ts';
import { newPassword, readStackState, removeStackState, writeStackState, type LocalStackState } from './stack-state.ts';
import { startComponentStep, stopComponentStep } from './steps/start-component.ts';

async function findClickHouseBinary(configured: string | undefined): Promise<string | undefined> {
  const candidate = configured ?? 'clickhouse';
  try {
    await execa(candidate, ['--version'], { timeout: 10_000 });
    return candidate;
  } catch {
    if (configured) throw new SpeedlayerError(`the configured ClickHouse binary '${configured}' does not run`, { fix: 'Fix local.clickhouse.binary in the config file, or remove it to use the embedded engine.' });
    return undefined;
  }
}

/** Everything as local processes: Kafka (KRaft), ClickHouse (server or embedded chDB), the Spark job in local mode. */
export function createLocalTarget(ctx: TargetContext): Target {
  const paths = localPaths(ctx.home, ctx.env);
  const cfg = ctx.config.local;
  const monitoring = ctx.config.monitoring;
  const startedThisRun: LocalComponent[] = [];

  /** The stack state: the stored one when a stack exists (ports and password stay stable), else a new one. */
  async function state(create: boolean): Promise<LocalStackState | undefined> {
    const existing = await readStackState(paths.stackFile);
    // A stack made before a port was added to the config gets that port from the config.
    if (existing) return { ...existing, ports: { ...cfg.ports, ...existing.ports } };
    if (!create) return undefined;
    const binary = cfg.clickhouse.mode === 'embedded' ? undefined : await findClickHouseBinary(cfg.clickhouse.binary);
    if (cfg.clickhouse.mode === 'server' && !binary) {
      throw new SpeedlayerError('local.clickhouse.mode is "server" but no clickhouse binary was found', {
        fix: 'Install ClickHouse (https://clickhouse.com/docs/install) or set local.clickhouse.mode: auto.',
      });
    }
    return {
      target: 'local',
      createdAt: new Date().toISOString(),
      ports: cfg.ports,
      clickhouse: {
        mode: binary ? 'server' : 'embedded',
        user: pipeline.clickhouse.writerUser,
        password: newPassword(),
        dashboardUser: pipeline.clickhouse.dashboardUser,
        dashboardPassword: newPassword(),
        ...(binary ? { binary } : {}),
      },
    };
  }

  function endpointsOf(s: LocalStackState): StackEndpoints {
    return {
      kafka: { brokers: [`127.0.0.1:${s.ports.kafka}`] },
      clickhouse: {
        url: `http://127.0.0.1:${s.ports.clickhouse}`,
        username: s.clickhouse.user,
        password: s.clickhouse.password,
        database: pipeline.clickhouse.database,
        ...(s.clickhouse.dashboardUser && s.clickhouse.dashboardPassword
          ? { dashboard: { username: s.clickhouse.dashboardUser, password: s.clickhouse.dashboardPassword } }
          : {}),
      },
      ...(monitoring.enabled ? { alertmanager: { url: `http://127.0.0.1:${s.ports.alertmanager}` }, prometheus: { url: `http://127.0.0.1:${s.ports.prometheus}` } } : {}),
    };
  }

  async function endpoints(): Promise<StackEndpoints> {
    const s = await state(false);
    if (!s) {
      throw new SpeedlayerError(`no local stack found in ${paths.stateDir}`, { fix: "Start it with 'speedlayer up --target local'." });
    }
    return endpointsOf(s);
  }

  function components(s: LocalStackState) {
    return {
      kafka: kafkaComponent({ dir: paths.kafkaDir, cacheDir: paths.cacheDir, ports: s.ports, heapMb: cfg.kafka.heapMb }),
      clickhouse: clickhouseComponent({ dir: paths.clickhouseDir, cacheDir: paths.cacheDir, ports: s.ports, clickhouse: s.clickhouse, database: pipeline.clickhouse.database }),
      sparkJob: sparkJobComponent({
        dir: paths.sparkDir,
        checkpointDir: paths.checkpointDir,
        progressFile: paths.sparkProgressFile,
        tmpDir: paths.sparkTmpDir,
        uiPort: s.ports.sparkUi,
        metricsPort: s.ports.jobMetrics,
        driverMemoryMb: cfg.spark.driverMemoryMb,
        cores: cfg.spark.cores,
        restartPolicy: {
          maxRestarts: cfg.spark.restart.maxRestarts,
          initialBackoffMs: cfg.spark.restart.initialBackoffSeconds * 1000,
          maxBackoffMs: cfg.spark.restart.maxBackoffSeconds * 1000,
          stableAfterMs: cfg.spark.restart.stableAfterSeconds * 1000,
        },
        endpoints: async () => endpointsOf(s),
      }),
      exporter: exporterComponent({
        dir: paths.monitoringDir,
        ports: s.ports,
        monitoring,
        sparkDir: paths.sparkDir,
        progressFile: paths.sparkProgressFile,
        clickhouseDataDir: paths.clickhouseDir,
        notificationsFile: paths.notificationsFile,
        endpoints: async () => endpointsOf(s),
      }),
      prometheus: prometheusComponent({ dir: path.join(paths.monitoringDir, 'prometheus'), ports: s.ports, monitoring }),
      alertmanager: alertmanagerComponent({ dir: path.join(paths.monitoringDir, 'alertmanager'), ports: s.ports, monitoring }),
    };
  }

  /** The monitoring components, in start order (none when monitoring.enabled is false). */
  function monitoringOf(c: ReturnType<typeof components>): LocalComponent[] {
    return monitoring.enabled ? [c.exporter, c.alertmanager, c.prometheus] : [];
  }

  async function doctorFor(s: LocalStackState): Promise<DoctorCheck[]> {
    const c = components(s);
    const checks = [await javaCheck(), await mavenCheck()];
    if (s.clickhouse.mode === 'embedded') checks.push(await pythonCheck());
    const portKeys = Object.fromEntries(Object.entries(s.ports).map(([key, port]) => [port, key]));
    if (monitoring.enabled) checks.push(...(await monitoringChecks()));
    checks.push(...(await portChecks([c.kafka, c.clickhouse, c.sparkJob, ...monitoringOf(c)], portKeys)));
    checks.push(await diskCheck(paths.home), memoryCheck(cfg.kafka.heapMb + cfg.spark.driverMemoryMb + 1536));
    return checks;
  }

  const onStarted = (c: LocalComponent) => startedThisRun.push(c);

  return {
    name: 'local',

    async doctor() {
      return doctorFor((await state(false)) ?? (await state(true))!);
    },

    async upSteps(): Promise<Step[]> {
      const s = (await state(true))!;
      const c = components(s);
      const preflight: Step = {
        name: 'Check prerequisites',
        async execute() {
          const failed = (await doctorFor(s)).filter((d) => !d.ok);
          if (failed.length > 0) {
            throw new SpeedlayerError(`${failed.length} prerequisite${failed.length > 1 ? 's' : ''} missing: ${failed.map((f) => `${f.name} (${f.found})`).join('; ')}`, {
              fix: failed.map((f) => f.fix).join('\n'),
            });
          }
          await writeStackState(paths.stackFile, s);
          return `ClickHouse: ${s.clickhouse.mode === 'server' ? `server (${s.clickhouse.binary})` : 'embedded chDB engine'}`;
        },
      };
      return [
        preflight,
        startComponentStep(c.kafka, { label: 'Start Kafka (KRaft, 1 node)', onStarted }),
        startComponentStep(c.clickhouse, { label: `Start ClickHouse (${s.clickhouse.mode})`, onStarted }),
        createKafkaTopicsStep(endpoints),
        applyClickHouseSchemaStep(endpoints, ctx.config.retentionDays),
        ...monitoringOf(c).map((m) => startComponentStep(m, { label: `Start ${m.name} (monitoring)`, onStarted })),
      ];
    },

    async undoUp() {
      for (const c of startedThisRun.reverse()) await c.process.stop();
      startedThisRun.length = 0;
    },

    async submitSteps(): Promise<Step[]> {
      const s = await state(false);
      if (!s) throw new SpeedlayerError('the local stack is not up', { fix: "Run 'speedlayer up' first." });
      const c = components(s);
      return [
        {
          name: 'Check the stack is up',
          async execute() {
            const down = [];
            for (const comp of [c.kafka, c.clickhouse]) if (!(await comp.process.running())) down.push(comp.name);
            if (down.length) throw new SpeedlayerError(`${down.join(' and ')} not running`, { fix: "Run 'speedlayer up' first." });
          },
        },
        {
          name: 'Build the Spark job',
          async execute({ status }) {
            return (await buildSparkJob((t) => status.update(t))) ? 'built' : 'up to date';
          },
        },
        startComponentStep(c.sparkJob, { label: 'Start the streaming job (local[*], 2 s trigger)', onStarted }),
      ];
    },

    async downSteps(opts: DownOptions): Promise<Step[]> {
      const s = await state(false);
      const steps: Step[] = [];
      if (s) {
        const c = components(s);
        // Monitoring first: its alerts about the stopping stack would only be noise. Stopped even
        // when monitoring.enabled was turned off after they started.
        for (const m of [c.prometheus, c.alertmanager, c.exporter]) steps.push(stopComponentStep(m, `Stop ${m.name}`));
        steps.push(stopComponentStep(c.sparkJob, 'Stop the streaming job'), stopComponentStep(c.clickhouse, 'Stop ClickHouse'), stopComponentStep(c.kafka, 'Stop Kafka'));
      }
      if (opts.purge) {
        steps.push({
          name: 'Delete data and checkpoints',
          async execute() {
            await removeStackState(paths.stackFile);
            await rm(paths.stateDir, { recursive: true, force: true });
            return `removed ${paths.stateDir}`;
          },
        });
      }
      return steps;
    },

    endpoints,

    async components(): Promise<ComponentState[]> {
      const s = await state(false);
      if (!s) return [];
      const out: ComponentState[] = [];
      const c = components(s);
      for (const comp of [c.kafka, c.clickhouse, c.sparkJob, ...monitoringOf(c)]) {
        const rec = await comp.process.running();
        out.push({
          name: comp.name,
          state: rec ? 'up' : 'down',
          pid: rec?.pid,
          ports: comp.ports(),
          version: rec ? await comp.version().catch(() => undefined) : undefined,
          detail: rec ? await comp.whileUp?.() : [await comp.whyDown?.(), `log: ${comp.process.logFile}`].filter(Boolean).join('; '),
        });
      }
      return out;
    },

    async jobProgress(): Promise<JobProgress | undefined> {
      return readJobProgress(paths.sparkProgressFile);
    },

    async logFiles() {
      const s = await state(false);
      if (!s) return {};
      const c = components(s);
      return Object.fromEntries([c.kafka, c.clickhouse, c.sparkJob, ...monitoringOf(c)].map((comp) => [comp.name, comp.process.logFile]));
    },

    async alertNotifications() {
      // A line cut short (the exporter stopped while appending) is skipped, not fatal to `alerts`.
      return (await readNotificationLines(paths.notificationsFile)).flatMap((line) => {
        try {
          return [JSON.parse(line) as WebhookNotification];
        } catch {
          return [];
        }
      });
    },

    async isUp() {
      return (await readStackState(paths.stackFile)) !== undefined;
    },

    async checkpointReset() {
      const s = await state(false);
      if (!s) throw new SpeedlayerError('the local stack is not up', { fix: "Run 'speedlayer up' first." });
      const cp = await readCheckpoint(paths.checkpointDir);
      const eventsTopic = pipeline.kafka.topics.events.name;
      const offsets = await partitionOffsets(endpointsOf(s).kafka, eventsTopic);
      const inKafka = recordsBetween(undefined, offsets);
      const unprocessed = cp?.offsets ? recordsBetween(cp.offsets[eventsTopic], offsets) : inKafka;
      const retentionH = Number(pipeline.kafka.topics.events.config['retention.ms']) / 3_600_000;
      const description = [
        cp
          ? `The job's checkpoint ${cp.path} ${cp.lastBatch === undefined ? 'has no batch yet' : `ends at batch ${cp.lastBatch}`}${cp.unreadable ? ` (unreadable: ${cp.unreadable})` : ''}.`
          : `There is no checkpoint at ${paths.checkpointDir}.`,
        `Resetting it discards the job's state: open sessions, the tiers built from purchases, the event ids it deduplicates by.`,
        `The new job starts from the earliest offsets Kafka still holds: ${inKafka.toLocaleString('en-US')} records of ${eventsTopic} will be read again`,
        `(${(inKafka - unprocessed).toLocaleString('en-US')} already processed, ${unprocessed.toLocaleString('en-US')} not yet). Replayed records are stored again:`,
        `events keeps one row per event_id once ClickHouse merges, but sessions, late_events, dead_letters and the per-minute rollups count them twice.`,
        `Purchases older than Kafka's retention (${retentionH} h) are gone from the tiers. The old checkpoint is kept, moved aside.`,
      ].join('\n');
      return {
        description,
        async reset() {
          await components(s).sparkJob.process.stop();
          if (!cp) return 'no checkpoint to discard';
          return `checkpoint moved to ${await discardCheckpoint(paths.checkpointDir)}`;
        },
      };
    },
  };
}
