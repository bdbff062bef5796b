import { randomBytes } from 'node:crypto';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import { PASSWORD_PLACEHOLDER, renderClickHouseSecret, SECRET_KEYS } from '../render/clickhouse.ts';
import { manifestId, type Manifest } from '../render/manifest.ts';
import { NAMES } from '../names.ts';

/** Server-side applies the manifests in order: creates them, or updates what changed. */
export function applyManifestsStep(k: KindEnv, name: string, manifests: Manifest[]): KindStep {
  return kindStep(name, { manifests }, async (ctx) => {
    for (const m of manifests) {
      ctx.status.update(manifestId(m));
      await k.kube().apply(m);
    }
    return `${manifests.length} applied`;
  });
}

/** Reads a ClickHouse password from the Secret (base64 in `data`): the writer's, or the dashboard user's. */
export async function readClickHousePassword(k: KindEnv, key: string = SECRET_KEYS.password): Promise<string | undefined> {
  const secret = await k.kube().get('v1', 'Secret', k.config.namespace, NAMES.clickhouseSecret);
  const b64 = (secret as { data?: Record<string, string> } | undefined)?.data?.[key];
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

/**
 * Generated passwords (writer, dashboard), kept across `up` runs: an existing password is never
 * overwritten; a Secret from before the dashboard user gets that one password added.
 */
export function clickHouseSecretStep(k: KindEnv): KindStep {
  const planned = renderClickHouseSecret(k.config, PASSWORD_PLACEHOLDER);
  return kindStep('ClickHouse credentials (Secret)', { manifests: [planned] }, async () => {
    const writer = await readClickHousePassword(k);
    const dashboard = await readClickHousePassword(k, SECRET_KEYS.dashboardPassword);
    if (writer && dashboard) return 'exists, kept';
    const generate = () => randomBytes(18).toString('base64url');
    await k.kube().apply(renderClickHouseSecret(k.config, writer ?? generate(), dashboard ?? generate()));
    return writer ? 'dashboard password added' : 'generated';
  });
}
