// The layers of src/, bottom first: a folder may import its own layer and the ones below, never above.
// .dependency-cruiser.cjs turns this table into rules; scripts/architecture.mjs draws it into
// docs/architecture.md. Edit it here only.
const LAYERS = [
  { name: 'ground floor', folders: { base: 'errors with their fix, the status display, the step runner, shared stack shapes' } },
  { name: 'contract', folders: { contract: 'the shared vocabulary: pipeline.json, event schema, topics, tables, queries, job protocol' } },
  { name: 'config', folders: { config: 'the config file: zod schema of every section, loading' } },
  { name: 'clients', folders: { clients: 'Kafka (kafkajs) and ClickHouse (@clickhouse/client) helpers' } },
  { name: 'model', folders: { model: 'the ground-truth model: an independent implementation of the processing rules' } },
  {
    name: 'generator and stack',
    folders: {
      loadgen: 'the event generator (seeded user journeys) and the paced producer',
      stack: 'the Target interface and the setup steps every target shares',
    },
  },
  {
    name: 'targets',
    folders: {
      'targets/local': 'local processes: supervisor, Kafka, ClickHouse (server or chDB), the job',
      'targets/kind': 'a Kubernetes cluster (kind, Docker Desktop): Helm, operators, SparkApplication',
    },
  },
  { name: 'target registry', folders: { targets: 'the table of targets and how one is chosen' } },
  { name: 'load test', folders: { loadtest: 'the load-test engine, its checks, the ground-truth comparison and the `--html` report' } },
  { name: 'commands', folders: { commands: 'one declaration per command, their context and rendering' } },
  { name: 'entry point', folders: { cli: 'the program: flags, config, target, errors to exit codes' } },
];

/** A regex matching the files of a folder of src/; 'targets' is only the files directly in it. */
function folderPath(folder) {
  return folder === 'targets' ? '^src/targets/[^/]+$' : `^src/${folder}/`;
}

module.exports = { LAYERS, folderPath };
