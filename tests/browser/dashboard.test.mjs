// The dashboard page at / in headless Chromium, against the real binary (happiness every 100 ms).
//
// Asserts: the happiness card charts >= 20 readings within 15 s with badge `live`; before the
// outage there is no console error/warning, no response >= 400 (a missing favicon counts) and no
// uncaught exception; every request and WebSocket stays on the service's own origin. Prints the
// page load time (navigation start -> load event) and the JS+CSS bytes transferred, saves a
// 1280x800 screenshot (artifacts/dashboard.png). Then SIGTERMs the service: the badge must say
// `reconnecting` within 5 s; starts a new process on the same port (its seq restarts at 1): the
// card must be `live` again and chart >= 10 more readings within 15 s. Uncaught exceptions fail
// the test at any time; console errors during the outage (Chromium's own about the failed
// WebSocket) are expected.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';

import { fmt, foreignUrls, launchBrowser, readCard, waitForCard, watchPage } from './browser.mjs';
import { ARTIFACTS_DIR, Server, fastConfig, sleep } from './server.mjs';

const TOPIC = 'happiness';
const CARD = `section.card[data-topic="${TOPIC}"]`;

let server;
let browser;
after(async () => {
  await browser?.close().catch(() => {});
  await server?.dispose();
});

test('dashboard: live chart, own origin only, no errors, survives a server restart', { timeout: 90000 }, async () => {
  server = new Server(fastConfig());
  await server.start();
  const serverLog = () => `\nserver output:\n${server.log()}`;
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const w = watchPage(page);

  // Record every data-state a card takes (shown in failure messages and the output).
  await page.addInitScript(() => {
    window.__states = [];
    const seen = new WeakMap();
    const record = () => {
      for (const c of document.querySelectorAll('section.card')) {
        if (seen.get(c) !== c.dataset.state) {
          seen.set(c, c.dataset.state);
          window.__states.push({ t: Math.round(performance.now()), topic: c.dataset.topic, state: c.dataset.state });
        }
      }
    };
    new MutationObserver(record).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  });

  const t0 = Date.now();
  const nav = await page.goto(server.url('/'), { waitUntil: 'load', timeout: 15000 });
  assert.equal(nav.status(), 200, 'GET / status');

  const card = await waitForCard(page, TOPIC, 'happiness card with data-points >= 20', (c) => c.points >= 20, 15000, serverLog);
  console.log(`happiness card reached ${card.points} points ${Date.now() - t0} ms after navigation: ${fmt(card)}`);
  assert.equal(card.state, 'live', 'data-state');
  assert.equal(card.badge, 'live', '.badge text');
  assert.equal(card.series, 1, 'data-series for a number topic');
  assert.ok(card.lastSeq >= 1, `data-last-seq should be a seq >= 1, got ${card.lastSeq}`);
  assert.ok(await page.locator('select#window').count() === 1, 'select#window exists');
  const windowOptions = await page.locator('select#window option').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(windowOptions, ['60', '300', '3600', '21600', '86400'], 'select#window options');
  // Without a history file the windows beyond the in-memory history are not offered.
  const disabled = await page.locator('select#window option:disabled').evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(disabled, ['21600', '86400'], 'windows needing a history file are disabled');
  assert.equal(await page.locator(`main#cards ${CARD}`).count(), 1, 'card inside main#cards');

  // Page load time and JS+CSS transfer size.
  const timing = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return { load_ms: n.loadEventStart - n.startTime, loadEnd_ms: n.loadEventEnd - n.startTime,
      domContentLoaded_ms: n.domContentLoadedEventEnd - n.startTime };
  });
  const assets = [];
  for (const r of w.responses) {
    const isCode = ['script', 'stylesheet'].includes(r.resourceType) || /\.(m?js|css)(\?|$)/.test(new URL(r.url).pathname);
    if (!isCode) continue;
    const sizes = await r.request.sizes();
    assets.push({ url: new URL(r.url).pathname, status: r.status, bodyBytes: sizes.responseBodySize,
      headerBytes: sizes.responseHeadersSize });
  }
  const jsCssBytes = assets.reduce((s, a) => s + a.bodyBytes, 0);
  console.log(`page load time (navigation start -> load event): ${timing.load_ms.toFixed(1)} ms ` +
    `(DOMContentLoaded ${timing.domContentLoaded_ms.toFixed(1)} ms)`);
  console.log(`JS+CSS transferred: ${jsCssBytes} bytes of response bodies in ${assets.length} files ` +
    `(+${assets.reduce((s, a) => s + a.headerBytes, 0)} header bytes): ${fmt(assets)}`);

  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const shot = path.join(ARTIFACTS_DIR, 'dashboard.png');
  await page.screenshot({ path: shot });
  console.log(`screenshot: ${shot}`);

  const origins = [server.origin, server.wsOrigin];
  assert.deepEqual(foreignUrls(w, origins), [], 'every request goes to the service\'s own origin');
  assert.ok(w.websockets.length >= 1, 'the page opened a WebSocket');
  assert.deepEqual(w.badResponses, [], 'no response with status >= 400 (a missing favicon counts)');
  assert.deepEqual(w.failedRequests, [], 'no failed request before the outage');
  assert.deepEqual(w.console, [], 'no console error or warning before the outage');
  assert.deepEqual(w.pageErrors, [], 'no uncaught exception');

  // Outage: SIGTERM the service; the badge must say `reconnecting`.
  const before = await readCard(page, TOPIC);
  w.phase = 'outage';
  const tStop = Date.now();
  const code = await server.stop();
  assert.equal(code, 0, `exit code after SIGTERM${serverLog()}`);
  const states = () => page.evaluate(() => window.__states).then((s) => `\nstate log: ${fmt(s)}`);
  const down = await waitForCard(page, TOPIC, 'badge `reconnecting` after SIGTERM',
    (c) => c.state === 'reconnecting' && c.badge === 'reconnecting', 5000, states);
  console.log(`reconnecting ${Date.now() - tStop} ms after SIGTERM: ${fmt(down)}`);

  // Stay down a little (a realistic restart): the page's retries must fail quietly.
  await sleep(1500);
  const during = await readCard(page, TOPIC);
  assert.equal(during.state, 'reconnecting', `data-state while the service is still down: ${fmt(during)}`);

  // Restart on the same port: a new process whose seq starts at 1 again.
  await server.start();
  const tStart = Date.now();
  w.phase = 'restarted';
  const base = (await readCard(page, TOPIC)).points;
  const back = await waitForCard(page, TOPIC, `live again with data-points >= ${base + 10} after the restart`,
    (c) => c.state === 'live' && c.badge === 'live' && c.points >= base + 10, 15000,
    async () => `\npoints before outage ${before.points}, at restart ${base}${await states()}${serverLog()}`);
  console.log(`live again, ${back.points} points (${back.points - base} since restart) ` +
    `${Date.now() - tStart} ms after the restart: ${fmt(back)}`);
  console.log(`data-last-seq before the outage ${before.lastSeq}, after the restart ${back.lastSeq}; ` +
    `data-gaps before ${before.gaps}, after ${back.gaps}`);
  console.log(`states seen: ${fmt(await page.evaluate(() => window.__states))}`);

  // Chromium logs its own errors for the refused WebSocket connections while the service is down
  // (and possibly one in flight as it comes back): shown, not failed.
  const laterConsole = w.console.filter((c) => c.phase !== 'start');
  if (laterConsole.length) console.log(`console during/after the outage (not failed): ${fmt(laterConsole)}`);
  assert.deepEqual(w.pageErrors, [], 'no uncaught exception at any time');
  assert.deepEqual(w.badResponses, [], 'no response with status >= 400 at any time');
  assert.deepEqual(foreignUrls(w, origins), [], 'every request goes to the service\'s own origin');
  await context.close();
});
