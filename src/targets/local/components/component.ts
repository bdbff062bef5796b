import type { ManagedProcess, StartOptions } from '../supervisor.ts';

/** One supervised local server (Kafka, ClickHouse, the Spark job). */
export interface LocalComponent {
  readonly name: string;
  readonly process: ManagedProcess;
  /** Ports it listens on (checked free before anything starts). */
  ports(): number[];
  /** Downloads, storage formatting, config files: everything before the process starts. */
  prepare(report: (text: string) => void): Promise<void>;
  launch(): Promise<StartOptions>;
  ready(): Promise<boolean>;
  readonly readyTimeoutMs: number;
  version(): Promise<string | undefined>;
  /** What to tell the user when it does not become ready (besides the log tail). */
  readonly hint: string;
  /** When it is not running: why it stopped, if its log says (for `status`). */
  whyDown?(): Promise<string | undefined>;
  /** When it is running: anything `status` should say (e.g. the job's restarts). */
  whileUp?(): Promise<string | undefined>;
}
