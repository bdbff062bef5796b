import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChecksConfigSchema } from '../../src/config/schema.ts';
import { CHART_IDS, renderHtmlReport } from '../../src/loadtest/html-report.ts';
import type { LoadtestReport } from '../../src/loadtest/loadtest.ts';
import { expectReportDrawn, renderInChromium } from '../support/chromium.ts';

/**
 * The `--json` report of a real load test on the local stack (`loadtest --rate 2000 --duration 20
 * --warmup 10 --seed 5` on a busy shared machine: the job fell behind, so one check failed), kept so
 * that the page is checked in seconds; the e2e test (local-stack.test.ts) renders its own run's report.
 */
const REPORT = JSON.parse(await readFile(new URL('./fixtures/loadtest-report.json', import.meta.url), 'utf8')) as LoadtestReport;
const E2E_P95_TARGET_MS = ChecksConfigSchema.parse({}).e2eLatencyP95Ms;

async function writeReport(html: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'speedlayer-html-')), 'report.html');
  await writeFile(file, html);
  return file;
}

describe('loadtest --html in headless Chromium', () => {
  it('draws every chart, offline, with a mark per data point, and lists every check', async () => {
    const file = await writeReport(await renderHtmlReport(REPORT, { e2eP95TargetMs: E2E_P95_TARGET_MS, generatedAt: new Date() }));
    expectReportDrawn(await renderInChromium(file), REPORT);
  });

  it('a page whose charting library does not run shows the failure where each chart should be', async () => {
    // The same page without Vega's bundle: what the assertions above must not mistake for drawn charts.
    const html = await renderHtmlReport(REPORT, { e2eP95TargetMs: E2E_P95_TARGET_MS, generatedAt: new Date() });
    const bundle = await readFile(path.join(path.dirname(createRequire(import.meta.url).resolve('vega')), 'vega.min.js'), 'utf8');
    expect(html).toContain(bundle);
    const page = await renderInChromium(await writeReport(html.replace(bundle, '')));
    for (const id of CHART_IDS) {
      expect(page.charts[id].svg).toBe(false);
      expect(page.charts[id].error).toContain('This chart could not be drawn: vega is not defined');
    }
    expect(() => expectReportDrawn(page, REPORT)).toThrow();
  });
});
