import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { nextSend, rememberingPartitioner, SendLead } from '../../src/loadgen/producer.ts';
import { Random } from '../../src/loadgen/random.ts';

function args(partitions: number, message: PartitionerArgs['message']): PartitionerArgs {
  return {
    topic: 'speedlayer.events',
    message,
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], offlineReplicas: [], partitionErrorCode: 0 })),
  };
}

describe('the load generator producer', () => {
  it("places every key where kafkajs' default partitioner does, asked once or again, whatever the partition count", () => {
    const remembering = rememberingPartitioner();
    const byDefault = Partitioners.DefaultPartitioner();
    const keys = Array.from({ length: 3000 }, (_, i) => `u${String(i).padStart(6, '0')}`);
    for (const round of [1, 2]) {
      for (const partitions of [6, 1, 3, 12]) {
        const got = keys.map((key) => remembering(args(partitions, { key, value: 'x' })));
        const expected = keys.map((key) => byDefault(args(partitions, { key, value: 'x' })));
        expect({ round, partitions, got }).toEqual({ round, partitions, got: expected });
      }
    }
  });

  it('keeps a partition the message names', () => {
    const remembering = rememberingPartitioner();
    remembering(args(6, { key: 'u000001', value: 'x' }));
    expect(remembering(args(6, { key: 'u000001', value: 'x', partition: 4 }))).toBe(4);
  });

  it('builds the same event ids from a seed as before its ids were built from a byte table', () => {
    const random = new Random(12345);
    expect([random.uuid(), random.uuid(), random.uuid()]).toEqual([
      'fa4e7bd1-8258-42c4-bfd3-75f2e3f8a03f',
      '794ec5dd-a5c7-49a7-b312-5334c0194710',
      'a1ed5936-00ae-4f0c-98b3-ef0990e696d7',
    ]);
  });

  it("paces sends a tick's share at a time, not the few records that fell due during the last send", () => {
    const at = { sent: 0, total: 600_000, rate: 10_000 };
    expect(nextSend({ ...at, elapsedMs: 0 })).toEqual({ records: 500 });
    // 10 ms later the next 100 are due; they wait for the next tick's share, due at 50 ms.
    expect(nextSend({ ...at, sent: 500, elapsedMs: 10 })).toEqual({ waitMs: 40 });
    expect(nextSend({ ...at, sent: 500, elapsedMs: 50 })).toEqual({ records: 500 });
    // Behind schedule: the catch-up goes out at most 2,000 records a request.
    expect(nextSend({ ...at, sent: 500, elapsedMs: 1_000 })).toEqual({ records: 2_000 });
    // A tick's share above 2,000 (the producer benchmark's 1M events/s) goes out 2,000 at a time, back to back.
    expect(nextSend({ sent: 0, total: 2_000_000, rate: 1_000_000, elapsedMs: 0 })).toEqual({ records: 2_000 });
    expect(nextSend({ sent: 2_000, total: 2_000_000, rate: 1_000_000, elapsedMs: 5 })).toEqual({ records: 2_000 });
    // The run's last records go out even when fewer than a tick's share.
    expect(nextSend({ ...at, total: 1_234, sent: 1_000, elapsedMs: 200 })).toEqual({ records: 234 });
    // A rate below one record a tick sends each record when it is due.
    expect(nextSend({ sent: 3, total: 10, rate: 5, elapsedMs: 560 })).toEqual({ waitMs: 190 });
    expect(nextSend({ sent: 3, total: 10, rate: 5, elapsedMs: 750 })).toEqual({ records: 1 });
  });

  /**
   * A 10 s run at 10,000 events/s whose every send takes sendMs from building to acknowledgement:
   * how many sends it made, and when the last one was acknowledged.
   */
  function simulateRun(sendMs: number, lead?: SendLead): { sends: number; lastAcknowledgedAtMs: number } {
    const rate = 10_000;
    const total = rate * 10;
    let elapsedMs = 0;
    let sent = 0;
    let sends = 0;
    while (sent < total) {
      const next = nextSend({ elapsedMs, sent, total, rate, leadMs: lead?.ms });
      if ('waitMs' in next) elapsedMs += next.waitMs;
      else {
        sent += next.records;
        sends++;
        elapsedMs += sendMs;
        lead?.took(sendMs);
      }
    }
    return { sends, lastAcknowledgedAtMs: elapsedMs };
  }

  it('keeps the rate with about 20 sends a second when each send takes 10 ms', () => {
    const { sends, lastAcknowledgedAtMs: elapsedMs } = simulateRun(10);
    expect(sends).toBeLessThanOrEqual(10 * 20 + 1);
    // The schedule: the last tick's share goes out at the start of the run's last tick.
    expect(elapsedMs).toBeGreaterThanOrEqual(10_000 - 50);
    expect(elapsedMs).toBeLessThanOrEqual(10_000);
  });

  it('has the last record acknowledged by the end of the run when sends take longer than the last tick', () => {
    // Without a lead, a 60 ms send started at the last tick is acknowledged past the 10 s: 9,99x events/s.
    expect(simulateRun(60).lastAcknowledgedAtMs).toBeGreaterThan(10_000);
    expect(simulateRun(60, new SendLead()).lastAcknowledgedAtMs).toBeLessThanOrEqual(10_000);
    expect(simulateRun(120, new SendLead()).lastAcknowledgedAtMs).toBeLessThanOrEqual(10_000);
  });

  it('leads by the slowest recent send, at most 200 ms', () => {
    const lead = new SendLead();
    expect(lead.ms).toBe(0);
    lead.took(30);
    lead.took(80);
    lead.took(20);
    expect(lead.ms).toBe(80);
    // The 80 ms send leaves the window after 20 more sends.
    for (let i = 0; i < 20; i++) lead.took(25);
    expect(lead.ms).toBe(25);
    lead.took(5_000);
    expect(lead.ms).toBe(200);
  });
});
