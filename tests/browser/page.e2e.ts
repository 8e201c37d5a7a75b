// End-to-end test of examples/browser in a real browser: Debian's chromium driven headless by
// playwright-core (no browser download). Builds the page with Vite, serves it on 127.0.0.1, runs a
// few SFT + GANPO steps on each backend (wasm, cpu, webgl), checks that the curves and samples update
// and that the console has no errors, and saves screenshots plus step times under test-results/.
//
//   npm run test:browser            (CHROMIUM=/path/to/chrome to use another binary)
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { build, type PreviewServer, preview } from 'vite';

const config = 'examples/browser/vite.config.ts';
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const results = 'test-results';
// Without these flags Chromium makes background connections (updates, metrics) that fail and are logged
// on a machine without network access; a fresh profile keeps runs independent.
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface DemoSnapshot {
  state: string;
  backend: string;
  sftStep: number;
  step: number;
  stepMs: number[];
  chartPoints: Record<string, number>;
  samples: { step: number; prompt: string; answer: string; correct: boolean }[];
  metrics: Record<string, number | boolean>[];
  pause: boolean;
  paused: boolean;
  tensorDelta?: number;
  error?: string;
}

let outDir = '';
let profileDir = '';
let server: PreviewServer;
let context: BrowserContext;
let baseUrl = '';
const timings: Record<string, unknown> = {};

before(async () => {
  assert.ok(existsSync(executablePath), `no browser at ${executablePath} (apt-get install -y chromium)`);
  mkdirSync(results, { recursive: true });
  outDir = mkdtempSync(join(tmpdir(), 'ganpo-browser-'));
  profileDir = mkdtempSync(join(tmpdir(), 'ganpo-chromium-profile-'));
  await build({ configFile: config, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  server = await preview({
    configFile: config,
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false },
  });
  baseUrl = server.resolvedUrls?.local[0] ?? '';
  assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/, `preview must listen on 127.0.0.1 only: ${baseUrl}`);
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    args: chromiumFlags,
    viewport: { width: 1150, height: 1000 },
  });
});

after(async () => {
  writeFileSync(join(results, 'browser-timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
  await context?.close();
  await server?.close();
  rmSync(outDir, { recursive: true, force: true });
  rmSync(profileDir, { recursive: true, force: true });
});

const snapshot = (page: Page) =>
  page.evaluate(() => (window as unknown as { ganpoDemo: DemoSnapshot }).ganpoDemo);

/** Opens the page, trains, screenshots mid-training, and returns the final state and console errors. */
async function train(backend: string, sft: number, steps: number, screenshotAtStep: number) {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  try {
    // The page holds training after step `pauseAt` until told to go on: the screenshot shows it
    // mid-training, with the curves drawn so far.
    await page.goto(
      `${baseUrl}?backend=${backend}&sft=${sft}&steps=${steps}&sampleEvery=2&pauseAt=${screenshotAtStep}&autostart=1`,
    );
    await page.waitForFunction(
      () => {
        const d = (window as unknown as { ganpoDemo: DemoSnapshot }).ganpoDemo;
        return d.paused || d.state === 'error' || d.state === 'done';
      },
      undefined,
      { timeout: 240_000, polling: 100 },
    );
    const mid = await snapshot(page);
    assert.equal(mid.error, undefined, `page error: ${mid.error}`);
    await page.screenshot({ path: join(results, `browser-${backend}.png`), fullPage: true });
    await page.evaluate(() => {
      (window as unknown as { ganpoDemo: DemoSnapshot }).ganpoDemo.pause = false;
    });
    await page.waitForFunction(
      () =>
        ['done', 'error', 'stopped'].includes(
          (window as unknown as { ganpoDemo: DemoSnapshot }).ganpoDemo.state,
        ),
      undefined,
      { timeout: 240_000, polling: 100 },
    );
    return { final: await snapshot(page), mid, errors };
  } finally {
    await page.close();
  }
}

for (const { backend, sft, steps, shotAt } of [
  { backend: 'wasm', sft: 60, steps: 20, shotAt: 10 },
  { backend: 'cpu', sft: 4, steps: 4, shotAt: 2 },
  // Headless Chromium with --disable-gpu still has WebGL 2 through SwiftShader (software), so the
  // webgl backend's shaders and kernels are exercised too (slowly: the first steps compile shaders).
  { backend: 'webgl', sft: 2, steps: 4, shotAt: 2 },
]) {
  test(`trains GANPO on ${backend} in headless Chromium`, { timeout: 300_000 }, async () => {
    const { final, mid, errors } = await train(backend, sft, steps, shotAt);
    assert.equal(final.error, undefined, `page error: ${final.error}`);
    assert.equal(final.state, 'done');
    assert.equal(final.backend, backend);
    assert.equal(final.sftStep, sft);
    assert.equal(final.step, steps);
    assert.equal(final.metrics.length, steps);
    // Curves update: every chart gains points as steps complete, and the screenshot is mid-training.
    assert.equal(mid.state, 'training');
    assert.equal(mid.paused, true);
    assert.equal(mid.step, shotAt, 'screenshot step');
    assert.equal(final.chartPoints.loss, sft + steps);
    assert.equal(final.chartPoints.acc, steps);
    assert.equal(final.chartPoints.disc, 3 * steps);
    assert.equal(final.chartPoints.margin, steps);
    assert.ok((mid.chartPoints.disc ?? 0) < (final.chartPoints.disc ?? 0));
    for (const m of final.metrics) {
      for (const key of ['loss', 'ganpo/discriminator_loss_chosen', 'ganpo/discriminator_loss_rejected']) {
        assert.ok(Number.isFinite(m[key]), `step ${m.step}: ${key} = ${m[key]}`);
      }
      assert.equal(m.skipped, false);
    }
    // Samples: four greedy generations at step 0, every 2 steps and at the end.
    assert.ok(final.samples.length >= 8);
    assert.deepEqual(errors, [], `console errors on ${backend}`);
    assert.equal(final.tensorDelta, 0, 'tensors leaked by a whole run');
    const ms = [...final.stepMs].slice(1).sort((a, b) => a - b); // the first step compiles/allocates
    timings[backend] = {
      steps,
      tensorDelta: final.tensorDelta,
      firstStepMs: Math.round(final.stepMs[0] ?? Number.NaN),
      medianStepMs: Math.round(ms[Math.floor(ms.length / 2)] ?? Number.NaN),
      stepMs: final.stepMs.map(Math.round),
    };
    console.log(`${backend}: ${JSON.stringify(timings[backend])}`);
  });
}
