import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LocalConfig } from '../../config/schema.ts';

/** What `up` decided once and every later command must agree on: ports and the generated password. */
export interface LocalStackState {
  target: 'local';
  createdAt: string;
  ports: LocalConfig['ports'];
  clickhouse: {
    mode: 'server' | 'embedded';
    /** The writer (the job, migrations). */
    user: string;
    password: string;
    /** The read-only dashboard user; absent in states written before it existed. */
    dashboardUser?: string;
    dashboardPassword?: string;
    binary?: string;
  };
}

export async function readStackState(file: string): Promise<LocalStackState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LocalStackState;
  } catch {
    return undefined;
  }
}

export async function writeStackState(file: string, state: LocalStackState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(state, null, 2), { mode: 0o600 });
}

export async function removeStackState(file: string): Promise<void> {
  await rm(file, { force: true });
}

export function newPassword(): string {
  return randomBytes(18).toString('base64url');
}
