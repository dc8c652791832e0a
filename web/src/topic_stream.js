// topic_stream.js — one topic's WebSocket: connect, reconnect with backoff, resume.
//
// First connection asks for `?last=<n>` (history to fill the chart), every later one
// for `?since=<last seq seen>` so nothing history still holds is missed. Each envelope
// is classified against the last seq seen before it is handed on:
//   "first"   nothing seen before
//   "next"    seq = last + 1
//   "gap"     seq > last + 1 (history no longer holds what is between)
//   "restart" seq <= last as the first envelope of a new connection (server restarted)
// and a seq <= last at any other time is a duplicate and is dropped.

import { currentToken, streamUrl } from "./api.js";
import { backoffDelay } from "./backoff.js";

/** Unconnected this long (failing all the while) → "offline"; retrying goes on. */
const OFFLINE_AFTER_MS = 10_000;
/** A connection that stayed up this long (or delivered data) was a healthy one. */
const HEALTHY_MS = 1000;

/** Fires "up" whenever any stream connects: the others stop waiting out their backoff. */
const server = new EventTarget();

export class TopicStream {
  /**
   * @param {string} topic
   * @param {{onEnvelope: (env: object, kind: string) => void,
   *          onState: (state: "live"|"reconnecting"|"offline") => void}} handlers
   */
  constructor(topic, { onEnvelope, onState }) {
    this.topic = topic;
    this.onEnvelope = onEnvelope;
    this.onState = onState;
    this.state = "reconnecting";
    this.lastSeq = 0;
    this.initialLast = 0;
    this.everOpened = false;
    this.attempt = 0;
    this.ws = null;
    this.timer = 0;
    this.offlineTimer = 0;
    this.stopped = true;
    this.onServerUp = () => {
      if (this.timer) this.retryNow();
    };
  }

  /** Connect, asking for the newest `last` envelopes first. */
  start(last) {
    this.initialLast = last;
    this.stopped = false;
    server.addEventListener("up", this.onServerUp);
    this.connect();
  }

  /** Forget everything seen and load again with `?last=` (e.g. the window grew). */
  reload(last) {
    this.drop();
    this.lastSeq = 0;
    this.everOpened = false;
    this.initialLast = last;
    this.attempt = 0;
    if (!this.stopped) this.connect();
  }

  stop() {
    this.stopped = true;
    server.removeEventListener("up", this.onServerUp);
    this.drop();
  }

  /** Retry now (e.g. the browser came back online), unless connected or connecting. */
  retryNow() {
    if (this.stopped || this.ws) return;
    clearTimeout(this.timer);
    this.timer = 0;
    this.attempt = 0;
    this.connect();
  }

  /** The browser says it is offline: show it (the socket will fail and retry on its own). */
  markOffline() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) this.setState("offline");
  }

  query() {
    if (this.lastSeq > 0 || this.everOpened) return { since: this.lastSeq };
    return this.initialLast > 0 ? { last: this.initialLast } : {};
  }

  async connect() {
    this.timer = 0;
    let token;
    try {
      token = await currentToken({ renew: this.renewToken });
    } catch (err) {
      console.info(`[${this.topic}] no token: ${err.message}`);
      this.retryLater();
      return;
    }
    this.renewToken = false;
    if (this.stopped || this.ws || this.timer) return; // stopped, or another attempt began meanwhile
    let ws;
    try {
      ws = new WebSocket(streamUrl(this.topic, this.query(), token));
    } catch (err) {
      console.info(`[${this.topic}] cannot open WebSocket: ${err.message}`);
      this.retryLater();
      return;
    }
    this.ws = ws;
    const conn = { fresh: true, openedAt: 0, delivered: false };

    ws.onopen = () => {
      if (this.ws !== ws) return;
      conn.openedAt = performance.now();
      this.everOpened = true;
      clearTimeout(this.offlineTimer);
      this.offlineTimer = 0;
      const wasDown = this.state !== "live";
      this.setState("live");
      if (wasDown) server.dispatchEvent(new Event("up"));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.receive(ev.data, conn);
    };
    ws.onerror = () => {}; // a close event always follows; nothing to report twice
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      // 4001: the token expired. A connection refused before it opened may have
      // been a 401 for an expired token too (browsers do not show the status).
      if (ev.code === 4001 || (token && conn.openedAt === 0)) this.renewToken = true;
      if (conn.openedAt > 0) {
        // It worked: start the backoff over, except that a server which keeps accepting
        // and closing straight away is not hammered more than about once in 2 s.
        const brief = !conn.delivered && performance.now() - conn.openedAt < HEALTHY_MS;
        this.attempt = brief ? Math.min(this.attempt, 3) : 0;
      }
      if (conn.openedAt > 0) {
        console.info(`[${this.topic}] closed (${ev.code}${ev.reason ? " " + ev.reason : ""}); reconnecting`);
      }
      this.retryLater();
    };
  }

  receive(data, conn) {
    let env;
    try {
      env = JSON.parse(data);
    } catch {
      return; // not an envelope
    }
    if (env === null || typeof env !== "object" || !Number.isSafeInteger(env.seq)) return;
    const seq = env.seq;
    let kind;
    if (this.lastSeq === 0) kind = "first";
    else if (seq === this.lastSeq + 1) kind = "next";
    else if (seq > this.lastSeq + 1) kind = "gap";
    else if (conn.fresh) kind = "restart";
    else return; // duplicate
    conn.fresh = false;
    conn.delivered = true;
    this.lastSeq = seq;
    this.onEnvelope(env, kind);
  }

  retryLater() {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    if (!this.offlineTimer && this.state !== "offline") {
      this.offlineTimer = setTimeout(() => this.setState("offline"), OFFLINE_AFTER_MS);
    }
    const browserOffline = typeof navigator.onLine === "boolean" && !navigator.onLine;
    if (browserOffline) this.setState("offline");
    else if (this.state === "live") this.setState("reconnecting");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  drop() {
    clearTimeout(this.timer);
    clearTimeout(this.offlineTimer);
    this.timer = this.offlineTimer = 0;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.onerror = () => {};
      // Closing a socket that is still connecting makes Chrome log a warning; let it
      // finish and close it then.
      if (ws.readyState === WebSocket.CONNECTING) ws.onopen = () => ws.close(1000);
      else if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    }
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }
}
