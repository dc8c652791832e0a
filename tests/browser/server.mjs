// Starts the real happy-dashboard binary for the browser tests.
//
// The binary comes from $HAPPY_BINARY (default ../../build/happy-dashboard). Each server gets its
// config written to a temporary file, listens on 127.0.0.1 only, on a port found by binding port
// 0, and counts as started once GET /healthz answers 200. stop() sends SIGTERM and waits for the
// exit; start() again brings a new process up on the SAME port (a server restart as a browser sees
// it). Every process still running when the test process exits is killed, so a failing test never
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
    this.port = null;
    this.child = null;
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
    running.add(child);
    this.child = child;
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
    if (this.running) this.child.kill('SIGTERM');
    let timer;
    const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.kill();
      throw new Error(`happy-dashboard did not exit within ${timeoutMs} ms of SIGTERM; output:\n${this.log()}`);
    }
    return result.code;
  }

  /** Unconditional cleanup (SIGKILL if still running). Safe to call repeatedly. */
  kill() {
    if (this.running) {
      try { this.child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }

  /** kill(), wait for the exit (bounded) and remove the temp dir. */
  async dispose() {
    this.kill();
    if (this.exited) {
      let timer;
      await Promise.race([this.exited, new Promise((r) => { timer = setTimeout(r, 5000); })]);
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
