// The local streaming job's supervisor: runs the job's JVM, restarts it after a failure following
// the restart policy (restart-policy.ts), and keeps its state file current for `status`.
// Usage: node dist/targets/local/job-supervisor-main.js <plan.json> (or --import tsx on the .ts);
// the job's environment is its own.
// Started detached by ManagedProcess with stdout/stderr on the job's log, in the job's process group:
// `down` (SIGTERM to the group) stops both; a SIGKILL of the JVM alone is a failure it restarts.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { oneAtATime } from '../../base/one-at-a-time.ts';
import { pipeline } from '../../contract/index.ts';
import { decideRestart, describeEnd, FAILURE_LINE_CHARS, writeSupervisorState, type RestartPolicy, type SupervisorState } from './restart-policy.ts';

export interface SupervisorPlan {
  command: string;
  args: string[];
  cwd?: string;
  /** The JVM's temporary folder: emptied before each start, since what is in it belongs to a JVM that ended. */
  tmpDir?: string;
  stateFile: string;
  policy: RestartPolicy;
}

const FAILED = `${pipeline.jobProtocol.failed} `;
const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as SupervisorPlan;
const state: SupervisorState = { state: 'running', runs: 0, failuresInARow: 0 };
let stopping = false;
let child: ReturnType<typeof spawn> | undefined;
let restartTimer: NodeJS.Timeout | undefined;

const say = (line: string) => process.stdout.write(`SPEEDLAYER_SUPERVISOR ${line}\n`);
// One write at a time: two at once share the temporary file, and one that loses the race could leave
// the state file empty at exit (seen when the job could not even be started).
const save = oneAtATime(() => writeSupervisorState(plan.stateFile, state).catch((e: Error) => say(`cannot write ${plan.stateFile}: ${e.message}`)));

function run(): void {
  const started = Date.now();
  let failure: string | undefined;
  state.runs++;
  if (plan.tmpDir) {
    rmSync(plan.tmpDir, { recursive: true, force: true });
    mkdirSync(plan.tmpDir, { recursive: true });
  }
  child = spawn(plan.command, plan.args, { cwd: plan.cwd, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
  state.state = 'running';
  state.jobPid = child.pid;
  state.nextRestartAt = undefined;
  void save();
  // The job's stdout goes on to the log as it is; its failure line is kept for the decision.
  const lines = createInterface({ input: child.stdout! });
  lines.on('line', (line) => {
    process.stdout.write(`${line}\n`);
    if (line.startsWith(FAILED)) failure = line.slice(FAILED.length).trim().slice(0, FAILURE_LINE_CHARS);
  });
  // 'close': the JVM exited and its output was read to the end (the failure line included).
  // 'error': it could not be started at all (java missing): a failed run like any other.
  let over = false;
  const end = (code: number | null, signal: string | null) => {
    if (over) return;
    over = true;
    void ended({ code, signal, ranMs: Date.now() - started, failure });
  };
  child.once('error', (err) => {
    failure ??= `cannot start ${plan.command}: ${err.message}`;
    end(null, null);
  });
  child.once('close', (code, signal) => end(code, signal));
}

async function ended(end: { code: number | null; signal: string | null; ranMs: number; failure?: string }): Promise<void> {
  child = undefined;
  state.lastEnd = describeEnd(end);
  state.lastEndAt = new Date().toISOString();
  if (stopping) {
    state.state = 'stopped';
    await save();
    process.exit(0);
  }
  const d = decideRestart(end, state.failuresInARow, plan.policy);
  if (d.action === 'finished') {
    state.state = 'finished';
    await save();
    say(`the job ended (${state.lastEnd}); not restarted`);
    process.exit(0);
  }
  state.failuresInARow = d.failuresInARow;
  if (d.action === 'give-up') {
    state.state = 'gave-up';
    state.reason = d.reason;
    state.fix = d.fix;
    await save();
    say(`GAVE_UP ${d.reason}`);
    process.exit(1);
  }
  state.state = 'restarting';
  state.nextRestartAt = new Date(Date.now() + d.delayMs).toISOString();
  await save();
  say(`restart ${d.failuresInARow} of at most ${plan.policy.maxRestarts} in ${Math.round(d.delayMs / 1000)} s: the job ${state.lastEnd}`);
  restartTimer = setTimeout(run, d.delayMs);
}

function stop(signal: NodeJS.Signals): void {
  stopping = true;
  if (restartTimer) clearTimeout(restartTimer);
  if (child) child.kill(signal);
  else {
    state.state = 'stopped';
    void save().then(() => process.exit(0));
  }
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGTERM'));
run();
