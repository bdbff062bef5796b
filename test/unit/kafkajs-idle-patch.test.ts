import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';

// patches/kafkajs+2.2.4.patch (applied by `npm ci`'s postinstall): an idle kafkajs connection
// must not re-arm its pending-requests check every millisecond (kafkajs #1556, #1704): that loop
// was most of the monitoring exporter's idle CPU. Throttled or waiting requests must still be checked.
const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (options: object) => {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
};

const quietLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const queues: Array<InstanceType<typeof RequestQueue>> = [];
function requestQueue(): InstanceType<typeof RequestQueue> {
  const queue = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: '127.0.0.1:9', logger: quietLogger });
  queues.push(queue);
  return queue;
}

describe('kafkajs request queue (patched)', () => {
  afterEach(() => queues.splice(0).forEach((queue) => queue.destroy()));

  it('arms no timer when nothing is pending and nothing is throttled', () => {
    const queue = requestQueue();
    queue.scheduleCheckPendingRequests();
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('still schedules a check for a waiting request, and for the end of a throttle', () => {
    const waiting = requestQueue();
    waiting.pending.push({});
    waiting.scheduleCheckPendingRequests();
    expect(waiting.throttleCheckTimeoutId).not.toBeNull();

    const throttled = requestQueue();
    throttled.throttledUntil = Date.now() + 5_000;
    throttled.scheduleCheckPendingRequests();
    expect(throttled.throttleCheckTimeoutId).not.toBeNull();
  });
});
