import { execa } from 'execa';
import { UsageError } from '../base/errors.ts';
import type { TargetName } from '../stack/target.ts';

export interface TargetChoice {
  name: TargetName;
  reason: string;
}

function parseTarget(value: string, where: string): TargetName {
  if (value === 'local' || value === 'kind') return value;
  throw new UsageError(`unknown target '${value}' (from ${where})`, { fix: 'Use --target local or --target kind.' });
}

export interface ResolveInputs {
  flag: string | undefined;
  env: NodeJS.ProcessEnv;
  configTarget: string | undefined;
  /** Targets whose stack already exists. */
  upTargets: () => Promise<TargetName[]>;
  dockerAnswers: () => Promise<boolean>;
}

/** flag > SPEEDLAYER_TARGET > config file > the stack that is already up > auto (kind if Docker answers, else local). */
export async function resolveTarget(i: ResolveInputs): Promise<TargetChoice> {
  if (i.flag) return { name: parseTarget(i.flag, '--target'), reason: '--target flag' };
  if (i.env.SPEEDLAYER_TARGET) return { name: parseTarget(i.env.SPEEDLAYER_TARGET, 'SPEEDLAYER_TARGET'), reason: 'SPEEDLAYER_TARGET environment variable' };
  if (i.configTarget) return { name: parseTarget(i.configTarget, 'config file'), reason: 'config file' };
  const up = await i.upTargets();
  if (up.length === 1) return { name: up[0]!, reason: 'the stack that is already up' };
  if (up.length > 1) {
    throw new UsageError('both a local and a kind stack exist', { fix: 'Say which one with --target local or --target kind.' });
  }
  return (await i.dockerAnswers())
    ? { name: 'kind', reason: 'auto: a Docker daemon answers' }
    : { name: 'local', reason: 'auto: no Docker daemon answers' };
}

export async function dockerDaemonAnswers(): Promise<boolean> {
  try {
    await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 8000 });
    return true;
  } catch {
    return false;
  }
}
