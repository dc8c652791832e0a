// The original front end, unchanged: a static page opened from file:// (Origin `null`) that
// subscribes with new WebSocket("ws://127.0.0.1:PORT/happiness") and pushes
// JSON.parse(e.data)["happiness"] into a list (fixtures/original.html). Asserts >= 3 numeric
// readings in [0, 10) arrive within 10 s (happiness every 100 ms) with no uncaught exception.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { fmt, launchBrowser, watchPage } from './browser.mjs';
import { Server, fastConfig } from './server.mjs';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'original.html');

let server;
let browser;
after(async () => {
  await browser?.close().catch(() => {});
  await server?.dispose();
});

test('original client: file:// page (Origin null) receives happiness readings', { timeout: 60000 }, async () => {
  server = new Server(fastConfig());
  await server.start();
  browser = await launchBrowser();
  const page = await browser.newPage();
  const w = watchPage(page);
  const url = pathToFileURL(FIXTURE);
  url.search = `?port=${server.port}`;
  await page.goto(url.href, { waitUntil: 'load', timeout: 10000 });

  try {
    await page.waitForFunction(() => document.querySelectorAll('#readings li').length >= 3, null,
      { timeout: 10000, polling: 50 });
  } catch (e) {
    const status = await page.locator('#status').textContent().catch(() => '?');
    assert.fail(`fewer than 3 readings within 10 s (status: ${status}); console: ${fmt(w.console)}; ` +
      `page errors: ${fmt(w.pageErrors)}\nserver output:\n${server.log()}`);
  }
  const readings = await page.evaluate(() => window.readings.slice());
  const shown = await page.locator('#readings li').allTextContents();
  console.log(`${readings.length} readings: ${readings.slice(0, 10).join(', ')}`);
  assert.ok(readings.length >= 3);
  for (const v of readings) {
    assert.equal(typeof v, 'number', `reading ${fmt(v)} is a number`);
    assert.ok(v >= 0 && v < 10, `reading ${v} in [0, 10)`);
  }
  assert.deepEqual(shown.slice(0, 3), readings.slice(0, 3).map(String));
  assert.deepEqual(w.websockets.map((s) => s.url), [`ws://127.0.0.1:${server.port}/happiness`]);
  assert.deepEqual(w.pageErrors, [], 'no uncaught exception');
  assert.deepEqual(w.console.filter((c) => c.type === 'error'), [], 'no console error');
});
