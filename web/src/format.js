// format.js — numbers as the cards show them.

const stat = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });
const big = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const current = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 6, useGrouping: false });
const rate = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** Compact (axis labels, min/avg/max): 4 significant digits, whole numbers from 10 000. */
export function formatStat(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  return Math.abs(v) >= 10_000 ? big.format(v) : stat.format(v);
}

/** The current value: integers as they are, others to 6 significant digits. */
export function formatCurrent(v) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  return current.format(v);
}

/** Readings per second, one decimal. */
export function formatRate(r) {
  return rate.format(r);
}

/** Any other JSON value, shortened for display. */
export function formatOther(value, max = 60) {
  let s = typeof value === "string" ? value : JSON.stringify(value);
  if (s === undefined) s = String(value);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
