import { pathToFileURL } from 'node:url';
import puppeteer from 'puppeteer-core';
import { expect } from 'vitest';
import { findOnPath } from '../../src/targets/local/monitoring/binaries.ts';
import { CHART_IDS } from '../../src/loadtest/html-report.ts';
import type { LoadtestReport } from '../../src/loadtest/loadtest.ts';

// Debian's `chromium` package, which npm test installs when missing (scripts/test.mjs).
export const chromium = findOnPath(['chromium', 'chromium-browser', 'google-chrome']);

export interface DrawnChart {
  /** The text the page put in place of a chart it could not draw. */
  error: string | null;
  svg: boolean;
  /** Vega's data marks (role-mark: not axes, grid or legend) with a non-empty geometry, by kind. */
  symbols: number;
  bars: number;
  lines: number;
  rules: number;
  width: number;
  height: number;
}

export interface RenderedReport {
  charts: Record<(typeof CHART_IDS)[number], DrawnChart>;
  /** The checks table: check, expected, got, result. */
  checks: string[][];
  /** Uncaught errors on the page, and its console errors. */
  errors: string[];
  /** Every request the page made beyond the file itself (a self-contained page makes none). */
  requests: string[];
}

/** Runs in the page: what Vega drew into each chart element. */
const READ_CHARTS = `function (ids) {
  function drawn(el, selector) {
    return Array.from(el.querySelectorAll(selector)).filter(function (p) {
      var box = p.getBBox();
      return p.getAttribute('d') !== '' && (box.width > 0 || box.height > 0);
    }).length;
  }
  var out = {};
  ids.forEach(function (id) {
    var el = document.getElementById(id);
    var svg = el.querySelector('svg');
    var rect = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    out[id] = {
      error: el.classList.contains('chart-error') ? el.textContent : null,
      svg: svg !== null,
      symbols: drawn(el, 'g.mark-symbol.role-mark path'),
      bars: drawn(el, 'g.mark-rect.role-mark path'),
      lines: drawn(el, 'g.mark-line.role-mark path'),
      rules: drawn(el, 'g.mark-rule.role-mark line'),
      width: rect.width,
      height: rect.height,
    };
  });
  return out;
}`;

/**
 * Opens an HTML report in headless Chromium, waits until every chart element holds an <svg> or an
 * error, and reads what Vega drew: marks with a non-empty geometry, counted by kind.
 */
export async function renderInChromium(file: string): Promise<RenderedReport> {
  if (!chromium) throw new Error('chromium is not on PATH: Debian/Ubuntu: apt-get install chromium (npm test installs it)');
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    // As root (CI containers) Chromium refuses its sandbox; the page is our own file.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage();
    const url = pathToFileURL(file).href;
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (err) => errors.push(String((err as Error).message ?? err)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.setRequestInterception(true);
    page.on('request', (req) => {
      if (req.url() === url) return void req.continue();
      requests.push(req.url());
      void req.abort();
    });
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction((ids: readonly string[]) => ids.every((id) => document.querySelector(`#${id} svg, #${id}.chart-error`)), { timeout: 20_000 }, CHART_IDS);
    // A string, not a function: the test's transpiler may wrap named functions in helpers the page lacks.
    const charts = (await page.evaluate(`(${READ_CHARTS})(${JSON.stringify(CHART_IDS)})`)) as RenderedReport['charts'];
    const checks = await page.$$eval('#checks tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    return { charts, checks, errors, requests };
  } finally {
    await browser.close();
  }
}

/**
 * The assertions both browser tests make: every chart drew one mark per data point of its series
 * (so a chart that drew nothing, or drew without its data, fails), the page made no request and
 * threw nothing, and the checks table lists every check of the report.
 */
export function expectReportDrawn(page: RenderedReport, report: Pick<LoadtestReport, 'timeline' | 'checks'>): void {
  const t = report.timeline;
  // A report without its series would pass with empty charts.
  expect(t.produced_per_s.length).toBeGreaterThan(0);
  expect(t.batches.length).toBeGreaterThan(0);
  expect(t.e2e_latency_per_s.length).toBeGreaterThan(0);
  expect(page.errors).toEqual([]);
  expect(page.requests).toEqual([]);
  for (const chart of Object.values(page.charts)) {
    expect(chart.error).toBeNull();
    expect(chart.svg).toBe(true);
    expect(chart.width).toBeGreaterThan(300);
    expect(chart.height).toBeGreaterThan(150);
    // The target line: the rate target, the p95 target, the trigger.
    expect(chart.rules).toBe(1);
  }
  // Throughput: a line and a point a second for the producer, two series a batch for the job.
  expect(page.charts['chart-throughput'].lines).toBe(3);
  expect(page.charts['chart-throughput'].symbols).toBe(t.produced_per_s.length + 2 * t.batches.length);
  expect(page.charts['chart-latency'].lines).toBe(2);
  expect(page.charts['chart-latency'].symbols).toBe(2 * t.e2e_latency_per_s.length);
  expect(page.charts['chart-batches'].bars).toBe(t.batches.length);
  expect(page.checks).toEqual(report.checks.map((c) => [c.name, c.target, c.actual, c.passed ? 'pass' : 'FAIL']));
}
