import { describe, expect, it } from 'vitest';
import { sumByGroup, type ProcessStat } from '../../../bench/proc-usage.ts';

const MiB = 1024 ** 2;
const proc = (p: Partial<ProcessStat> & Pick<ProcessStat, 'pid'>): ProcessStat => ({ ppid: 1, pgrp: 100, cpuS: 1, vsize: 0, rssPages: 0, ...p });

describe('sumByGroup', () => {
  const supervisor = proc({ pid: 100, vsize: 900 * MiB, rssPages: 45 });
  const jvm = proc({ pid: 101, ppid: 100, vsize: 5000 * MiB, rssPages: 1200 });

  it('adds up every process of a group, CPU and RSS', () => {
    const usage = sumByGroup([supervisor, jvm, proc({ pid: 300, pgrp: 300, rssPages: 7 })], [100], MiB).get(100);
    expect(usage).toEqual({ cpuS: 2, rssMiB: 1245 });
  });

  it('does not count again a child caught between vfork and exec, which reports its parent memory', () => {
    const spawning = proc({ pid: 102, ppid: 101, vsize: jvm.vsize, rssPages: jvm.rssPages });
    const chmod = proc({ pid: 103, ppid: 101, vsize: 8 * MiB, rssPages: 1 });
    const usage = sumByGroup([supervisor, jvm, spawning, chmod], [100], MiB).get(100);
    expect(usage).toEqual({ cpuS: 4, rssMiB: 1246 });
  });
});
