// config/examples/host.json on the page: this machine's CPU, memory, load, network and disk from
// /proc, live, for the README screenshot.
//
// Runs the example's topics (their intervals divided by 4, so the chart fills in seconds), opens
// `/`, and asserts: one card per topic, all `live`, each charting the fields its source reports
// (cpu: user/system/iowait; memory: used/available; load: 1m/5m/15m), memory's used + available
// equal to this machine's MemTotal, and no console error, failed response or foreign request.
// Saves artifacts/host-dashboard.png (the README's docs/host-dashboard.png is a copy of it).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';

import { foreignUrls, launchBrowser, readCard, waitForCard, watchPage } from './browser.mjs';
import { ARTIFACTS_DIR, Server, sleep } from './server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXAMPLE = path.resolve(HERE, '..', '..', 'config', 'examples', 'host.json');

// The example has // comments (the service accepts them; JSON.parse does not).
function exampleConfig() {
  const text = fs.readFileSync(EXAMPLE, 'utf8').replace(/^\s*\/\/.*$/gm, '');
  const cfg = JSON.parse(text);
  for (const topic of Object.values(cfg.topics)) topic.source.interval_ms /= 4;
  return cfg;
}

function memTotalBytes() {
  const line = fs.readFileSync('/proc/meminfo', 'utf8').split('\n').find((l) => l.startsWith('MemTotal:'));
  return Number(line.split(/\s+/)[1]) * 1024;
}

let server;
let browser;
after(async () => {
  await browser?.close().catch(() => {});
  await server?.dispose();
});

test('host dashboard: /proc readings live on the page', { timeout: 90000 }, async () => {
  const cfg = exampleConfig();
  assert.deepEqual(Object.keys(cfg.topics).sort(),
    ['host-cpu', 'host-disk', 'host-load', 'host-memory', 'host-network']);
  server = new Server(cfg);
  await server.start();
  // Some work for the CPU chart to show.
  const busyUntil = Date.now() + 6000;
  const busy = (async () => {
    while (Date.now() < busyUntil) {
      const end = Date.now() + 150;
      while (Date.now() < end) Math.sqrt(Math.random());
      await sleep(150);
    }
  })();
  await sleep(6000); // history before the page opens: it is replayed on load

  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
  const w = watchPage(page);
  await page.goto(server.url('/'), { waitUntil: 'load', timeout: 15000 });
  await page.selectOption('#window', '60');
  for (const [topic, points] of [['host-cpu', 20], ['host-memory', 10], ['host-load', 4], ['host-network', 20], ['host-disk', 20]])
    await waitForCard(page, topic, `${topic} live with >= ${points} points`,
      (c) => c.state === 'live' && c.points >= points, 15000, () => `\n${server.log()}`);
  await busy;

  const topics = await page.locator('section.card').evaluateAll((cs) => cs.map((c) => c.dataset.topic));
  assert.deepEqual(topics, ['host-cpu', 'host-disk', 'host-load', 'host-memory', 'host-network']);
  assert.equal((await readCard(page, 'host-cpu')).series, 3, 'cpu: user, system, iowait');
  assert.equal((await readCard(page, 'host-memory')).series, 2, 'memory: used, available');
  assert.equal((await readCard(page, 'host-load')).series, 3, 'load: 1m, 5m, 15m');
  assert.equal((await readCard(page, 'host-disk')).series, 2, 'disk: read, write');

  // The newest memory reading, as the page's own origin hands it to a WebSocket client.
  const memory = await page.evaluate((url) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onmessage = (e) => { resolve(JSON.parse(e.data)['host-memory']); ws.close(); };
    ws.onerror = () => reject(new Error('websocket failed'));
  }), `${server.wsOrigin}/topics/host-memory?last=1`);
  const total = memTotalBytes();
  assert.equal(memory.used + memory.available, total, 'used + available = MemTotal');
  assert.ok(memory.available > 0 && memory.used > 0, `plausible memory: ${JSON.stringify(memory)}`);

  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'host-dashboard.png') });
  assert.deepEqual(foreignUrls(w, [server.origin, server.wsOrigin]), [], 'only the service itself');
  assert.deepEqual(w.pageErrors, [], 'no uncaught exception');
  assert.deepEqual(w.badResponses, [], 'no response with status >= 400');
  assert.deepEqual(w.console, [], 'no console error or warning');
});
