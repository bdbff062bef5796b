/**
 * `task` made to run one call at a time, in call order: each call starts once the one before has
 * settled (a failure does not stop the ones after it). For writes that must not overlap, such as
 * two replacements of one file through one temporary file, or a log moved aside while appended to.
 */
export function oneAtATime<Args extends unknown[], Result>(task: (...args: Args) => Promise<Result>): (...args: Args) => Promise<Result> {
  let last: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const run = last.then(() => task(...args));
    last = run.catch(() => undefined);
    return run;
  };
}
