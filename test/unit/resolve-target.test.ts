import { describe, expect, it } from 'vitest';
import { resolveTarget, type ResolveInputs } from '../../src/targets/resolve.ts';

const base: ResolveInputs = {
  flag: undefined,
  env: {},
  configTarget: undefined,
  upTargets: async () => [],
  dockerAnswers: async () => false,
};

describe('target resolution: flag > env > config > running stack > auto', () => {
  it('flag first', async () => {
    expect(await resolveTarget({ ...base, flag: 'local', env: { SPEEDLAYER_TARGET: 'kind' }, configTarget: 'kind' })).toEqual({ name: 'local', reason: '--target flag' });
  });
  it('then the environment', async () => {
    expect((await resolveTarget({ ...base, env: { SPEEDLAYER_TARGET: 'kind' }, configTarget: 'local' })).name).toBe('kind');
  });
  it('then the config file', async () => {
    expect(await resolveTarget({ ...base, configTarget: 'kind', upTargets: async () => ['local'] })).toEqual({ name: 'kind', reason: 'config file' });
  });
  it('then the stack that is up', async () => {
    expect(await resolveTarget({ ...base, upTargets: async () => ['kind'], dockerAnswers: async () => false })).toEqual({ name: 'kind', reason: 'the stack that is already up' });
  });
  it('then Docker: kind when it answers, local otherwise', async () => {
    expect((await resolveTarget({ ...base, dockerAnswers: async () => true })).name).toBe('kind');
    expect((await resolveTarget(base)).name).toBe('local');
  });
  it('rejects an unknown target from the environment with exit code 2', async () => {
    await expect(resolveTarget({ ...base, env: { SPEEDLAYER_TARGET: 'mars' } })).rejects.toMatchObject({ exitCode: 2 });
  });
  it('asks when both stacks exist', async () => {
    await expect(resolveTarget({ ...base, upTargets: async () => ['local', 'kind'] })).rejects.toThrow(/both/);
  });
});
