import type { Config } from '../config/schema.ts';
import type { Target, TargetName } from '../stack/target.ts';
import type { Status } from '../base/status.ts';

/** Everything a command handler may use; tests build one with fakes. */
export interface CommandContext {
  config: Config;
  configSource: string | undefined;
  home: string;
  env: NodeJS.ProcessEnv;
  json: boolean;
  verbose: boolean;
  /** Whether a person can answer questions (stdin and stderr are terminals). */
  interactive: boolean;
  status: Status;
  signal: AbortSignal;
  /** stdout: the result of the command (a JSON document in --json mode). */
  print(text: string): void;
  printJson(value: unknown): void;
  /** Asks a yes/no question on the terminal. */
  confirm(question: string): Promise<boolean>;
  /** Resolves the target (flag > env > config > running stack > auto) and says why, once. */
  target(): Promise<Target>;
  targetName(): Promise<TargetName>;
}
