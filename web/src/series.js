// series.js — the data behind one chart: x = ts in seconds, one column per numeric
// value series, breaks (all-null rows) where readings are missing, trimmed to a window.
// No DOM here.

/** Numeric fields of a value: a number is one series (""), an object or array one per
 *  numeric field; anything else (strings, booleans, nested objects) is not charted. */
export function numericFields(value) {
  if (typeof value === "number") return Number.isFinite(value) ? [["", value]] : [];
  if (value === null || typeof value !== "object") return [];
  const out = [];
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === "number" && Number.isFinite(v)) out.push([Array.isArray(value) ? `[${key}]` : key, v]);
  }
  return out;
}

function lowerBound(xs, x) {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class SeriesData {
  constructor(windowSec) {
    this.windowSec = windowSec;
    this.gaps = 0; // breaks inserted so far
    this.keys = []; // series keys, in order of appearance
    this.clear();
  }

  /**
   * Put `rows` ([[tsMs, value], ...], oldest first, e.g. history buckets) before what
   * is held; rows not older than the oldest held point are skipped. Returns true when
   * a new series appeared.
   */
  prepend(rows) {
    const first = this.xs.length ? this.xs[0] * 1000 : Infinity;
    const held = this.xs.map((x, i) => [x, this.isPoint[i], this.cols.map((c) => c[i])]);
    const keysBefore = this.keys.length;
    const heldKeys = this.keys.slice();
    this.clear();
    for (const [ts, value] of rows) if (ts < first) this.add(ts, value, "next");
    for (const [x, isPoint, values] of held) {
      if (!isPoint) {
        this.pushRow(x, false);
        continue;
      }
      const value = {};
      heldKeys.forEach((k, i) => {
        if (values[i] !== null) value[k] = values[i];
      });
      this.add(x * 1000, value, "next");
    }
    return this.keys.length !== keysBefore;
  }

  /** Drop all points (series keys are kept). */
  clear() {
    this.xs = [];
    this.cols = this.keys.map(() => []);
    this.isPoint = []; // false for break rows
    this.points = 0;
  }

  get seriesCount() {
    return this.keys.length;
  }

  get newestX() {
    return this.xs.length ? this.xs[this.xs.length - 1] : null;
  }

  /**
   * Add one envelope's value. `kind` comes from TopicStream ("gap"/"restart" insert a
   * break first). Returns true when a new series appeared (the chart must be rebuilt).
   */
  add(tsMs, value, kind) {
    const fields = numericFields(value);
    let x = Number.isFinite(tsMs) ? tsMs / 1000 : Date.now() / 1000;
    const last = this.newestX;
    if (last !== null && x < last) x = last; // keep x sorted (clock went back)
    if ((kind === "gap" || kind === "restart") && this.xs.length && this.isPoint[this.isPoint.length - 1]) {
      this.pushRow((last + x) / 2, false);
      this.gaps += 1;
    }
    if (fields.length === 0) return false;

    let added = false;
    for (const [key] of fields) {
      if (!this.keys.includes(key)) {
        this.keys.push(key);
        this.cols.push(new Array(this.xs.length).fill(null));
        added = true;
      }
    }
    this.pushRow(x, true);
    const row = this.xs.length - 1;
    for (const [key, v] of fields) this.cols[this.keys.indexOf(key)][row] = v;
    return added;
  }

  pushRow(x, isPoint) {
    this.xs.push(x);
    this.isPoint.push(isPoint);
    for (const col of this.cols) col.push(null);
    if (isPoint) this.points += 1;
  }

  /**
   * Drop rows older than the window before the newest one (and leading breaks), and
   * series left without any value. Returns true when series were removed.
   */
  trim() {
    const newest = this.newestX;
    if (newest === null) return false;
    let cut = lowerBound(this.xs, newest - this.windowSec);
    while (cut < this.xs.length && !this.isPoint[cut]) cut += 1;
    if (cut === 0) return false;
    for (let i = 0; i < cut; i++) if (this.isPoint[i]) this.points -= 1;
    this.xs.splice(0, cut);
    this.isPoint.splice(0, cut);
    for (const col of this.cols) col.splice(0, cut);
    const keep = this.cols.map((col) => col.some((v) => v !== null));
    if (keep.every(Boolean) || !keep.some(Boolean)) return false;
    this.keys = this.keys.filter((_, i) => keep[i]);
    this.cols = this.cols.filter((_, i) => keep[i]);
    return true;
  }

  /**
   * [xMin, xMax] of the visible window, in seconds. Until the window is full
   * the axis starts at the oldest point, so a fresh dashboard is not a sliver.
   */
  range(nowMs) {
    const right = this.newestX ?? nowMs / 1000;
    const oldest = this.xs.length ? this.xs[0] : -Infinity;
    const left = Math.max(right - this.windowSec, Math.min(oldest, right - 1));
    return [left, right];
  }

  /** uPlot's data: [xs, ...columns]. */
  data() {
    return [this.xs, ...this.cols];
  }

  /** Per series {min, avg, max, last} over what is held (null when empty). */
  stats() {
    return this.cols.map((col) => {
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      let n = 0;
      let last = null;
      for (const v of col) {
        if (v === null) continue;
        if (v < min) min = v;
        if (v > max) max = v;
        sum += v;
        n += 1;
        last = v;
      }
      return n ? { min, max, avg: sum / n, last } : { min: null, max: null, avg: null, last: null };
    });
  }

  /**
   * Readings per second over the last `spanSec` seconds of ts before `nowMs` (or the
   * newest ts, if later). When less than that span is held, divides by what is held.
   */
  rate(nowMs, spanSec = 10) {
    if (this.points === 0) return 0;
    const ref = Math.max(nowMs / 1000, this.newestX);
    const from = ref - spanSec;
    let n = 0;
    for (let i = this.xs.length - 1; i >= 0 && this.xs[i] > from; i--) if (this.isPoint[i]) n += 1;
    const first = this.xs[this.isPoint.indexOf(true)];
    if (first <= from) return n / spanSec;
    // Less than the span is held: count the time since the first reading plus one
    // average interval (so 3 readings a second apart, just after the third, give 1/s).
    const step = this.points > 1 ? (this.newestX - first) / (this.points - 1) : 0;
    return n / Math.max(1, ref - first + step);
  }
}
