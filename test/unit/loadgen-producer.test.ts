import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { rememberingPartitioner } from '../../src/loadgen/producer.ts';
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
});
