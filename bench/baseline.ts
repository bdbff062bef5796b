import { execa } from 'execa';
import { PROJECT_ROOT } from '../src/contract/index.ts';

/** The commit the benchmark compares with (issue 9: the job before the performance work). */
export const BASELINE_COMMIT = '20a119b';

/** False in a shallow clone or a source tarball, where the baseline cannot be built. */
export async function hasBaselineCommit(): Promise<boolean> {
  const r = await execa('git', ['-C', PROJECT_ROOT, 'cat-file', '-e', `${BASELINE_COMMIT}^{commit}`], { reject: false });
  return r.exitCode === 0;
}
