// Headless Debian Chromium (/usr/bin/chromium, or $CHROMIUM) driven by playwright-core, and a
// watcher that records what a page did: console errors, uncaught exceptions, failed responses,
// and every URL it requested (to prove the page stays on the service's own origin).

import assert from 'node:assert/strict';

import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/**
 * Attaches listeners to page. Everything is kept with a timestamp and a `phase` label that the
 * test can move on (e.g. 'outage'), so errors Chromium itself logs while the server is down can
 * be told apart from errors before it.
 */
export function watchPage(page) {
  const w = {
    phase: 'start',
    console: [],        // {phase, type, text, location}
    pageErrors: [],     // {phase, message}
    badResponses: [],   // {phase, status, url}
    failedRequests: [], // {phase, url, failure}
    requests: [],       // {phase, url, resourceType}
    websockets: [],     // {phase, url}
    responses: [],      // {url, resourceType, status, request}
  };
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      w.console.push({ phase: w.phase, type: msg.type(), text: msg.text(), location: msg.location() });
    }
  });
  page.on('pageerror', (err) => w.pageErrors.push({ phase: w.phase, message: String(err.stack || err) }));
  page.on('request', (req) => w.requests.push({ phase: w.phase, url: req.url(), resourceType: req.resourceType() }));
  page.on('requestfailed', (req) => w.failedRequests.push({ phase: w.phase, url: req.url(), failure: req.failure()?.errorText }));
  page.on('websocket', (ws) => w.websockets.push({ phase: w.phase, url: ws.url() }));
  page.on('response', (res) => {
    w.responses.push({ url: res.url(), resourceType: res.request().resourceType(), status: res.status(), request: res.request() });
    if (res.status() >= 400) w.badResponses.push({ phase: w.phase, status: res.status(), url: res.url() });
  });
  return w;
}

/** URLs (requests and WebSockets) that did not go to one of the allowed origins. */
export function foreignUrls(w, allowedOrigins) {
  const ok = (u) => {
    if (u.startsWith('data:') || u.startsWith('blob:')) return true; // no network involved
    try { return allowedOrigins.includes(new URL(u).origin); } catch { return false; }
  };
  return [...w.requests, ...w.websockets].map((r) => r.url).filter((u) => !ok(u));
}

export const fmt = (x) => JSON.stringify(x, null, 1);

/** The contract attributes and texts of the card for topic, or null when there is none. */
export function readCard(page, topic) {
  return page.evaluate((name) => {
    const c = [...document.querySelectorAll('section.card')].find((el) => el.dataset.topic === name);
    if (!c) return null;
    return {
      state: c.dataset.state,
      points: Number(c.dataset.points),
      series: Number(c.dataset.series),
      lastSeq: Number(c.dataset.lastSeq),
      gaps: c.dataset.gaps,
      badge: c.querySelector('.badge')?.textContent.trim(),
      current: c.querySelector('.current')?.textContent.trim(),
      stats: c.querySelector('.stats')?.textContent.trim().replace(/\s+/g, ' '),
      rate: c.querySelector('.rate')?.textContent.trim(),
    };
  }, topic);
}

/** What the page shows when an expected card is missing (for failure messages). */
export async function pageSummary(page) {
  const body = await page.evaluate(() => document.body?.outerHTML ?? '(no body)').catch((e) => e.message);
  return `\npage ${page.url()} body: ${body.slice(0, 1500)}`;
}

/**
 * Polls the topic's card every 50 ms until pred(card) holds and returns it; otherwise fails
 * naming what the card showed, plus `await context()` (e.g. the server's log).
 */
export async function waitForCard(page, topic, what, pred, timeoutMs, context = () => '') {
  const deadline = Date.now() + timeoutMs;
  let card = null;
  while (Date.now() < deadline) {
    card = await readCard(page, topic);
    if (card && pred(card)) return card;
    await new Promise((r) => setTimeout(r, 50));
  }
  let extra = card ? '' : await pageSummary(page);
  try { extra += await context(); } catch (e) { extra += `\n(context unavailable: ${e.message})`; }
  throw new assert.AssertionError({
    message: `timed out after ${timeoutMs} ms waiting for ${what}; card was ${fmt(card)}${extra}`,
  });
}
