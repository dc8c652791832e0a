// chart.js — a uPlot line chart that fills its host element: time axis (x in seconds),
// one line per value series, breaks at nulls (spanGaps: false), colours from theme.js,
// resized with the host (ResizeObserver → setSize).

import uPlot from "./uPlot.esm.js";
import { chartTheme } from "./theme.js";
import { formatStat } from "./format.js";

/** Axis width that fits the longest tick label (uPlot's auto-size recipe). */
function axisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  let size = axis.ticks.size + axis.gap;
  const longest = (values ?? []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), "");
  if (longest) {
    u.ctx.font = axis.font[0];
    size += u.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(size);
}

/** Time-axis steps in seconds (uPlot's defaults lack 2 min, which suits a 5 min window). */
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
const hm = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const hms = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });

/** Tick labels: 24-hour local time, with seconds when ticks are less than a minute apart. */
function timeLabels(u, splits, axisIdx, space, incr) {
  const f = incr < 60 ? hms : hm;
  return splits.map((s) => f.format(new Date(s * 1000)));
}

export class Chart {
  /** @param {HTMLElement} host  sized by CSS; the chart fills it */
  constructor(host) {
    this.host = host;
    this.u = null;
    this.labels = [];
    this.data = [[]];
    this.range = [0, 1];
    this.resizeQueued = false;
    this.observer = new ResizeObserver(() => this.queueResize());
    this.observer.observe(host);
  }

  /**
   * Show `data` ([xs, ...columns]) with one line per label, x from range[0] to range[1].
   * Rebuilds the chart when the series changed.
   */
  update(labels, data, range) {
    this.data = data;
    this.range = range;
    const same = labels.length === this.labels.length && labels.every((l, i) => l === this.labels[i]);
    if (!this.u || !same) {
      this.labels = labels.slice();
      this.build();
    } else {
      this.u.setData(data);
    }
  }

  /** Rebuild with the current theme (colour scheme changed). */
  rebuild() {
    if (this.u) this.build();
  }

  size() {
    return {
      width: Math.max(1, Math.floor(this.host.clientWidth)),
      height: Math.max(1, Math.floor(this.host.clientHeight)),
    };
  }

  build() {
    const theme = chartTheme();
    const axis = {
      stroke: theme.axis,
      font: theme.font,
      grid: { stroke: theme.grid, width: 1 },
      ticks: { stroke: theme.grid, width: 1, size: 4 },
      border: { show: false },
    };
    const opts = {
      ...this.size(),
      legend: { show: false },
      cursor: { drag: { x: false, y: false, setScale: false } },
      scales: { x: { time: true, range: () => this.range } },
      axes: [
        { ...axis, space: 60, incrs: TIME_INCRS, values: timeLabels, size: 32 },
        { ...axis, size: axisSize, values: (u, splits) => splits.map(formatStat) },
      ],
      series: [
        {},
        ...this.labels.map((label, i) => ({
          label,
          stroke: theme.series[i % theme.series.length],
          width: 2,
          spanGaps: false,
          value: (u, v) => formatStat(v),
        })),
      ],
    };
    if (this.u) this.u.destroy();
    this.u = new uPlot(opts, this.data, this.host);
  }

  queueResize() {
    if (this.resizeQueued) return;
    this.resizeQueued = true;
    requestAnimationFrame(() => {
      this.resizeQueued = false;
      if (!this.u) return;
      const { width, height } = this.size();
      if (width !== this.u.width || height !== this.u.height) this.u.setSize({ width, height });
    });
  }

  destroy() {
    this.observer.disconnect();
    if (this.u) this.u.destroy();
    this.u = null;
  }
}
