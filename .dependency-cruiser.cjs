// Architecture rules, checked by `npm test` (scripts/architecture.mjs). The layer table is in
// scripts/layers.cjs; the rules below are generated from it, plus the boundaries it cannot express.
const { LAYERS, folderPath } = require('./scripts/layers.cjs');

const either = (folders) => folders.map(folderPath).join('|');
const upward = LAYERS.slice(0, -1).map((layer, i) => {
  const above = LAYERS.slice(i + 1).flatMap((l) => Object.keys(l.folders));
  return {
    name: `no-upward-from-${layer.name.replaceAll(' ', '-')}`,
    comment: `${layer.name} may not import a higher layer (${above.join(', ')})`,
    severity: 'error',
    from: { path: either(Object.keys(layer.folders)) },
    to: { path: either(above) },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'folders import each other in one direction only',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-file-cycles',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...upward,
    {
      name: 'local-not-kind',
      comment: 'the targets are siblings that never import each other',
      severity: 'error',
      from: { path: '^src/targets/local/' },
      to: { path: '^src/targets/kind/' },
    },
    {
      name: 'kind-not-local',
      comment: 'the targets are siblings that never import each other',
      severity: 'error',
      from: { path: '^src/targets/kind/' },
      to: { path: '^src/targets/local/' },
    },
    {
      name: 'clients-only-below',
      comment: 'clients know the endpoints and the contract, nothing of targets, display or commands',
      severity: 'error',
      from: { path: '^src/clients/' },
      to: { path: '^src/', pathNot: '^src/(base|contract|config|clients)/' },
    },
    {
      name: 'contract-imports-nothing',
      comment: 'the contract is read by everyone and reads nothing of the project',
      severity: 'error',
      from: { path: '^src/contract/' },
      to: { path: '^(src|test|scripts|bin)/', pathNot: '^src/contract/' },
    },
    {
      name: 'base-imports-nothing',
      comment: 'the ground floor imports nothing of the project',
      severity: 'error',
      from: { path: '^src/base/' },
      to: { path: '^(src|test|scripts|bin)/', pathNot: '^src/base/' },
    },
    {
      name: 'production-not-tests',
      comment: 'production code never imports tests, their support or the benchmarks',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    // type-only imports count: a type from a higher layer is still an upward dependency
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
  },
};
