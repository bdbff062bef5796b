import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { UsageError } from '../base/errors.ts';
import { ConfigSchema, type Config } from './schema.ts';

/** Loads and validates the config file; every problem is listed at once with its path. */
export async function loadConfig(file: string | undefined): Promise<{ config: Config; source: string | undefined }> {
  if (!file) return { config: ConfigSchema.parse({}), source: undefined };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read config file ${file}: ${(err as Error).message}`, {
      fix: 'Check the path given to --config.',
    });
  }
  return { config: parseConfig(text, file), source: file };
}

export function parseConfig(text: string, file = 'config'): Config {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new UsageError(`config file ${file} is not valid YAML`, {
      fix: 'Fix these problems:\n' + doc.errors.map((e) => `  - ${e.message.split('\n')[0]}`).join('\n'),
    });
  }
  const result = ConfigSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((i) => `  - ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new UsageError(`config file ${file} has ${problems.length} problem${problems.length > 1 ? 's' : ''}`, {
      fix: 'Fix these problems:\n' + problems.join('\n'),
    });
  }
  return result.data;
}

/** The state directory: SPEEDLAYER_HOME > config `home` > ~/.speedlayer. */
export function resolveHome(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.SPEEDLAYER_HOME || config.home || path.join(os.homedir(), '.speedlayer');
  return path.resolve(raw.startsWith('~') ? path.join(os.homedir(), raw.slice(1)) : raw);
}
