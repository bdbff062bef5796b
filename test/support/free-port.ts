import { readFileSync } from 'node:fs';
import { portIsFree } from '../../src/targets/local/ports.ts';

/*
 * Ports for test servers are drawn below the kernel's ephemeral range. A port
 * the kernel hands out for "port 0" comes from that range, which is also where
 * every outgoing connection of the parallel test files takes its local port, so
 * such a port can be taken between the choice and the server's bind
 * (java.net.BindException in the job). Below the range nothing takes it unasked.
 */
const LOWEST_PORT = 10_000;
const handedOut = new Set<number>();

/** Where the kernel's ephemeral range starts (Linux's default when it cannot be read). */
const EPHEMERAL_RANGE_START = (() => {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return Number(start) || 32_768;
  } catch {
    return 32_768;
  }
})();

/** A free port on 127.0.0.1 outside the ephemeral range, never the same twice in one test process. */
export async function freePort(): Promise<number> {
  if (EPHEMERAL_RANGE_START - LOWEST_PORT < 1_000) throw new Error(`ephemeral port range starts at ${EPHEMERAL_RANGE_START}: no room below it for test ports`);
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (EPHEMERAL_RANGE_START - LOWEST_PORT));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port found between ${LOWEST_PORT} and ${EPHEMERAL_RANGE_START}`);
}
