// Black-box tests of happy-dashboard with the Node `ws` client (the library most Node
// consumers use). Run: npm ci && HAPPY_BINARY=/path/to/happy-dashboard node --test
//
// Starts the real binary on a free loopback port with a 100 ms generator config. Afterwards it
// gets SIGTERM and must exit 0 with no sanitizer report in its stderr (so LeakSanitizer runs in
// a sanitizer build); it is always gone then. Every wait is bounded.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const HOST = '127.0.0.1';
const TOKEN = 'node-ws-token-1';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const BINARY = process.env.HAPPY_BINARY || path.resolve(HERE, '..', '..', 'build', 'happy-dashboard');

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(200, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// An AddressSanitizer build: by its path (build-asan/...) or libasan among its needed libraries
// (the dynamic string table sits near the start of the file).
function isSanitizerBuild() {
  if (BINARY.toLowerCase().includes('asan')) return true;
  try {
    const fd = openSync(BINARY, 'r');
    try {
      const buf = Buffer.alloc(8 * 1024 * 1024);
      return buf.subarray(0, readSync(fd, buf)).includes('libasan.so');
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

// A sanitizer's report: the ERROR/WARNING header of AddressSanitizer, LeakSanitizer (any
// *Sanitizer), their deadly-signal and fatal-error lines, UBSan's "<file>:<line>:<col>: runtime error:".
const SANITIZER_REPORT =
  /(?:ERROR|WARNING): [A-Za-z]*Sanitizer|[A-Za-z]+Sanitizer(?::DEADLYSIGNAL| has encountered)|: runtime error: /;

// What a failure message shows of stderr: 60 lines from the first sanitizer report on, else the last 60.
function stderrExcerpt(text, n = 60) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const first = lines.findIndex((l) => SANITIZER_REPORT.test(l));
  const shown = first >= 0 ? lines.slice(first, first + n) : lines.slice(-n);
  const where = first >= 0 ? `lines ${first + 1}-${first + shown.length}` : `last ${shown.length} lines`;
  return [`--- stderr, ${where} of ${lines.length}:`, ...shown].join('\n');
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function startServer() {
  const dir = mkdtempSync(path.join(tmpdir(), 'happy-node-'));
  const configPath = path.join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({
    publish: { tokens: [TOKEN] },
    limits: { history: 1000 },
    topics: {
      happiness: { generator: { interval_ms: 100, distribution: 'uniform', min: 0, max: 10 } },
      x: {},
    },
  }));
  const port = await freePort();
  const env = { ...process.env };
  delete env.PORT;
  const proc = spawn(BINARY, ['--config', configPath, '--port', String(port)],
    { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  let exited = false;
  proc.once('exit', () => { exited = true; });
  proc.once('error', (e) => { exited = true; stderr += String(e); });
  // 'close': the process is gone and its stderr read to the end (a leak report comes last).
  const closed = new Promise((r) => proc.once('close', (code, signal) => r({ code, signal })));
  const kill = async () => {
    if (!exited) proc.kill('SIGKILL');
    await withTimeout(closed, 5000, 'server exit').catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  // SIGTERM; it must exit 0 within the default shutdown grace (10 s) plus a margin, generous
  // under a sanitizer (slower, and LeakSanitizer scans the heap at exit), and print no report.
  const stop = async () => {
    const problems = [];
    try {
      const wasRunning = !exited;
      if (wasRunning) proc.kill('SIGTERM');
      const boundMs = 10000 + (isSanitizerBuild() ? 30000 : 10000);
      const result = await withTimeout(closed, boundMs, 'exit').catch(() => null);
      if (result === null) {
        problems.push(`did not exit within ${boundMs / 1000} s of SIGTERM (killed)`);
      } else if (result.code !== 0) {
        const when = wasRunning ? 'after SIGTERM' : 'before the cleanup';
        problems.push(`exited with ${result.signal ?? result.code} ${when}, not 0`);
      }
    } finally {
      await kill();
    }
    if (SANITIZER_REPORT.test(stderr)) problems.push('sanitizer report in stderr');
    if (problems.length) {
      throw new Error(`happy-dashboard on port ${port}: ${problems.join('; ')}\n${stderrExcerpt(stderr)}`);
    }
  };
  const deadline = Date.now() + 10000;
  while (!(await portAccepts(port))) {
    if (exited || Date.now() > deadline) {
      await kill();
      throw new Error(`happy-dashboard (${BINARY}) did not start on ${port}:\n${stderr}`);
    }
    await sleep(50);
  }
  return { port, stop, stderr: () => stderr };
}

// Polls GET /topics until `topic` has at least n subscribers (bounded).
async function waitForSubscribers(port, topic, n, ms = 5000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    const res = await fetch(`http://${HOST}:${port}/topics`, { signal: AbortSignal.timeout(2000) });
    last = (await res.json()).find((t) => t.name === topic);
    if (last && last.subscribers >= n) return;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${n} subscribers on ${topic}; `
        + `last: ${JSON.stringify(last)}`);
    }
    await sleep(20);
  }
}

// Opens a ws connection and buffers every text message from the start, so none is missed
// between 'open' and the first read.
function connect(url, options = {}) {
  const ws = new WebSocket(url, options);
  const messages = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    assert.equal(isBinary, false, 'topic streams are text frames');
    messages.push(data.toString('utf8'));
    for (const w of waiters.splice(0)) w();
  });
  ws.on('error', () => {}); // reported through `opened`; later errors show up as a close
  const opened = withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`HTTP ${res.statusCode}`));
      res.resume();
      ws.terminate();
    });
  }), 5000, `open ${url}`);
  opened.catch(() => {}); // a test that expects a refusal awaits it itself
  // Waits until at least n messages arrived (bounded).
  const atLeast = (n, ms = 10000) => withTimeout((async () => {
    while (messages.length < n) {
      if (ws.readyState === WebSocket.CLOSED) throw new Error(`closed after ${messages.length}`);
      await new Promise((r) => { waiters.push(r); setTimeout(r, 100); });
    }
    return messages.slice(0, n);
  })(), ms, `${n} messages on ${url} (have ${messages.length})`);
  const close = () => new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', resolve);
    setTimeout(() => { ws.terminate(); resolve(); }, 2000);
    ws.close();
  });
  return { ws, messages, opened, atLeast, close };
}

describe('happy-dashboard with the ws client', () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { if (server) await server.stop(); });

  test('three ws clients on /happiness receive identical envelopes in order', async () => {
    const url = `ws://${HOST}:${server.port}/happiness`;
    const clients = [connect(url), connect(url), connect(url)];
    try {
      await Promise.all(clients.map((c) => c.opened));
      await Promise.all(clients.map((c) => c.atLeast(12)));
      const parsed = clients.map((c) => c.messages.map((m) => JSON.parse(m)));
      for (const envs of parsed) {
        for (const e of envs) {
          assert.deepEqual(Object.keys(e).sort(), ['happiness', 'seq', 'topic', 'ts']);
          assert.equal(e.topic, 'happiness');
          assert.ok(e.happiness >= 0 && e.happiness <= 10, `value ${e.happiness}`);
        }
        envs.forEach((e, i) => { if (i) assert.equal(e.seq, envs[i - 1].seq + 1, 'consecutive'); });
      }
      // Compare the range all three saw: the exact same frames, byte for byte.
      const lo = Math.max(...parsed.map((p) => p[0].seq));
      const hi = Math.min(...parsed.map((p) => p[p.length - 1].seq));
      assert.ok(hi - lo >= 8, `common range ${lo}..${hi}`);
      const common = clients.map((c) => c.messages.filter((m) => {
        const { seq } = JSON.parse(m);
        return seq >= lo && seq <= hi;
      }));
      assert.equal(common[0].length, hi - lo + 1);
      assert.deepEqual(common[1], common[0]);
      assert.deepEqual(common[2], common[0]);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });

  test('200 values from a ws publisher (ack=1) reach a ws subscriber in order', async () => {
    const n = 200;
    const sub = connect(`ws://${HOST}:${server.port}/topics/x`);
    const pub = connect(`ws://${HOST}:${server.port}/topics/x/publish?token=${TOKEN}&ack=1`);
    try {
      await Promise.all([sub.opened, pub.opened]);
      await waitForSubscribers(server.port, 'x', 1); // registered before the first value
      const values = Array.from({ length: n }, (_, i) => (i % 2 ? { i, s: `v${i}` } : i / 4));
      const started = process.hrtime.bigint();
      for (const v of values) pub.ws.send(JSON.stringify(v));
      const acks = (await pub.atLeast(n)).map((m) => JSON.parse(m));
      assert.deepEqual(acks, values.map((_, i) => ({ seq: i + 1 })));
      const envs = (await sub.atLeast(n)).map((m) => JSON.parse(m));
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.deepEqual(envs.map((e) => e.seq), values.map((_, i) => i + 1));
      assert.deepEqual(envs.map((e) => e.x), values);
      assert.ok(envs.every((e) => e.topic === 'x'));
      console.log(`ws publisher -> ws subscriber: ${n} values in ${ms.toFixed(1)} ms`);
    } finally {
      await Promise.all([sub.close(), pub.close()]);
    }
  });

  test('a publisher without a token is refused before the upgrade', async () => {
    const pub = connect(`ws://${HOST}:${server.port}/topics/x/publish`);
    await assert.rejects(pub.opened, /HTTP 401/);
    await pub.close();
  });
});
