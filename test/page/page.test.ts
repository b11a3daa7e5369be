// The web page end to end in Debian's headless Chromium (driven by playwright-core): an
// embedded Foreshock fed with line protocol holding a known anomaly and a series heading for its
// threshold; the page must list the anomaly, and the chart must draw values, band, anomaly
// markers, the forecast cone and the threshold line. Screenshots go to the run's artifacts.

import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startForeshock, type RunningForeshock } from '../../cli/app.js';
import { loadConfig } from '../../shared/config/index.js';
import { silentLogger } from '../../shared/telemetry/index.js';
import { seedLines, type Seed } from '../api/seed.js';
import { requireService } from '../support/services.js';
import { waitFor } from '../support/wait.js';
import { tempDataDir } from '../support/data-dir.js';

const chromiumPath = requireService('chromium');
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(process.env.FORESHOCK_RUN_DIR || join(REPO, '.run'), 'artifacts');

describe.skipIf(!chromiumPath)('web page in headless Chromium', () => {
  let fs: RunningForeshock;
  let browser: Browser;
  let page: Page;
  let seed: Seed;
  const problems: string[] = [];
  const run = `page${process.pid}`;

  beforeAll(async () => {
    const { config } = loadConfig({
      env: {
        FORESHOCK_SERVER_HOST: '127.0.0.1', FORESHOCK_SERVER_PORT: '0', FORESHOCK_DATA_DIR: tempDataDir(), FORESHOCK_API_PUBLISH_INTERVAL: '200ms',
        FORESHOCK_DETECTOR_RULES: 'name=disk_used_ratio:threshold=0.9',
      },
    });
    fs = await startForeshock(config, silentLogger());
    seed = seedLines(run);
    expect((await fetch(`${fs.url}/api/v2/write?precision=ms`, { method: 'POST', body: seed.body })).status).toBe(204);
    await waitFor(async () => {
      const r = (await (await fetch(`${fs.url}/api/v1/anomalies?kind=anomaly_opened&host=${seed.anomalyHost}`)).json()) as { anomalies: unknown[] };
      const risks = (await (await fetch(`${fs.url}/api/v1/risks?host=${run}-h2`)).json()) as { risks: unknown[] };
      return r.anomalies.length > 0 && risks.risks.length > 0 ? true : null;
    }, 30_000);
    browser = await chromium.launch({ executablePath: chromiumPath!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await fs?.close();
  });

  it('loads, lists the seeded anomaly and the series about to breach', async () => {
    await page.goto(fs.url + '/');
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    const anomalyRow = page.locator(`#anomalies tbody tr[data-series='${seed.anomalyKey}'][data-kind="anomaly_opened"]`);
    await expect.poll(() => anomalyRow.count()).toBe(1);
    expect(await anomalyRow.locator('td').nth(3).innerText()).toMatch(/\S/); // the explanation
    const riskRow = page.locator(`#risks tbody tr[data-series='${seed.trendKey}']`);
    await expect.poll(() => riskRow.count()).toBe(1);
    expect(await riskRow.locator('td').nth(2).innerText()).toContain('0.9');
  });

  it('charts the anomalous series with its anomaly marker and forecast cone', async () => {
    await page.locator(`#anomalies tbody tr[data-series='${seed.anomalyKey}'][data-kind="anomaly_opened"]`).click();
    await expect.poll(() => page.locator('#chart-title').innerText()).toBe(seed.anomalyKey);
    await page.waitForSelector('#chart svg .anomaly-marker', { state: 'attached' });
    // The artifact first, so a failing assertion below still leaves the picture to look at.
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'page-anomaly.png'), fullPage: true });
    expect(await page.locator('#chart svg .cone').count()).toBe(1);
    expect(await page.locator('#chart svg .forecast-mean').count()).toBe(1);
    expect(await page.locator('#chart svg .values').count()).toBe(1);
    expect(await page.locator('#chart svg .band').count()).toBe(1);
  });

  it('charts the series heading for its threshold with cone and threshold line', async () => {
    await page.locator(`#risks tbody tr[data-series='${seed.trendKey}']`).click();
    await expect.poll(() => page.locator('#chart-title').innerText()).toBe(seed.trendKey);
    await page.waitForSelector('#chart svg .threshold', { state: 'attached' });
    const shot = join(ARTIFACTS, 'page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(await page.locator('#chart svg .cone').count()).toBe(1);
    expect(await page.locator('#chart svg .values').count()).toBe(1);
    // The chart's own count of the values it drew, and the excursion's anomaly marker.
    expect(Number(await page.locator('#chart').getAttribute('data-points'))).toBeGreaterThan(100);
    expect(await page.locator('#chart svg .anomaly-marker').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart svg .threshold-label').textContent()).toMatch(/0\.9/);
    // Everything the README's picture promises is there: keep it as the README's screenshot.
    copyFileSync(shot, join(REPO, 'docs', 'page.png'));
  });

  it('renders the OpenAPI document at /docs', async () => {
    await page.goto(fs.url + '/docs');
    await page.waitForSelector('#ops section');
    const titles = await page.locator('#ops section h2').allInnerTexts();
    expect(titles.some((t) => t.includes('/api/v1/risks'))).toBe(true);
    expect(titles.some((t) => t.includes('/api/v1/forecast'))).toBe(true);
    expect(await page.locator('#ops pre').count()).toBeGreaterThan(5); // the examples
  });

  it('ran without script errors or CSP violations', () => {
    expect(problems).toEqual([]);
  });
});
