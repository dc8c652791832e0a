// A token-protected topic on a TLS server, opened by the page in headless Chromium.
//
// Everything a deployment has: a CA and a server certificate made with the openssl command,
// Chromium trusting that CA (an NSS database in a temporary HOME, made with certutil), the
// service on https with auth.jwt, and the application's backend played by a small Node https
// server that mints short-lived HS256 tokens with Node's crypto (not the server's libjwt).
//
// Asserts: the protected `sales` card goes live over wss with the token from auth.token_url;
// when the token expires the server closes with 4001, the page fetches a new token and resumes
// with ?since= without a gap; a token given as ?token= on the page URL works and is taken out of
// the address bar; no uncaught exception, console error or response >= 400 on the way.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { chromium } from 'playwright-core';

import { CHROMIUM, fmt, waitForCard as waitForTopicCard, watchPage } from './browser.mjs';
import { HOST, Server, freePort, sleep } from './server.mjs';

const SECRET = 'browser-test-secret-0123456789abcdef';
const TOKEN_LIFETIME_SEC = 8;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'happy-private-'));
const file = (name) => path.join(dir, name);
const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function makeCertificates() {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=happy browser test CA');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(file('ext.cnf'), `subjectAltName=DNS:localhost,IP:${HOST}\n`);
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
}

/** A HOME whose NSS database trusts the test CA: Chromium on Linux reads $HOME/.pki/nssdb. */
function homeTrustingTheCa() {
  const home = file('home');
  const nssdb = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(nssdb, { recursive: true });
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-N', '--empty-password'], { stdio: 'pipe' });
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-A', '-t', 'C,,', '-n', 'happy-test-ca', '-i', file('ca.pem')],
    { stdio: 'pipe' });
  return home;
}

const b64url = (data) => Buffer.from(data).toString('base64url');

function mintHs256(claims) {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify(claims));
  const signature = crypto.createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

const readerToken = (lifetimeSec) =>
  mintHs256({ exp: Math.floor(Date.now() / 1000) + lifetimeSec, read: ['sales'] });

let server;
let browser;
let backend;
after(async () => {
  await browser?.close().catch(() => {});
  backend?.close();
  await server?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('protected topic over https: token URL, renewal after expiry, ?token= on the page', { timeout: 90000 }, async () => {
  makeCertificates();

  // The application's backend: GET /token answers a fresh short-lived token to the page's origin.
  const backendPort = await freePort();
  let tokensIssued = 0;
  let pageOrigin = '';
  backend = https.createServer({ cert: fs.readFileSync(file('server.pem')), key: fs.readFileSync(file('server.key')) },
    (req, res) => {
      const cors = { 'Access-Control-Allow-Origin': pageOrigin, 'Access-Control-Allow-Credentials': 'true' };
      if (req.url !== '/token') {
        res.writeHead(404, cors).end();
        return;
      }
      tokensIssued++;
      res.writeHead(200, { ...cors, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ token: readerToken(TOKEN_LIFETIME_SEC) }));
    });
  backend.listen(backendPort, HOST);

  server = new Server({
    server: { tls: { cert_file: file('server.pem'), key_file: file('server.key') } },
    auth: { jwt: { algorithm: 'HS256', secret: SECRET }, token_url: `https://${HOST}:${backendPort}/token` },
    topics: {
      happiness: { generator: { interval_ms: 200 } },
      sales: { access: 'token', generator: { interval_ms: 100 } },
    },
  });
  // server.mjs probes /healthz over plain HTTP; on a TLS port that cannot answer, so wait here.
  server._waitHealthy = async (deadline) => {
    while (Date.now() < deadline) {
      if (!server.running) throw new Error('happy-dashboard exited early');
      if (/listening on .*TLS/.test(server.log())) return;
      await sleep(50);
    }
    throw new Error('no "listening" line');
  };
  await server.start();
  const origin = `https://${HOST}:${server.port}`;
  pageOrigin = origin;

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30000,
    env: { ...process.env, HOME: homeTrustingTheCa() },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } }); // no ignoreHTTPSErrors
  const page = await context.newPage();
  const w = watchPage(page);
  const waitForCard = (what, pred, timeoutMs) =>
    waitForTopicCard(page, 'sales', what, pred, timeoutMs, () => `\nserver output:\n${server.log()}`);

  const nav = await page.goto(`${origin}/?topics=sales`, { waitUntil: 'load', timeout: 15000 });
  assert.equal(nav.status(), 200, 'the page over https, with a certificate Chromium trusts');
  const first = await waitForCard('sales card live with points', (c) => c.state === 'live' && c.points >= 5, 15000);
  console.log(`sales card after load: ${fmt(first)}; tokens issued: ${tokensIssued}`);
  assert.ok(tokensIssued >= 1, 'the page fetched a token from auth.token_url');

  // The token runs out: 4001 from the server, a new token, a resume with since.
  const issuedBefore = tokensIssued;
  await sleep((TOKEN_LIFETIME_SEC + 2) * 1000);
  const later = await waitForCard('sales card live again after renewal',
    (c) => c.state === 'live' && c.lastSeq > first.lastSeq + 60, 15000);
  console.log(`sales card after expiry: ${fmt(later)}; tokens issued: ${tokensIssued}`);
  assert.ok(tokensIssued > issuedBefore, 'a new token was fetched after the old one expired');
  assert.equal(Number(later.gaps || 0), 0, 'no reading was lost across the renewal');
  assert.match(server.log(), /token expired: closing websocket topic=sales/);

  // A token on the page URL: used, and taken out of the address bar.
  const page2 = await context.newPage();
  const w2 = watchPage(page2);
  await page2.goto(`${origin}/?topics=sales&token=${readerToken(600)}`, { waitUntil: 'load', timeout: 15000 });
  await waitForTopicCard(page2, 'sales', 'sales card live via ?token=', (c) => c.state === 'live' && c.points >= 3, 15000);
  assert.doesNotMatch(page2.url(), /token=/, 'the token is removed from the address bar');

  for (const watch of [w, w2]) {
    assert.deepEqual(watch.pageErrors, [], 'no uncaught exception');
    assert.deepEqual(watch.badResponses, [], 'no response with status >= 400');
    assert.deepEqual(watch.console, [], 'no console error or warning');
  }
});
