/** Prometheus' HTTP API: instant and range queries, for status figures. */
interface VectorResult {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }> };
  error?: string;
}

async function api(baseUrl: string, pathAndQuery: string): Promise<VectorResult['data']> {
  const res = await fetch(`${baseUrl}${pathAndQuery}`, { signal: AbortSignal.timeout(5000) });
  const body = (await res.json()) as VectorResult;
  if (!res.ok || body.status !== 'success') throw new Error(`Prometheus ${pathAndQuery}: ${body.error ?? `HTTP ${res.status}`}`);
  return body.data;
}

/** The value of an expression that yields one series (the first one), or null when it yields none. */
export async function queryValue(baseUrl: string, expr: string): Promise<number | null> {
  const data = await api(baseUrl, `/api/v1/query?query=${encodeURIComponent(expr)}`);
  const v = data.result[0]?.value?.[1];
  return v === undefined || v === 'NaN' ? null : Number(v);
}

/** One series over time: [unix seconds, value]. */
export async function queryRange(baseUrl: string, expr: string, startS: number, endS: number, stepS: number): Promise<Array<[number, number]>> {
  const q = `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${startS}&end=${endS}&step=${stepS}`;
  const data = await api(baseUrl, q);
  return (data.result[0]?.values ?? []).map(([t, v]) => [t, Number(v)]);
}
