// frame.js — batches redraws: however many readings arrive, every dirty card is
// flushed at most once per animation frame. A timer backs requestAnimationFrame up
// so data attributes stay current (and memory bounded) while the tab is hidden.

const dirty = new Set();
let raf = 0;
let timer = 0;

function run() {
  if (raf) cancelAnimationFrame(raf);
  if (timer) clearTimeout(timer);
  raf = timer = 0;
  const items = [...dirty];
  dirty.clear();
  for (const item of items) item.flush();
}

/** Ask for `item.flush()` to be called once, on the next frame. */
export function scheduleFlush(item) {
  dirty.add(item);
  if (!raf) {
    raf = requestAnimationFrame(run);
    timer = setTimeout(run, 1000);
  }
}
