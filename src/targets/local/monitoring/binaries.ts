import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** Names each program has on PATH: upstream's, then Debian/Ubuntu's (package prometheus-alertmanager). */
export const MONITORING_BINARIES = {
  prometheus: ['prometheus'],
  promtool: ['promtool'],
  alertmanager: ['alertmanager', 'prometheus-alertmanager'],
} as const;

export const MONITORING_INSTALL_FIX =
  'Install Prometheus and Alertmanager: Debian/Ubuntu: sudo apt-get install prometheus prometheus-alertmanager; ' +
  'macOS: brew install prometheus alertmanager; or put the release binaries (prometheus, promtool, alertmanager) on PATH. ' +
  'Or set monitoring.enabled: false in the config file.';

/** The first of `names` found as an executable on PATH. */
export function findOnPath(names: readonly string[], envPath = process.env.PATH ?? ''): string | undefined {
  for (const name of names) {
    for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
      const candidate = path.join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        /* next */
      }
    }
  }
  return undefined;
}
