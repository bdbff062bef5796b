import type { Command } from 'commander';
import type { CommandContext } from './context.ts';

/** One declaration per command, registered in src/commands/index.ts (wrangler's shape). */
export interface CommandDeclaration<O = Record<string, unknown>> {
  name: string;
  description: string;
  /** Adds the command's own options (global ones are added for every command). */
  options?: (cmd: Command) => void;
  /** Validates raw options into typed ones; throw UsageError (exit 2) on bad input. */
  parse?: (raw: Record<string, unknown>, ctx: CommandContext) => O;
  /** Returns the exit code (0 when omitted). */
  handler(ctx: CommandContext, opts: O): Promise<number | void>;
}

export function defineCommand<O>(d: CommandDeclaration<O>): CommandDeclaration<O> {
  return d;
}
