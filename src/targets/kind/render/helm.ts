import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import type { KindConfig } from '../../../config/kind.ts';
import { CHARTS, type ChartPin } from '../versions.ts';

export interface HelmRelease {
  name: string;
  pin: ChartPin;
  /** Absolute path of the values file in manifests/. */
  valuesPath: string;
  /** Values that follow the config (the job namespace), passed with --set. */
  sets: string[];
}

export function helmReleases(config: KindConfig, manifestsDir: string, pathApi: { join(...p: string[]): string }): HelmRelease[] {
  const release = (pin: ChartPin, sets: string[] = []): HelmRelease => ({
    name: pin.release,
    pin,
    valuesPath: pathApi.join(manifestsDir, pin.valuesFile),
    sets,
  });
  return [
    release(CHARTS.sparkOperator, [`spark.jobNamespaces[0]=${config.namespace}`]),
    release(CHARTS.strimzi),
    release(CHARTS.clickhouseOperator),
  ];
}

/** `helm repo add` (HTTP repos only) and `helm upgrade --install` for one release. */
export function helmCommands(r: HelmRelease, config: KindConfig, kubeContext: string): string[][] {
  const commands: string[][] = [];
  if (r.pin.repo) commands.push(['helm', 'repo', 'add', r.pin.repo.name, r.pin.repo.url, '--force-update']);
  commands.push([
    'helm', 'upgrade', '--install', r.name, r.pin.chart,
    '--version', r.pin.version,
    '--namespace', config.namespace,
    '--create-namespace',
    '--kube-context', kubeContext,
    '--values', r.valuesPath,
    ...r.sets.flatMap((s) => ['--set', s]),
    // --wait: the operator's Deployments are Available before the next step.
    '--wait',
    '--timeout', `${config.readyTimeoutSeconds}s`,
  ]);
  return commands;
}

/** The parsed values file (read as text, so CRLF checkouts on Windows parse the same). */
export function readValues(valuesPath: string): Record<string, any> {
  return (YAML.parse(readFileSync(valuesPath, 'utf8')) ?? {}) as Record<string, any>;
}
