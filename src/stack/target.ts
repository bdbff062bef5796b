import type { WebhookNotification } from '../clients/alertmanager.ts';
import type { Step } from '../base/step.ts';
import type { ComponentState, DoctorCheck, StackEndpoints } from '../base/stack.ts';
import type { JobProgress } from '../contract/job-progress.ts';

import type { TargetName } from '../config/targets.ts';

export type { TargetName };

/** What `up --plan` prints: every step with its commands and manifests, and the memory and CPU budgets. */
export interface StackPlan {
  steps: Array<{ name: string; commands: string[][]; manifests: unknown[] }>;
  memory_budget: { limit_mib: number; total_mib: number; items: Array<{ name: string; request_mib: number; limit_mib: number }> };
  cpu_budget: { limit_millicores: number; total_millicores: number; items: Array<{ name: string; request_millicores: number; limit_millicores: number | null }> };
}

export interface DownOptions {
  purge: boolean;
  keepCluster?: boolean;
}

/**
 * The runtime layer. Targets are siblings that never import each other; commands, load generation
 * and reporting only see this interface.
 */
export interface Target {
  readonly name: TargetName;
  doctor(): Promise<DoctorCheck[]>;
  /** Validation happens while building the list; no step has side effects before it runs. */
  upSteps(): Promise<Step[]>;
  submitSteps(): Promise<Step[]>;
  downSteps(opts: DownOptions): Promise<Step[]>;
  /** Throws a SpeedlayerError with a fix when the stack is not up. */
  endpoints(): Promise<StackEndpoints>;
  components(): Promise<ComponentState[]>;
  jobProgress(): Promise<JobProgress | undefined>;
  /** The notifications Alertmanager sent, oldest first (where the target keeps them). */
  alertNotifications?(): Promise<WebhookNotification[]>;
  /** Each component's log file, by component name (where the target keeps logs as files). */
  logFiles?(): Promise<Record<string, string>>;
  /** Whether anything of this target exists (used to find "the stack that is already up"). */
  isUp(): Promise<boolean>;

  // Capabilities a target may have; commands ask for them, never for a target's name.
  /** Every step, command and manifest of `up` and `submit`, and the memory budget; runs nothing. */
  plan?(): Promise<StackPlan>;
  /** Stops what a failed `up` started, so it leaves nothing half-running. */
  undoUp?(): Promise<void>;
  /** What `down` destroys besides --purge's data, to confirm first (e.g. 'delete the kind cluster'). */
  downDestroys?(opts: DownOptions): string | undefined;
  /**
   * For `submit --reset-checkpoint`: what discarding the job's checkpoint would replay and lose,
   * and the action that stops the job and moves the checkpoint aside. Absent: not supported.
   */
  checkpointReset?(): Promise<{ description: string; reset(): Promise<string> }>;
}

/** What a target factory is given: validated config, the state directory and the status object. */
export interface TargetContext {
  config: import('../config/schema.ts').Config;
  home: string;
  status: import('../base/status.ts').Status;
  /** Environment to read (tests pass their own). */
  env: NodeJS.ProcessEnv;
}
