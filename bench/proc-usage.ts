/**
 * CPU time and resident memory of the stack's components, read from /proc (Linux): each
 * component is the process group of the process its pid file names (the local target starts
 * every server detached, in a group of its own), so children count too.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export const COMPONENTS = ['job', 'kafka', 'clickhouse'] as const;
export type Component = (typeof COMPONENTS)[number];

const TICKS_PER_S = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const PAGE_BYTES = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;

export interface GroupUsage {
  cpuS: number;
  rssMiB: number;
}

export interface ProcessStat {
  pid: number;
  ppid: number;
  pgrp: number;
  cpuS: number;
  vsize: number;
  rssPages: number;
}

/**
 * CPU seconds (user + system, exited children not included) and RSS of every process in each group.
 * A child caught between posix_spawn (a vfork: it shares its parent's memory) and its exec reports
 * its parent's RSS; it is not counted again (same parent, same size and RSS).
 */
export async function groupUsage(groups: number[]): Promise<Map<number, GroupUsage>> {
  const wanted = new Set(groups);
  const members: ProcessStat[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = await readFile(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // Fields after "pid (comm)": the command may contain spaces and parentheses.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pgrp = Number(f[2]);
    if (!wanted.has(pgrp)) continue;
    members.push({ pid: Number(entry), ppid: Number(f[1]), pgrp, cpuS: (Number(f[11]) + Number(f[12])) / TICKS_PER_S, vsize: Number(f[20]), rssPages: Number(f[21]) });
  }
  return sumByGroup(members, groups);
}

/** Per group: CPU of every member; RSS of every member but a child that shares its parent's memory. */
export function sumByGroup(members: ProcessStat[], groups: number[], pageBytes = PAGE_BYTES): Map<number, GroupUsage> {
  const out = new Map<number, GroupUsage>(groups.map((g) => [g, { cpuS: 0, rssMiB: 0 }]));
  const byPid = new Map(members.map((m) => [m.pid, m]));
  for (const m of members) {
    const usage = out.get(m.pgrp);
    if (!usage) continue;
    usage.cpuS += m.cpuS;
    const parent = byPid.get(m.ppid);
    const sharesParentMemory = parent !== undefined && parent.vsize === m.vsize && parent.rssPages === m.rssPages;
    if (!sharesParentMemory) usage.rssMiB += (m.rssPages * pageBytes) / 1024 ** 2;
  }
  return out;
}

/** The pid of each component's group, from the local target's pid files under `stateDir`. */
export async function componentGroups(stateDir: string, job = { dir: 'spark', name: 'spark-job' }): Promise<Record<Component, number>> {
  const pid = async (dir: string, name: string) => (JSON.parse(await readFile(path.join(stateDir, dir, `${name}.pid.json`), 'utf8')) as { pid: number }).pid;
  return { job: await pid(job.dir, job.name), kafka: await pid('kafka', 'kafka'), clickhouse: await pid('clickhouse', 'clickhouse') };
}

export interface Sample {
  t: number;
  usage: Record<Component, GroupUsage>;
}

/** Samples every component once a second until stopped; figures over any window of the samples. */
export class UsageSampler {
  readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private groups: Record<Component, number>) {}

  /** Follows another group for a component (e.g. the job replaced by another job). */
  setGroup(c: Component, pgid: number): void {
    this.groups = { ...this.groups, [c]: pgid };
  }

  async sample(): Promise<Sample> {
    const u = await groupUsage(COMPONENTS.map((c) => this.groups[c]));
    const s = { t: Date.now(), usage: Object.fromEntries(COMPONENTS.map((c) => [c, u.get(this.groups[c])!])) as Record<Component, GroupUsage> };
    this.samples.push(s);
    return s;
  }

  private stopped = false;

  start(): void {
    const tick = async () => {
      await this.sample();
      // A stop() while the sample was read must not schedule another (the process would never exit).
      if (!this.stopped) this.timer = setTimeout(() => void tick(), 1000);
    };
    void tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Per component: CPU cores used on average in [from, to] and peak RSS, from the samples inside it. */
  window(from: number, to: number): Record<Component | 'total', { cores: number; cpuS: number; peakRssMiB: number }> {
    const inside = this.samples.filter((s) => s.t >= from && s.t <= to);
    const first = inside[0];
    const last = inside[inside.length - 1];
    const span = first && last ? (last.t - first.t) / 1000 : 0;
    const per = Object.fromEntries(
      COMPONENTS.map((c) => {
        const cpuS = first && last ? Math.max(0, last.usage[c].cpuS - first.usage[c].cpuS) : 0;
        return [c, { cores: span > 0 ? cpuS / span : 0, cpuS, peakRssMiB: Math.max(0, ...inside.map((s) => s.usage[c].rssMiB)) }];
      }),
    ) as Record<Component, { cores: number; cpuS: number; peakRssMiB: number }>;
    const peakTotal = Math.max(0, ...inside.map((s) => COMPONENTS.reduce((a, c) => a + s.usage[c].rssMiB, 0)));
    return {
      ...per,
      total: {
        cores: COMPONENTS.reduce((a, c) => a + per[c].cores, 0),
        cpuS: COMPONENTS.reduce((a, c) => a + per[c].cpuS, 0),
        peakRssMiB: peakTotal,
      },
    };
  }
}
