import type { Step } from '../steps/step.ts';

export type TargetName = 'local' | 'kind';

/** Where the host reaches the stack's services; load generation and reporting need only this. */
export interface StackEndpoints {
  kafka: { brokers: string[] };
  clickhouse: { url: string; username: string; password: string; database: string };
  /** Where the host reaches Alertmanager's and Prometheus' HTTP APIs, when the stack runs them. */
  alertmanager?: { url: string };
  prometheus?: { url: string };
}

export interface ComponentState {
  name: string;
  state: 'up' | 'down' | 'degraded';
  pid?: number;
  ports?: number[];
  version?: string;
  detail?: string;
}

/** The last micro-batch of the streaming query, as Spark reported it. */
export interface JobProgress {
  batchId: number;
  lastBatchAt: string;
  numInputRows: number;
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  batchDurationMs: number;
}

export interface DoctorCheck {
  name: string;
  ok: boolean;
  found: string;
  fix?: string;
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
  alertNotifications?(): Promise<import('../clients/alertmanager.ts').WebhookNotification[]>;
  /** Whether anything of this target exists (used to find "the stack that is already up"). */
  isUp(): Promise<boolean>;
}

/** What a target factory is given: validated config, the state directory and the status object. */
export interface TargetContext {
  config: import('../config/schema.ts').Config;
  home: string;
  status: import('../cli/status.ts').Status;
  /** Environment to read (tests pass their own). */
  env: NodeJS.ProcessEnv;
}
