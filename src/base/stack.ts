// Shapes every layer above passes around: where the stack is, how its parts are, what doctor found.

/** Where the host reaches the stack's services; load generation and reporting need only this. */
export interface StackEndpoints {
  kafka: { brokers: string[] };
  clickhouse: ClickHouseEndpoint;
  /** Where the host reaches Alertmanager's and Prometheus' HTTP APIs, when the stack runs them. */
  alertmanager?: { url: string };
  prometheus?: { url: string };
}

export interface ClickHouseEndpoint {
  url: string;
  /** The job's writer user. */
  username: string;
  password: string;
  database: string;
  /** The read-only dashboard user (pipeline.json dashboardProfile); absent on stacks made before it existed. */
  dashboard?: { username: string; password: string };
}

export interface ComponentState {
  name: string;
  state: 'up' | 'down' | 'degraded';
  pid?: number;
  ports?: number[];
  version?: string;
  detail?: string;
}

export interface DoctorCheck {
  name: string;
  ok: boolean;
  found: string;
  fix?: string;
}
