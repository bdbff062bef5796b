/** Alertmanager's HTTP API v2 (the part `speedlayer alerts` reads) and its webhook payload. */
export interface AlertmanagerAlert {
  fingerprint: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; inhibitedBy: string[]; silencedBy: string[] };
}

/** One notification as Alertmanager's webhook receiver gets it (version 4 of the payload). */
export interface WebhookNotification {
  receiver: string;
  status: 'firing' | 'resolved';
  groupKey: string;
  alerts: Array<{ status: 'firing' | 'resolved'; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; fingerprint: string }>;
}

/** The alerts Alertmanager holds as active, not inhibited by a more severe one nor silenced. */
export async function activeAlerts(baseUrl: string): Promise<AlertmanagerAlert[]> {
  const url = `${baseUrl}/api/v2/alerts?active=true&silenced=false&inhibited=false&unprocessed=true`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as AlertmanagerAlert[];
}
