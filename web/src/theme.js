// theme.js — chart colours from the CSS variables in style.css, which follow
// prefers-color-scheme; tells listeners when the scheme changes.

const SERIES_COLOURS = 8;
const scheme = matchMedia("(prefers-color-scheme: dark)");

/** Current colours: {axis, grid, font, series: [...]}. */
export function chartTheme() {
  const css = getComputedStyle(document.documentElement);
  const get = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  const series = [];
  for (let i = 0; i < SERIES_COLOURS; i++) series.push(get(`--series-${i}`, "#3b82f6"));
  return {
    axis: get("--chart-axis", "#666"),
    grid: get("--chart-grid", "rgba(128,128,128,0.15)"),
    font: `${get("--chart-font-size", "12px")} ${get("--font", "sans-serif")}`,
    series,
  };
}

/** Calls `fn` whenever the colour scheme changes. */
export function onThemeChange(fn) {
  scheme.addEventListener("change", fn);
}
