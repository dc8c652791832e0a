// A publish-only topic whose values are objects, shown on /?topics=objects.
//
// Publishes {"user": x, "sys": y, "host": "a"} with POST /topics/objects (Bearer token) before
// the page opens and while it is open. Asserts: only the `objects` card is shown (the filter
// hides `happiness`), it is `live`, charts two series (user and sys; the string `host` is not a
// series) and >= 30 points; no uncaught exception, console error or response >= 400. A publish
// answered 404/405 fails with a message saying the publish API is missing.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { fmt, foreignUrls, launchBrowser, waitForCard as waitForTopicCard, watchPage } from './browser.mjs';
import { Server, fastConfig, sleep } from './server.mjs';

const TOKEN = 'test-token-123';

let server;
let browser;
after(async () => {
  await browser?.close().catch(() => {});
  await server?.dispose();
});

let published = 0;
async function publish(value) {
  const res = await fetch(server.url('/topics/objects'), {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(value),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  if (res.status === 404 || res.status === 405) {
    assert.fail(`POST /topics/objects answered ${res.status} ${text}: the publish API is not there ` +
      '(expected 202 {"topic":"objects","seq":n})');
  }
  assert.equal(res.status, 202, `POST /topics/objects answered ${res.status} ${text}`);
  const body = JSON.parse(text);
  assert.equal(body.topic, 'objects');
  published++;
  assert.equal(body.seq, published, `seq of publish #${published}`);
}

const waitForCard = (page, what, pred, timeoutMs) =>
  waitForTopicCard(page, 'objects', what, pred, timeoutMs, () => `\nserver output:\n${server.log()}`);

const reading = (i) => ({ user: 10 + (i % 7) * 1.5, sys: 2 + (i % 3) * 0.5, host: 'a' });

test('object topic: two numeric fields chart as two series', { timeout: 60000 }, async () => {
  server = new Server(fastConfig({ publish: { tokens: [TOKEN] }, topics: { objects: {} } }));
  await server.start();

  for (let i = 0; i < 10; i++) await publish(reading(i)); // before the page opens

  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const w = watchPage(page);
  const nav = await page.goto(server.url('/?topics=objects'), { waitUntil: 'load', timeout: 15000 });
  assert.equal(nav.status(), 200, 'GET /?topics=objects status');
  await waitForCard(page, 'objects card `live`', (c) => c.state === 'live', 10000);

  for (let i = 10; i < 40; i++) { // while it is open
    await publish(reading(i));
    await sleep(30);
  }
  const card = await waitForCard(page, 'objects card with data-points >= 30 and data-last-seq 40',
    (c) => c.points >= 30 && c.lastSeq === 40, 10000);
  console.log(`objects card: ${fmt(card)}`);
  assert.equal(card.series, 2, 'data-series: user and sys are numeric, host is ignored');
  assert.equal(card.state, 'live');
  assert.equal(card.badge, 'live');

  const topics = await page.locator('section.card').evaluateAll((cs) => cs.map((c) => c.dataset.topic));
  assert.deepEqual(topics, ['objects'], '/?topics=objects shows only the objects card');

  assert.deepEqual(foreignUrls(w, [server.origin, server.wsOrigin]), [], 'every request goes to the service\'s own origin');
  assert.deepEqual(w.pageErrors, [], 'no uncaught exception');
  assert.deepEqual(w.badResponses, [], 'no response with status >= 400');
  assert.deepEqual(w.console, [], 'no console error or warning');
});
