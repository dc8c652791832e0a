// Every distribution and an object-valued topic on one page, for the README screenshot.
//
// Runs one generator of each kind plus a publish-only `cpu` topic fed with {user, sys} objects,
// opens `/`, switches the window to 1 min, and asserts: five cards in topic order, all `live`,
// each with enough points for its rate, `cpu` charting two series, sine values within
// offset ± amplitude, and no console error, failed response or foreign request. Saves
// artifacts/showcase.png (the README's docs/dashboard.png is a copy of it).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { foreignUrls, launchBrowser, readCard, waitForCard, watchPage } from './browser.mjs';
import { ARTIFACTS_DIR, Server, sleep } from './server.mjs';

const TOKEN = 'showcase-token-1';
const generator = (interval_ms, distribution, params) => ({ generator: { interval_ms, distribution, ...params } });

let server;
let browser;
after(async () => {
  await browser?.close().catch(() => {});
  await server?.dispose();
});

test('showcase: every distribution and an object topic, live on one page', { timeout: 90000 }, async () => {
  server = new Server({
    publish: { tokens: [TOKEN] },
    topics: {
      happiness: generator(200, 'uniform', { min: 0, max: 10 }),
      temperature: generator(250, 'normal', { mean: 21.5, stddev: 0.4 }),
      stock: generator(150, 'random_walk', { start: 100, step: 1.5, min: 0, max: 200 }),
      tide: generator(100, 'sine', { period_ms: 8000, amplitude: 2, offset: 3 }),
      cpu: {},
    },
  });
  await server.start();
  const publishing = (async () => {
    for (let i = 0; i < 60; i++) {
      const res = await fetch(server.url('/topics/cpu'), {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ user: 20 + ((i * 37) % 40), sys: 5 + ((i * 13) % 10) }),
        signal: AbortSignal.timeout(5000),
      });
      assert.equal(res.status, 202, 'publish to cpu');
      await sleep(200);
    }
  })();
  await sleep(8000); // some history before the page opens: it is replayed on load

  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
  const w = watchPage(page);
  await page.goto(server.url('/'), { waitUntil: 'load', timeout: 15000 });
  await page.selectOption('#window', '60');
  for (const [topic, points] of [['happiness', 40], ['temperature', 30], ['stock', 50], ['tide', 80], ['cpu', 40]])
    await waitForCard(page, topic, `${topic} live with >= ${points} points`,
      (c) => c.state === 'live' && c.points >= points, 15000, () => `\n${server.log()}`);
  await publishing;

  const topics = await page.locator('section.card').evaluateAll((cs) => cs.map((c) => c.dataset.topic));
  assert.deepEqual(topics, ['cpu', 'happiness', 'stock', 'temperature', 'tide']);
  assert.equal((await readCard(page, 'cpu')).series, 2, 'cpu: user and sys');
  const tide = Number((await readCard(page, 'tide')).current);
  assert.ok(tide >= 1 && tide <= 5, `sine within offset ± amplitude, got ${tide}`);

  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'showcase.png') });
  assert.deepEqual(foreignUrls(w, [server.origin, server.wsOrigin]), [], 'only the service itself');
  assert.deepEqual(w.pageErrors, [], 'no uncaught exception');
  assert.deepEqual(w.badResponses, [], 'no response with status >= 400');
  assert.deepEqual(w.console, [], 'no console error or warning');
});
