import { randomBytes } from 'node:crypto';
import type { KindEnv, KindStep } from '../context.ts';
import { kindStep } from '../context.ts';
import { PASSWORD_PLACEHOLDER, renderClickHouseSecret } from '../render/clickhouse.ts';
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

/** Reads the ClickHouse password from the Secret (base64 in `data`). */
export async function readClickHousePassword(k: KindEnv): Promise<string | undefined> {
  const secret = await k.kube().get('v1', 'Secret', k.config.namespace, NAMES.clickhouseSecret);
  const b64 = (secret as { data?: Record<string, string> } | undefined)?.data?.password;
  return b64 ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

/** A generated password, kept across `up` runs: an existing Secret is never overwritten. */
export function clickHouseSecretStep(k: KindEnv): KindStep {
  const planned = renderClickHouseSecret(k.config, PASSWORD_PLACEHOLDER);
  return kindStep('ClickHouse credentials (Secret)', { manifests: [planned] }, async () => {
    if (await readClickHousePassword(k)) return 'exists, kept';
    await k.kube().apply(renderClickHouseSecret(k.config, randomBytes(18).toString('base64url')));
    return 'generated';
  });
}
