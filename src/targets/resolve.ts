import { execa } from 'execa';
import { UsageError } from '../base/errors.ts';
import { TARGET_NAMES, type TargetName } from '../config/targets.ts';

export interface TargetChoice {
  name: TargetName;
  reason: string;
}

const EITHER = TARGET_NAMES.map((n) => `--target ${n}`).join(' or ');

function parseTarget(value: string, where: string): TargetName {
  const name = TARGET_NAMES.find((n) => n === value);
  if (name) return name;
  throw new UsageError(`unknown target '${value}' (from ${where})`, { fix: `Use ${EITHER}.` });
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
    throw new UsageError(`${up.length === 2 ? 'both ' : ''}a ${up.join(' and a ')} stack exist`, { fix: `Say which one with ${EITHER}.` });
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
