// Day-long windows from the history file: a topic with 24 h of stored readings (one a second,
// 86,400 in all, written into the service's own file with Debian's sqlite3 tool while the service
// is stopped) is opened at /?topics=day and the 24 h window chosen. Asserts: the card draws the
// whole day from GET /topics/day/history (data-source "stored", spanning more than 23 h, one
// bucket per chart pixel) in under 1 s from the choice, measured in the page, with min/avg/max
// over the day from the buckets' own min and max and counts; live readings published afterwards
// are appended to it; the 24 h option is enabled (retention 2 d); switching to 5 min shows raw
// replayed readings again. No uncaught exception, console error or response >= 400.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { fmt, foreignUrls, launchBrowser, readCard, waitForCard, watchPage } from './browser.mjs';
import { Server, fastConfig } from './server.mjs';

const TOKEN = 'history-token-1';
const DAY_SEC = 86400;

let server;
let browser;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'happy-history-'));
after(async () => {
  await browser?.close().catch(() => {});
  await server?.dispose();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function publish(value) {
  const res = await fetch(server.url('/topics/day'), {
    method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(value),
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  assert.equal(res.status, 202, `POST /topics/day: ${res.status} ${text}`);
  return JSON.parse(text).seq;
}

test('24 h window: the whole stored day is drawn in under 1 s, then live readings follow', { timeout: 90000 }, async () => {
  const file = path.join(dataDir, 'history.db');
  server = new Server(fastConfig({
    publish: { tokens: [TOKEN] },
    storage: { path: file, retention: { max_age: '2d', max_readings_per_topic: 200000 } },
    topics: { day: {} },
  }));
  await server.start();
  assert.equal(await server.stop(), 0, 'clean stop creates the file');
  // 24 h of readings, one a second, ending now: a slow sine-like sawtooth between 0 and 10.
  const now = Date.now();
  execFileSync('sqlite3', [file, `
    UPDATE run_state SET value = 1 WHERE key = 'clean_shutdown';
    INSERT INTO topics (name, last_seq) VALUES ('day', ${DAY_SEC});
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${DAY_SEC})
    INSERT INTO readings SELECT (SELECT id FROM topics WHERE name = 'day'), i,
      ${now} - (${DAY_SEC} - i) * 1000, printf('%.3f', abs((i % 7200) - 3600) / 360.0) FROM n;`]);
  await server.start();

  browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const w = watchPage(page);
  await page.addInitScript(() => {
    window.__storedAt = null;
    new MutationObserver(() => {
      const c = document.querySelector('section.card[data-topic="day"]');
      if (window.__storedAt === null && c?.dataset.source === 'stored' && Number(c.dataset.points) > 0) {
        window.__storedAt = { ms: performance.now(), span: Number(c.dataset.spanSec), points: Number(c.dataset.points) };
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-source', 'data-points'] });
  });
  const nav = await page.goto(server.url('/?topics=day'), { waitUntil: 'load', timeout: 15000 });
  assert.equal(nav.status(), 200);
  await waitForCard(page, 'day', 'the day card live on its 5 min window', (c) => c.state === 'live' && c.points > 0, 10000, () => server.log());
  assert.equal(await page.locator('select#window option[value="86400"]').isDisabled(), false, 'retention 2 d offers 24 h');

  // Choosing 24 h: from the choice to the drawn day.
  const chosenAt = await page.evaluate(() => performance.now());
  await page.selectOption('select#window', '86400');
  await page.waitForFunction(() => window.__storedAt !== null, null, { timeout: 10000 });
  const drawn = await page.evaluate(() => window.__storedAt);
  const ms = drawn.ms - chosenAt;
  console.log(`24 h window drawn ${ms.toFixed(0)} ms after choosing it: ${drawn.points} buckets spanning ${(drawn.span / 3600).toFixed(2)} h`);
  assert.ok(ms < 1000, `the whole day must be drawn within 1 s, took ${ms.toFixed(0)} ms`);
  assert.ok(drawn.span > 23 * 3600, `the chart must span the day, spans ${drawn.span} s`);
  // One bucket per pixel of the chart's width, within the endpoint's bound.
  assert.ok(drawn.points >= 200 && drawn.points <= 2000, `buckets: ${drawn.points}`);
  // min/avg/max over the day are the readings' own, not the extremes of bucket averages
  // (the seeded sawtooth reaches 0 and 10 for one second each).
  const day = await readCard(page, 'day');
  assert.match(day.stats, /^min 0 avg (4\.9\d*|5(\.0\d*)?) max 10$/, `stats over the day: ${fmt(day)}`);

  // Live readings join the stored day.
  const before = await readCard(page, 'day');
  const seq = await publish(42);
  assert.equal(seq, DAY_SEC + 1, 'the seq continues from the stored one');
  const after = await waitForCard(page, 'day', 'the live reading appended', (c) => c.lastSeq === seq, 5000, () => server.log());
  assert.equal(after.points, before.points + 1, `points before ${fmt(before)} after ${fmt(after)}`);

  // Back to a short window: raw readings from the replay.
  await page.selectOption('select#window', '300');
  const short = await waitForCard(page, 'day', 'the 5 min window from the replay', (c) => c.points >= 1, 5000, () => server.log());
  assert.equal(await page.locator('section.card[data-topic="day"]').getAttribute('data-source'), 'replay', fmt(short));

  assert.deepEqual(w.pageErrors, [], 'uncaught exceptions');
  assert.deepEqual(w.console, [], 'console errors/warnings');
  assert.deepEqual(w.badResponses, [], 'responses >= 400');
  assert.deepEqual(foreignUrls(w, [server.origin, server.wsOrigin]), [], 'requests off the service origin');
});
