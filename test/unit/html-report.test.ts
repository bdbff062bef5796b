import { describe, expect, it } from 'vitest';
import { renderHtmlReport, type HtmlReportInput } from '../../src/loadtest/html-report.ts';

const input = (name: string): HtmlReportInput => ({
  target_eps: 100,
  achieved_eps: 100,
  duration_s: 1,
  produced: 100,
  malformed_injected: 0,
  accepted: 100,
  dead_lettered: 0,
  missing: 0,
  duplicated: 0,
  drain_s: 1,
  e2e_latency_ms: { p50: 1, p95: 2, p99: 3 },
  query_latency_ms: { p50: null, p95: null, p99: null },
  timeline: {
    produced_per_s: [{ s: 0, events: 100 }],
    batches: [{ batch_id: 0, s: 0, input_rows: 100, input_rows_per_s: 100, processed_rows_per_s: 200, duration_ms: 500 }],
    e2e_latency_per_s: [{ s: 0, p50_ms: 1, p95_ms: 2, events: 100 }],
  },
  checks: [{ name, target: '= 0', actual: '0', passed: true }],
  passed: true,
});

describe('the HTML report page', () => {
  it('escapes the report text it shows; no script element of the page ends early', async () => {
    const hostile = '</script><img src=x onerror=alert(1)> & "quotes"';
    const html = await renderHtmlReport(input(hostile), { e2eP95TargetMs: 5000, generatedAt: new Date(0) });
    expect(html).toContain('<td>&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62; &#38; &#34;quotes&#34;</td>');
    expect(html).not.toContain('<img');
    // One closing tag per script element: the specs' JSON and the inlined bundle cannot end theirs early.
    expect(html.match(/<\/script>/g)).toHaveLength(html.match(/<script[\s>]/g)!.length);
  });
});
