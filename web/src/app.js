// app.js — bootstrap: fetch the topic list (retrying with backoff while the server is
// unreachable), build one card per topic, wire the window selector, the colour scheme,
// the browser's online/offline events and a one-second tick for rates and status.

import { fetchTopics, requestedTopics, requestedWindow, STORED_WINDOW_SEC } from "./api.js";
import { backoffDelay } from "./backoff.js";
import { TopicCard } from "./topic_card.js";
import { onThemeChange } from "./theme.js";

const WINDOWS = [60, 300, 3600, 21600, 86400];
const REFRESH_MS = 15_000; // re-read /topics: new topics, changed intervals

const cardsEl = document.getElementById("cards");
const statusEl = document.getElementById("status");
const windowEl = document.getElementById("window");

const wanted = requestedTopics(); // null: every topic the server has
const cards = new Map(); // name → TopicCard
let windowSec = requestedWindow(WINDOWS) ?? 300;
let loaded = false;

windowEl.value = String(windowSec);

function placeholder(text, state) {
  const p = document.createElement("p");
  p.className = "placeholder";
  if (state) p.dataset.state = state;
  p.textContent = text;
  cardsEl.replaceChildren(p);
}

function updateStatus() {
  if (!loaded) return;
  const states = [...cards.values()].map((c) => c.stream.state);
  const live = states.filter((s) => s === "live").length;
  const offline = states.filter((s) => s === "offline").length;
  let text = `${cards.size} topic${cards.size === 1 ? "" : "s"}`;
  if (cards.size) text += ` · ${live} live`;
  if (offline) text += ` · ${offline} offline`;
  if (statusEl.textContent !== text) statusEl.textContent = text;
  document.body.dataset.state = offline && offline === cards.size ? "offline" : "ok";
}

function addCards(list) {
  const byName = new Map(list.map((t) => [t.name, t]));
  const names = wanted ?? list.map((t) => t.name);
  for (const name of names) {
    const info = byName.get(name) ?? null;
    const existing = cards.get(name);
    if (existing) {
      if (info) existing.setInfo(info);
      continue;
    }
    if (cards.size === 0) cardsEl.replaceChildren();
    const card = new TopicCard(name, info, windowSec);
    cards.set(name, card);
    cardsEl.append(card.el);
    card.start();
  }
  if (cards.size === 0) placeholder("No topics yet. Publish a reading to create one.");
  updateStatus();
}

async function load(attempt = 0) {
  let list;
  try {
    list = await fetchTopics();
  } catch (err) {
    const delay = backoffDelay(attempt);
    console.info(`topic list unavailable (${err.message}); retrying in ${delay} ms`);
    document.body.dataset.state = "offline";
    statusEl.textContent = "offline";
    placeholder(`Cannot reach the server. Retrying in ${(delay / 1000).toFixed(1)} s…`, "offline");
    setTimeout(() => load(attempt + 1), delay);
    return;
  }
  loaded = true;
  cardsEl.removeAttribute("aria-busy");
  offerStoredWindows(list);
  addCards(list);
  setInterval(refresh, REFRESH_MS);
}

/**
 * Windows beyond the in-memory history need the server's history file: without one
 * (GET /topics says retention_ms null) they are disabled, and with one those longer
 * than its retention are.
 */
function offerStoredWindows(list) {
  const maxAgeMs = Math.max(0, ...list.map((t) => (Number.isFinite(t.retention_ms) ? t.retention_ms : 0)));
  for (const option of windowEl.options) {
    const sec = Number(option.value);
    option.disabled = sec > STORED_WINDOW_SEC && sec * 1000 > maxAgeMs;
    option.title = option.disabled ? "needs a history file on the server that keeps readings this long" : "";
  }
  if (windowEl.selectedOptions[0]?.disabled) {
    windowSec = STORED_WINDOW_SEC;
    windowEl.value = String(windowSec);
    for (const card of cards.values()) card.setWindow(windowSec);
  }
}

async function refresh() {
  try {
    addCards(await fetchTopics());
  } catch (err) {
    console.info(`topic list refresh failed: ${err.message}`);
  }
}

windowEl.addEventListener("change", async () => {
  const next = Number(windowEl.value);
  if (!WINDOWS.includes(next) || next === windowSec) return;
  const grew = next > windowSec;
  windowSec = next;
  if (grew) {
    // Bigger window: how much history the server holds now decides how much to load.
    try {
      const list = await fetchTopics(AbortSignal.timeout(3000));
      if (windowSec !== next) return; // changed again meanwhile
      addCards(list);
    } catch (err) {
      console.info(`topic list unavailable (${err.message}); using the last one`);
    }
  }
  for (const card of cards.values()) card.setWindow(windowSec);
});

onThemeChange(() => {
  for (const card of cards.values()) card.themeChanged();
});

addEventListener("offline", () => {
  for (const card of cards.values()) card.stream.markOffline();
  updateStatus();
});
addEventListener("online", () => {
  for (const card of cards.values()) card.stream.retryNow();
});

setInterval(() => {
  for (const card of cards.values()) card.tick();
  updateStatus();
}, 1000);

load();
