// Starts the real happy-dashboard binary for the browser tests.
//
// The binary comes from $HAPPY_BINARY (default ../../build/happy-dashboard). Each server gets its
// config written to a temporary file, listens on 127.0.0.1 only, on a port found by binding port
// 0, and counts as started once GET /healthz answers 200. stop() sends SIGTERM and waits for the
// exit; start() again brings a new process up on the SAME port (a server restart as a browser sees
// it). dispose(), in each test file's after(), ends the server with SIGTERM and fails unless it
// exits 0 and its output holds no sanitizer report (so LeakSanitizer runs in a sanitizer build).
// Every process still running when the test process exits is killed, so a failing test never
// leaves a server behind. $HAPPY_WEB_ROOT, when set, is passed as --web-root (to test a page in
// web/ that is not yet built into the binary).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const HOST = '127.0.0.1';
export const ARTIFACTS_DIR = process.env.HAPPY_ARTIFACTS || path.join(HERE, 'artifacts');

export function binaryPath() {
  const p = process.env.HAPPY_BINARY || path.resolve(HERE, '..', '..', 'build', 'happy-dashboard');
  try {
    fs.accessSync(p, fs.constants.X_OK);
  } catch {
    // Fail rather than skip: a missing binary must not look like a passing suite.
    throw new Error(`happy-dashboard binary not found or not executable at ${p} (set HAPPY_BINARY)`);
  }
  return p;
}

/** A port that was free a moment ago: bind port 0 on loopback, read it, close. */
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, HOST);
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/** The acceptance config: `happiness` produces a uniform 0..10 reading every intervalMs. */
export function fastConfig({ intervalMs = 100, history = 600, topics = {}, ...topLevel } = {}) {
  return {
    limits: { history },
    topics: {
      happiness: { generator: { interval_ms: intervalMs, distribution: 'uniform', min: 0, max: 10 } },
      ...topics,
    },
    ...topLevel,
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An AddressSanitizer build: by its path (build-asan/...) or libasan among its needed libraries. */
export function isSanitizerBuild(p = binaryPath()) {
  if (p.toLowerCase().includes('asan')) return true;
  try {
    const fd = fs.openSync(p, 'r');
    try {
      const buf = Buffer.alloc(8 * 1024 * 1024);  // the dynamic string table sits near the start
      return buf.subarray(0, fs.readSync(fd, buf)).includes('libasan.so');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

// A sanitizer's report: the ERROR/WARNING header of AddressSanitizer, LeakSanitizer (any
// *Sanitizer), their deadly-signal and fatal-error lines, UBSan's "<file>:<line>:<col>: runtime error:".
export const SANITIZER_REPORT =
  /(?:ERROR|WARNING): [A-Za-z]*Sanitizer|[A-Za-z]+Sanitizer(?::DEADLYSIGNAL| has encountered)|: runtime error: /;

/** What a failure message shows of a server's output: 60 lines from the first sanitizer report on, else the last 60. */
export function outputExcerpt(text, n = 60) {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const first = lines.findIndex((l) => SANITIZER_REPORT.test(l));
  const shown = first >= 0 ? lines.slice(first, first + n) : lines.slice(-n);
  const where = first >= 0 ? `lines ${first + 1}-${first + shown.length}` : `last ${shown.length} lines`;
  return [`--- output, ${where} of ${lines.length}:`, ...shown].join('\n');
}

/** Resolves to what `promise` resolves to, or to 'timeout' after ms. */
async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

export class Server {
  /**
   * config: an object (loopback host and a short shutdown grace are added unless given).
   * Call start() to run it; port is chosen on the first start and kept afterwards.
   */
  constructor(config, { args = [], env = {} } = {}) {
    const cfg = structuredClone(config);
    cfg.server = { host: HOST, shutdown_grace_ms: 3000, ...(cfg.server || {}) };
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'happy-browser-'));
    this.configPath = path.join(this.dir, 'config.json');
    fs.writeFileSync(this.configPath, JSON.stringify(cfg, null, 2));
    this.args = [...args];
    if (process.env.HAPPY_WEB_ROOT) this.args.push('--web-root', process.env.HAPPY_WEB_ROOT);
    this.env = env;
    this.graceMs = cfg.server.shutdown_grace_ms ?? 10000;
    this.port = null;
    this.child = null;
    this.stoppedByTest = false; // this process ended by stop() or kill(): the test checks its exit
    this.logs = []; // stderr+stdout of every process, in order, for failure messages
    this.exitCode = null;
  }

  get origin() { return `http://${HOST}:${this.port}`; }
  get wsOrigin() { return `ws://${HOST}:${this.port}`; }
  url(p = '/') { return this.origin + p; }
  log() { return this.logs.join(''); }
  get running() { return this.child !== null && this.child.exitCode === null && this.child.signalCode === null; }

  /** Spawns the binary and waits until /healthz answers 200 (timeoutMs). */
  async start({ timeoutMs = 10000 } = {}) {
    if (this.running) throw new Error('server already running');
    if (this.port === null) this.port = await freePort();
    const deadline = Date.now() + timeoutMs;
    // A restart may race the old socket's release; "cannot listen" (exit 1) is retried.
    for (let attempt = 1; ; attempt++) {
      this._spawn();
      try {
        await this._waitHealthy(deadline);
        return this;
      } catch (err) {
        const code = this.child.exitCode;
        this.kill();
        if (code === 1 && Date.now() + 300 < deadline) {
          await sleep(200);
          continue;
        }
        throw new Error(`${err.message} (attempt ${attempt}); server output:\n${this.log()}`);
      }
    }
  }

  _spawn() {
    const env = { ...process.env, ...this.env };
    delete env.PORT;
    const argv = ['--config', this.configPath, '--port', String(this.port), ...this.args];
    this.logs.push(`--- start ${binaryPath()} ${argv.join(' ')}\n`);
    const child = spawn(binaryPath(), argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => this.logs.push(d));
    child.stderr.on('data', (d) => this.logs.push(d));
    child.on('error', (e) => this.logs.push(`spawn error: ${e.message}\n`));
    this.exited = once(child, 'exit').then(([code, signal]) => {
      running.delete(child);
      this.exitCode = code;
      this.logs.push(`--- exited code=${code} signal=${signal}\n`);
      return { code, signal };
    });
    this.outputClosed = once(child, 'close'); // the last output (a leak report) read
    running.add(child);
    this.child = child;
    this.stoppedByTest = false;
  }

  async _waitHealthy(deadline) {
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`happy-dashboard exited (code ${this.child.exitCode}) before /healthz answered`);
      try {
        const res = await fetch(this.url('/healthz'), { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
        last = `status ${res.status}`;
      } catch (e) {
        last = e.cause?.code || e.message;
      }
      await sleep(50);
    }
    throw new Error(`happy-dashboard on port ${this.port}: GET /healthz did not answer 200 in time (${last})`);
  }

  /** SIGTERM, then wait for the exit; SIGKILL and throw after timeoutMs. Returns the exit code. */
  async stop({ timeoutMs = 10000 } = {}) {
    if (!this.child) return null;
    this.stoppedByTest = true;
    if (this.running) this.child.kill('SIGTERM');
    const result = await within(this.exited, timeoutMs);
    if (result === 'timeout') {
      this.kill();
      throw new Error(`happy-dashboard did not exit within ${timeoutMs} ms of SIGTERM; output:\n${this.log()}`);
    }
    return result.code;
  }

  /** SIGKILL if still running (its exit is the caller's to check). Safe to call repeatedly. */
  kill() {
    if (this.child) this.stoppedByTest = true;
    if (this.running) {
      try { this.child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }

  /**
   * The end of every test's server (in after()): a process the test did not stop itself (stop(),
   * kill()) gets SIGTERM and must exit 0 within the shutdown grace plus a margin (generous under a
   * sanitizer: slower, and LeakSanitizer scans the heap at exit); the output of every process this
   * Server ran must hold no sanitizer report. Throws naming the problems, with an excerpt of the
   * output. Always leaves no process behind and removes the temp dir.
   */
  async dispose() {
    const problems = [];
    try {
      if (this.child && !this.stoppedByTest) {
        const wasRunning = this.running;
        if (wasRunning) this.child.kill('SIGTERM');
        const boundMs = this.graceMs + (isSanitizerBuild() ? 30000 : 10000);
        const result = await within(this.exited, boundMs);
        if (result === 'timeout') {
          problems.push(`did not exit within ${boundMs / 1000} s of SIGTERM (killed)`);
        } else if (result.code !== 0) {
          const when = wasRunning ? 'after SIGTERM' : 'before the cleanup';
          problems.push(`exited with ${result.signal ?? result.code} ${when}, not 0`);
        }
      }
    } finally {
      this.kill();
      if (this.child) await within(Promise.all([this.exited, this.outputClosed]), 5000);
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
    if (SANITIZER_REPORT.test(this.log())) problems.push('sanitizer report in its output');
    if (problems.length) {
      throw new Error(`happy-dashboard on port ${this.port}: ${problems.join('; ')}\n${outputExcerpt(this.log())}`);
    }
  }
}
