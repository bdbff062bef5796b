import { SpeedlayerError } from '../../base/errors.ts';
import type { StackEndpoints } from '../../base/stack.ts';
import { pipeline } from '../../contract/index.ts';
import type { KindEnv } from './context.ts';
import { NAMES } from './names.ts';
import { CLICKHOUSE_DATABASE, SECRET_KEYS } from './render/clickhouse.ts';
import { readClickHousePassword } from './steps/apply.ts';

/**
 * The host's view: 127.0.0.1 and the mapped ports (kind extraPortMappings, or Docker Desktop's
 * LoadBalancer publishing); the password from the Secret `up` created.
 */
export async function kindEndpoints(k: KindEnv): Promise<StackEndpoints> {
  let password: string | undefined;
  let dashboardPassword: string | undefined;
  try {
    password = await readClickHousePassword(k);
    dashboardPassword = await readClickHousePassword(k, SECRET_KEYS.dashboardPassword);
  } catch (err) {
    throw new SpeedlayerError(`the kind stack is not reachable: ${(err as Error).message}`, {
      fix: "Start it with 'speedlayer up --target kind' (and check that Docker Desktop is running).",
    });
  }
  if (!password) {
    throw new SpeedlayerError(`the kind stack is not up (no Secret ${NAMES.clickhouseSecret} in namespace ${k.config.namespace})`, {
      fix: "Run 'speedlayer up --target kind' first.",
    });
  }
  return {
    kafka: { brokers: [`127.0.0.1:${k.config.ports.kafka}`] },
    clickhouse: {
      url: `http://127.0.0.1:${k.config.ports.clickhouseHttp}`,
      username: NAMES.clickhouseUser,
      password,
      database: CLICKHOUSE_DATABASE,
      ...(dashboardPassword ? { dashboard: { username: pipeline.clickhouse.dashboardUser, password: dashboardPassword } } : {}),
    },
  };
}
