// backoff.js — exponential backoff with jitter, shared by the topic list and the streams.

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_MAX_MS = 10_000;
export const BACKOFF_JITTER = 0.3;

/** Delay before retry number `attempt` (0-based): 250 ms doubling to 10 s, ±30 %. */
export function backoffDelay(attempt) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  const jitter = 1 + BACKOFF_JITTER * (2 * Math.random() - 1);
  return Math.round(base * jitter);
}
