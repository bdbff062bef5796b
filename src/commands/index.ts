import { alertsCommand } from './alerts.ts';
import { capacityCommand } from './capacity.ts';
import type { CommandDeclaration } from './command.ts';
import { demoCommand } from './demo.ts';
import { doctorCommand } from './doctor.ts';
import { downCommand } from './down.ts';
import { loadtestCommand } from './loadtest.ts';
import { logsCommand } from './logs.ts';
import { statusCommand } from './status.ts';
import { submitCommand } from './submit.ts';
import { traceCommand } from './trace.ts';
import { upCommand } from './up.ts';

/** Every command, in the order `--help` lists them. */
export const commands: CommandDeclaration<never>[] = [upCommand, submitCommand, loadtestCommand, statusCommand, alertsCommand, capacityCommand, traceCommand, logsCommand, downCommand, doctorCommand, demoCommand] as CommandDeclaration<never>[];
