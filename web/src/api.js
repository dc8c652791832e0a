// api.js — where the server is, and what it says about its topics.
//
// Everything is same-origin by default. For development only, `?server=host:port`
// points the page at another server (it must allow this page's Origin).

import { accessToken } from "./token.js";

const params = new URLSearchParams(location.search);

function httpBase() {
  const server = params.get("server");
  if (server && /^[A-Za-z0-9.\-[\]:]+$/.test(server)) return `${location.protocol}//${server}/`;
  return location.href;
}

const BASE = httpBase();

/** The token for protected topics (token.js), or null. */
export function currentToken(options) {
  return accessToken(BASE, options);
}

/** GET with the token, if any, in the Authorization header; once more with a renewed token on 401. */
async function authorizedFetch(url, signal) {
  for (const renew of [false, true]) {
    const token = await currentToken({ renew });
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(url, { cache: "no-store", headers, signal });
    if (res.status !== 401 || renew || !token) return res;
  }
}

/** Valid topic name (DESIGN §3). */
export const TOPIC_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Topics requested with `/?topics=a,b` (in that order, deduplicated), or null for all
 *  (also when the list names no valid topic). */
export function requestedTopics() {
  const raw = params.get("topics");
  if (raw == null) return null;
  const names = raw.split(",").map((s) => s.trim()).filter((s) => TOPIC_RE.test(s));
  return names.length ? [...new Set(names)] : null;
}

/** Initial window (seconds) from `?window=`, if it is one of the offered values. */
export function requestedWindow(allowed) {
  const w = Number(params.get("window"));
  return allowed.includes(w) ? w : null;
}

/** GET /topics → [{name, seq, subscribers, interval_ms, history, retention_ms}]. Throws on any failure. */
export async function fetchTopics(signal) {
  const res = await authorizedFetch(new URL("/topics", BASE), signal);
  if (!res.ok) throw new Error(`GET /topics: HTTP ${res.status}`);
  const list = await res.json();
  if (!Array.isArray(list)) throw new Error("GET /topics: not a list");
  return list.filter((t) => t && typeof t.name === "string");
}

/** WebSocket URL for a topic stream with the given query ({last} or {since}) and token.
 *  (Browsers cannot set headers on a WebSocket, so the token goes in the query.) */
export function streamUrl(topic, query, token) {
  const url = new URL(`/topics/${encodeURIComponent(topic)}`, BASE);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = new URLSearchParams(token ? { ...query, token } : query).toString();
  url.hash = "";
  return url.href;
}

export const MAX_LAST = 5000;

/**
 * How many envelopes to ask for (`?last=`) so the chart's window is filled:
 * window / interval when the interval is known, else whatever the server holds;
 * never more than the server holds and never more than MAX_LAST.
 */
export function lastCountFor(info, windowSec) {
  const held = Number.isFinite(info?.history) ? Math.max(0, info.history) : MAX_LAST;
  let n = held;
  if (Number.isFinite(info?.interval_ms) && info.interval_ms > 0) {
    n = Math.min(n, Math.ceil((windowSec * 1000) / info.interval_ms));
  }
  return Math.min(n, MAX_LAST);
}

/** Windows from this long on come from the server's history file, in buckets. */
export const STORED_WINDOW_SEC = 3600;

/**
 * GET /topics/<topic>/history for the last `windowSec` seconds in at most `points`
 * buckets → {buckets, ...}, or null when the server keeps no history file (404).
 * Throws on other failures.
 */
export async function fetchHistory(topic, windowSec, points, signal) {
  const to = Date.now() + 1;
  const url = new URL(`/topics/${encodeURIComponent(topic)}/history`, BASE);
  url.search = new URLSearchParams({ from: to - windowSec * 1000, to, points }).toString();
  const res = await authorizedFetch(url, signal);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${url.pathname}: HTTP ${res.status}`);
  return res.json();
}

/** A bucket's min, max (by field, "" for plain numbers) and count, as SeriesData.add takes them. */
export function bucketExtremes(bucket) {
  const out = { count: Math.max(1, bucket.count ?? 1), min: {}, max: {} };
  if (Number.isFinite(bucket.min)) [out.min[""], out.max[""]] = [bucket.min, bucket.max];
  for (const [name, f] of Object.entries(bucket.fields ?? {})) [out.min[name], out.max[name]] = [f.min, f.max];
  return out;
}

/** A bucket as a value the chart takes: its averages, by field ("" for plain numbers). */
export function bucketValue(bucket) {
  const value = {};
  if (Number.isFinite(bucket.avg)) value[""] = bucket.avg;
  for (const [name, f] of Object.entries(bucket.fields ?? {})) if (Number.isFinite(f.avg)) value[name] = f.avg;
  return value;
}
