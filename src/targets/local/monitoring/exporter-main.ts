// The exporter as a process: `node --import tsx exporter-main.ts <options.json>` (a supervised local component).
import { readFile } from 'node:fs/promises';
import { startExporter, type ExporterOptions } from './exporter.ts';

const options = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as ExporterOptions;
options.clickhouse.password = process.env.SPEEDLAYER_CLICKHOUSE_PASSWORD ?? '';
const exporter = await startExporter(options);
console.log(`speedlayer exporter listening on 127.0.0.1:${options.port}`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void exporter.close().finally(() => process.exit(0));
  });
}
