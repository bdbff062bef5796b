// The exporter as a process: `node --import tsx exporter-main.ts <options.json>` (a supervised local component).
import { readFile } from 'node:fs/promises';
import { EXPORTER_PASSWORD_ENV, startExporter, type ExporterOptions } from './exporter.ts';

const options = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as ExporterOptions;
options.clickhouse.password = process.env[EXPORTER_PASSWORD_ENV.writer] ?? '';
if (options.dashboardUser) options.clickhouse.dashboard = { username: options.dashboardUser, password: process.env[EXPORTER_PASSWORD_ENV.dashboard] ?? '' };
const exporter = await startExporter(options);
console.log(`speedlayer exporter listening on 127.0.0.1:${options.port}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void exporter.close().finally(() => process.exit(0));
  });
}
