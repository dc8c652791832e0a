// topic_card.js — one topic's card: DOM, stats and data attributes, wired to its
// stream (topic_stream.js) and chart (chart.js). Redraws are batched by frame.js.

import { Chart } from "./chart.js";
import { SeriesData } from "./series.js";
import { TopicStream } from "./topic_stream.js";
import { STORED_WINDOW_SEC, bucketExtremes, bucketValue, fetchHistory, lastCountFor } from "./api.js";
import { scheduleFlush } from "./frame.js";
import { formatCurrent, formatOther, formatRate, formatStat } from "./format.js";

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Sets text only when it changed (no needless layout work at high rates). */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function setAttr(node, name, value) {
  const v = String(value);
  if (node.getAttribute(name) !== v) node.setAttribute(name, v);
}

function describeInterval(info) {
  if (!info) return "not on the server (yet)";
  if (Number.isFinite(info.interval_ms) && info.interval_ms > 0) {
    const ms = info.interval_ms;
    return ms >= 1000 && ms % 1000 === 0 ? `every ${ms / 1000} s` : `every ${ms} ms`;
  }
  return "publish-only";
}

export class TopicCard {
  /**
   * @param {string} topic
   * @param {object|null} info  the topic's entry in GET /topics (null if not listed)
   * @param {number} windowSec
   */
  constructor(topic, info, windowSec) {
    this.topic = topic;
    this.info = info;
    this.data = new SeriesData(windowSec);
    this.lastValue = undefined;
    this.lastSeq = 0;
    this.dataDirty = true;
    this.source = "replay"; // "stored": the window's history came in buckets from the history file
    this.loads = 0; // history requests started; an answer to an older one is ignored
    this.shown = new Map(); // node → what it shows, to skip unchanged updates

    this.el = el("section", "card");
    this.el.dataset.topic = topic;
    this.el.setAttribute("aria-label", topic);

    const head = el("header", "card-head");
    this.nameEl = el("h2", "name", topic);
    this.badgeEl = el("span", "badge");
    head.append(this.nameEl, this.badgeEl);

    const readout = el("div", "readout");
    this.currentEl = el("div", "current", "—");
    const side = el("div", "side");
    this.rateEl = el("div", "rate", "0.0 /s");
    this.rateEl.title = "readings per second over the last 10 s";
    this.infoEl = el("div", "info", describeInterval(info));
    side.append(this.rateEl, this.infoEl);
    readout.append(this.currentEl, side);

    this.plotEl = el("div", "plot");
    this.statsEl = el("div", "stats");

    this.el.append(head, readout, this.plotEl, this.statsEl);
    this.chart = new Chart(this.plotEl);

    this.stream = new TopicStream(topic, {
      onEnvelope: (env, kind) => this.receive(env, kind),
      onState: (state) => this.showState(state),
    });
    this.showState(this.stream.state);
    this.writeAttributes();
  }

  /** Connects, unless the server does not list the topic (yet): then waits for setInfo. */
  start() {
    if (!this.info) this.showState("offline");
    else if (this.data.windowSec >= STORED_WINDOW_SEC && this.stored()) this.loadStored(true);
    else this.stream.start(lastCountFor(this.info, this.data.windowSec));
    scheduleFlush(this);
  }

  /** The server keeps this topic's history in a file (GET /topics: retention_ms). */
  stored() {
    return Number.isFinite(this.info?.retention_ms) && this.info.retention_ms > 0;
  }

  /**
   * Long windows: live readings from now on, and the window's history in buckets from
   * the history file put before them. Without a history file, the replay as for short
   * windows. Bucket times are the mean time of their readings and their values the
   * averages, so where buckets hold one reading each they are exactly the raw points.
   */
  async loadStored(starting) {
    const load = ++this.loads;
    this.data.clear();
    this.lastValue = undefined;
    if (starting) this.stream.start(0);
    else this.stream.reload(0);
    const points = Math.min(2000, Math.max(200, Math.floor(this.plotEl.clientWidth) || 1000));
    let history = null;
    try {
      history = await fetchHistory(this.topic, this.data.windowSec, points);
    } catch (err) {
      console.info(`[${this.topic}] history unavailable (${err.message}); showing the replay`);
    }
    if (load !== this.loads) return;
    if (!history) {
      this.source = "replay";
      this.stream.reload(lastCountFor(this.info, this.data.windowSec));
      this.touch();
      return;
    }
    this.source = "stored";
    this.data.prepend(history.buckets.map((b) => [b.time, bucketValue(b), bucketExtremes(b)]));
    this.touch();
  }

  setInfo(info) {
    const appeared = info && !this.info;
    this.info = info;
    setText(this.infoEl, describeInterval(info));
    if (appeared && this.stream.stopped) this.start();
  }

  /** New window: trim, or reload from history when the bigger window wants more. */
  setWindow(windowSec) {
    const grew = windowSec > this.data.windowSec;
    this.data.windowSec = windowSec;
    if (!this.info) return this.touch();
    if (windowSec >= STORED_WINDOW_SEC && this.stored()) return this.loadStored(false);
    const want = lastCountFor(this.info, windowSec);
    if (this.source === "stored") {
      // Back from buckets to raw readings: the short window is replayed.
      ++this.loads;
      this.source = "replay";
      this.data.clear();
      this.lastValue = undefined;
      this.stream.reload(want);
    } else if (grew && want > this.data.points) {
      this.data.clear();
      this.lastValue = undefined;
      this.stream.reload(want);
    }
    this.touch();
  }

  receive(env, kind) {
    const value = env[this.topic];
    this.lastSeq = env.seq;
    this.lastValue = value;
    this.data.add(env.ts, value, kind); // a new series rebuilds the chart in flush()
    this.touch();
  }

  /** Something changed: redraw on the next frame. */
  touch() {
    this.dataDirty = true;
    scheduleFlush(this);
  }

  /** Once a second: rates decay even when nothing arrives. */
  tick() {
    scheduleFlush(this);
  }

  showState(state) {
    setAttr(this.el, "data-state", state);
    setText(this.badgeEl, state);
    this.badgeEl.title = {
      live: "connected, receiving readings",
      reconnecting: "connection lost, reconnecting",
      offline: "server unreachable, still retrying",
    }[state];
  }

  themeChanged() {
    this.chart.rebuild();
  }

  labels() {
    return this.data.keys.map((k) => k || this.topic);
  }

  flush() {
    if (this.dataDirty) {
      this.data.trim();
      this.chart.update(this.labels(), this.data.data(), this.data.range(Date.now()));
      this.dataDirty = false;
    }
    setAttr(this.plotEl, "data-empty", this.data.points === 0);
    this.renderReadout();
    this.writeAttributes();
  }

  renderReadout() {
    const stats = this.data.stats();
    const labels = this.labels();
    const value = this.lastValue;

    // current value
    if (typeof value === "number" || value === undefined) {
      this.renderList(this.currentEl, "single", [[null, formatCurrent(value)]]);
    } else if (stats.length) {
      const fields = new Map(Object.entries(value ?? {}));
      this.renderList(this.currentEl, "fields", this.data.keys.map((k, i) => {
        const v = fields.get(Array.isArray(value) ? k.slice(1, -1) : k);
        return [i, `${labels[i]} ${typeof v === "number" ? formatCurrent(v) : "—"}`];
      }));
    } else {
      this.renderList(this.currentEl, "other", [[null, formatOther(value)]]);
    }
    setAttr(this.currentEl, "title", value === undefined ? "" : formatOther(value, 2000));

    // min / avg / max over the window
    const rows = stats.length ? stats : [{ min: null, avg: null, max: null }];
    this.renderList(this.statsEl, "stats", rows.map((s, i) => [
      stats.length > 1 ? i : null,
      `${stats.length > 1 ? labels[i] + "  " : ""}min ${formatStat(s.min)}  avg ${formatStat(s.avg)}  max ${formatStat(s.max)}`,
    ]));

    setText(this.rateEl, `${formatRate(this.data.rate(Date.now()))} /s`);
  }

  /** Replaces `node`'s children with one line per [seriesIndex|null, text]. */
  renderList(node, kind, items) {
    const key = kind + "\u0000" + items.map(([i, t]) => `${i}\u0001${t}`).join("\u0000");
    if (this.shown.get(node) === key) return;
    this.shown.set(node, key);
    node.className = node.className.split(" ")[0] + " " + kind;
    if (items.length === 1 && items[0][0] === null) {
      node.textContent = items[0][1];
      return;
    }
    node.replaceChildren(...items.flatMap(([i, text], n) => {
      const line = el("span", "line", text);
      if (i !== null) line.style.setProperty("--swatch", `var(--series-${i % 8})`);
      return n ? [" ", line] : [line];
    }));
  }

  writeAttributes() {
    setAttr(this.el, "data-points", this.data.points);
    setAttr(this.el, "data-series", this.data.seriesCount);
    setAttr(this.el, "data-last-seq", this.lastSeq);
    setAttr(this.el, "data-gaps", this.data.gaps);
    setAttr(this.el, "data-source", this.source);
    const span = this.data.xs.length ? this.data.newestX - this.data.xs[0] : 0;
    setAttr(this.el, "data-span-sec", Math.round(span));
  }
}
