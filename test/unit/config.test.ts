import { describe, expect, it } from 'vitest';
import { parseConfig, resolveHome } from '../../src/config/load.ts';
import { UsageError } from '../../src/base/errors.ts';

describe('config file', () => {
  it('fills defaults for an empty file', () => {
    const c = parseConfig('');
    expect(c.local.ports.kafka).toBe(19092);
    expect(c.loadtest.rate).toBe(10000);
    expect(c.checks.e2eLatencyP95Ms).toBe(5000);
  });

  it('lists every problem at once, each with its path', () => {
    const text = ['target: mars', 'local:', '  ports:', '    kafka: 70000', '    clickhouse: "x"', 'loadtest:', '  rate: -5', 'colour: blue'].join('\n');
    let err: unknown;
    try {
      parseConfig(text, 'bad.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    const e = err as UsageError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain('bad.yaml has 5 problems');
    for (const p of ['target', 'local.ports.kafka', 'local.ports.clickhouse', 'loadtest.rate', '(root)']) expect(e.fix).toContain(`- ${p}:`);
  });

  it('reports YAML syntax errors', () => {
    expect(() => parseConfig('local: [unclosed')).toThrow(/not valid YAML/);
  });

  it('SPEEDLAYER_HOME wins over the config file', () => {
    const c = parseConfig('home: /tmp/from-config');
    expect(resolveHome(c, { SPEEDLAYER_HOME: '/tmp/from-env' })).toBe('/tmp/from-env');
    expect(resolveHome(c, {})).toBe('/tmp/from-config');
  });
});
