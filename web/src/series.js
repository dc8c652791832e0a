// series.js — the data behind one chart: x = ts in seconds, one column per numeric
// value series, breaks (all-null rows) where readings are missing, trimmed to a window.
// A row may stand for a bucket of stored readings: it is drawn at its average and
// keeps the bucket's min, max and count, so min/avg/max over the window stay exact.
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
   * Put `rows` ([[tsMs, value, bucket], ...], oldest first, e.g. history buckets; see
   * add() for `bucket`) before what is held; rows not older than the oldest held point
   * are skipped. Returns true when a new series appeared.
   */
  prepend(rows) {
    const first = this.xs.length ? this.xs[0] * 1000 : Infinity;
    const heldKeys = this.keys.slice();
    const held = this.xs.map((x, i) => {
      if (!this.isPoint[i]) return [x, null, null];
      const value = {};
      const bucket = { count: this.weights[i], min: {}, max: {} };
      heldKeys.forEach((k, c) => {
        if (this.cols[c][i] === null) return;
        value[k] = this.cols[c][i];
        bucket.min[k] = this.mins[c][i];
        bucket.max[k] = this.maxs[c][i];
      });
      return [x, value, bucket];
    });
    const keysBefore = this.keys.length;
    this.clear();
    for (const [ts, value, bucket] of rows) if (ts < first) this.add(ts, value, "next", bucket);
    for (const [x, value, bucket] of held) {
      if (value === null) this.pushRow(x, false);
      else this.add(x * 1000, value, "next", bucket);
    }
    return this.keys.length !== keysBefore;
  }

  /** Drop all points (series keys are kept). */
  clear() {
    this.xs = [];
    this.cols = this.keys.map(() => []);
    this.mins = this.keys.map(() => []); // per column: the bucket's min, or null for a reading
    this.maxs = this.keys.map(() => []);
    this.weights = []; // readings a row stands for (1, or a bucket's count)
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
   * break first). For a bucket of stored readings `value` holds its averages and
   * `bucket` = {count, min: {field: v}, max: {field: v}}. Returns true when a new series
   * appeared (the chart must be rebuilt).
   */
  add(tsMs, value, kind, bucket = null) {
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
        for (const columns of [this.cols, this.mins, this.maxs]) columns.push(new Array(this.xs.length).fill(null));
        added = true;
      }
    }
    this.pushRow(x, true, bucket?.count ?? 1);
    const row = this.xs.length - 1;
    for (const [key, v] of fields) {
      const c = this.keys.indexOf(key);
      this.cols[c][row] = v;
      if (bucket) {
        this.mins[c][row] = bucket.min[key] ?? null;
        this.maxs[c][row] = bucket.max[key] ?? null;
      }
    }
    return added;
  }

  pushRow(x, isPoint, weight = 1) {
    this.xs.push(x);
    this.isPoint.push(isPoint);
    this.weights.push(isPoint ? weight : 0);
    for (const columns of [this.cols, this.mins, this.maxs]) for (const col of columns) col.push(null);
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
    this.weights.splice(0, cut);
    for (const columns of [this.cols, this.mins, this.maxs]) for (const col of columns) col.splice(0, cut);
    const keep = this.cols.map((col) => col.some((v) => v !== null));
    if (keep.every(Boolean) || !keep.some(Boolean)) return false;
    this.keys = this.keys.filter((_, i) => keep[i]);
    this.cols = this.cols.filter((_, i) => keep[i]);
    this.mins = this.mins.filter((_, i) => keep[i]);
    this.maxs = this.maxs.filter((_, i) => keep[i]);
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

  /** Per series {min, avg, max, last} over what is held (null when empty); buckets
   *  count with their min, max and number of readings. */
  stats() {
    return this.cols.map((col, c) => {
      let min = Infinity;
      let max = -Infinity;
      let sum = 0;
      let n = 0;
      let last = null;
      for (let i = 0; i < col.length; i++) {
        const v = col[i];
        if (v === null) continue;
        const lo = this.mins[c][i] ?? v;
        const hi = this.maxs[c][i] ?? v;
        if (lo < min) min = lo;
        if (hi > max) max = hi;
        sum += v * this.weights[i];
        n += this.weights[i];
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
