import { describe, expect, it } from 'vitest';
import { RecordingStatus } from '../../src/base/status.ts';
import { SpeedlayerError, describeError } from '../../src/base/errors.ts';
import { runSteps, type Step } from '../../src/base/step.ts';

describe('runSteps', () => {
  it('reports start and end of each step and stops at the first failure, wrapped with the step name', async () => {
    const status = new RecordingStatus();
    const ran: string[] = [];
    const steps: Step[] = [
      { name: 'one', execute: async () => void ran.push('one') },
      { name: 'two', execute: async () => { throw new SpeedlayerError('boom', { fix: 'do X' }); } },
      { name: 'three', execute: async () => void ran.push('three') },
    ];
    const err = await runSteps(steps, { status, signal: new AbortController().signal }).catch((e) => e);
    expect(ran).toEqual(['one']);
    expect(status.events).toEqual(['start one', 'end ok', 'start two', 'end fail']);
    expect(err).toBeInstanceOf(SpeedlayerError);
    expect(err.message).toBe('two: boom');
    expect(err.fix).toBe('do X');
  });

  it('passes a step note to end()', async () => {
    const status = new RecordingStatus();
    await runSteps([{ name: 'a', execute: async () => 'created 3' }], { status, signal: new AbortController().signal });
    expect(status.events).toEqual(['start a', 'end ok created 3']);
  });

  it('a step that ends without reaching its goal reports a failed end with its note, and the next step runs', async () => {
    const status = new RecordingStatus();
    const steps: Step[] = [
      { name: 'wait', execute: async () => ({ ok: false, note: 'timed out after 5s' }) },
      { name: 'next', execute: async () => ({ ok: true, note: 'done' }) },
    ];
    await runSteps(steps, { status, signal: new AbortController().signal });
    expect(status.events).toEqual(['start wait', 'end fail timed out after 5s', 'start next', 'end ok done']);
  });
});

describe('describeError maps causes to a message and a fix', () => {
  it('ENOENT of a program', () => {
    const e = Object.assign(new Error('spawn kind ENOENT'), { code: 'ENOENT', path: 'kind' });
    expect(describeError(e)).toMatchObject({ message: "'kind' was not found", exitCode: 1 });
    expect(describeError(e).fix).toContain('PATH');
  });
  it('ECONNREFUSED', () => {
    const e = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 18123 });
    expect(describeError(e).message).toBe('connection refused by 127.0.0.1:18123');
  });
  it('a failed command keeps its stderr tail as detail', () => {
    const e = Object.assign(new Error('x'), { command: 'helm install', shortMessage: 'Command failed with exit code 1: helm install', stderr: 'a\nb\nError: chart not found' });
    const d = describeError(e);
    expect(d.message).toBe('Command failed with exit code 1: helm install');
    expect(d.detail).toContain('chart not found');
  });
});
