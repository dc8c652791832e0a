// token.js — the token that opens protected topics (README "Private topics").
//
// It comes from `?token=` on the page URL (taken out of the address bar at once,
// so it is not bookmarked or shared by accident) or from the server's token URL
// (`auth.token_url`, announced by GET /api/auth), which the application's backend
// answers for a logged-in user. A token that expired (WebSocket close 4001, or a
// refused reconnect) is fetched anew from the token URL before reconnecting.

/** Seconds before `exp` at which a token counts as used up. */
const RENEW_MARGIN_SEC = 5;

function takePageToken() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (token == null) return null;
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
  return token.trim() || null;
}

const pageToken = takePageToken();

/** `exp` (Unix seconds) from a JWT's payload, or null; the signature is the server's business. */
export function expiryOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "="))).exp;
    return Number.isFinite(exp) ? exp : null;
  } catch {
    return null;
  }
}

function usable(token) {
  if (!token) return false;
  const exp = expiryOf(token);
  return exp == null || exp - RENEW_MARGIN_SEC > Date.now() / 1000;
}

let authInfo = null; // promise of GET /api/auth
let current = null; // the token in use
let pending = null; // a token URL request in flight, shared by every topic

function fetchAuthInfo(base) {
  if (!authInfo) {
    authInfo = fetch(new URL("/api/auth", base), { cache: "no-store", headers: { Accept: "application/json" } })
      .then((res) => (res.ok ? res.json() : {}))
      .catch(() => {
        authInfo = null; // try again next time
        return {};
      });
  }
  return authInfo;
}

async function fetchFromTokenUrl(tokenUrl, base) {
  const res = await fetch(new URL(tokenUrl, base), { cache: "no-store", credentials: "include" });
  if (!res.ok) throw new Error(`token URL answered HTTP ${res.status}`);
  const text = (await res.text()).trim();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.token === "string") return body.token;
  } catch {
    // not JSON: the body is the token itself
  }
  if (!text) throw new Error("token URL answered no token");
  return text;
}

/**
 * The token to send, or null when there is none (open topics need none).
 * `renew`: the last one was refused or expired; get another if the token URL can.
 */
export async function accessToken(base, { renew = false } = {}) {
  if (current && !renew && usable(current)) return current;
  if (!current && usable(pageToken) && !renew) return (current = pageToken);
  const info = await fetchAuthInfo(base);
  if (typeof info.token_url === "string" && info.token_url) {
    pending ??= fetchFromTokenUrl(info.token_url, base).finally(() => (pending = null));
    return (current = await pending);
  }
  return (current = pageToken);
}
