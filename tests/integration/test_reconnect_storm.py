"""Reconnect storm: thousands of subscribers vanish at once (no close handshake, RST),
as when a load balancer or a network link drops, and all come back within 5 s (each
after a random delay, as browsers with backoff do) with ?since=<the last seq each
saw>, while a publisher keeps going; afterwards every client has every seq from its
first to the last published exactly once.
"""

import asyncio
import json
import random
import time
import unittest

from harness import LeanWebSocket, ServerTestCase, is_sanitizer_build, run_async

TOKEN = "T0KEN-reconnect-storm"

# CLIENTS subscribers; RATE readings per second. 100/s to 5,000 clients would be
# 500,000 frames/s, more than this 2-core machine can parse in Python next to the
# server; at 20/s every client still misses dozens of readings while it is away,
# which the replay must fill. An AddressSanitizer build is 2-3x slower: fewer
# clients and half the rate there.
if is_sanitizer_build():
    CLIENTS, RATE = 2000, 10
else:
    CLIENTS, RATE = 5000, 20
RECONNECT_WINDOW_S = 5.0  # each client comes back after a random delay in [0, 5 s)
# ... and every one must be subscribed again this soon after the drop. Typically
# 6-10 s here; the bound leaves room for builds sharing the machine's two cores.
BACK_WITHIN_S = 60.0 if is_sanitizer_build() else 30.0
CONNECT_CONCURRENCY = 200  # handshakes in flight at once (the listen backlog is finite)


async def open_all(port, paths, spread_s=0.0):
    """Opens one LeanWebSocket per path (each after a random delay below spread_s),
    CONNECT_CONCURRENCY at a time; returns them in order and the slowest handshake (s)."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    slowest = 0.0

    async def one(path):
        nonlocal slowest
        if spread_s:
            await asyncio.sleep(random.uniform(0, spread_s))
        async with gate:
            t = time.monotonic()
            ws = await LeanWebSocket.open(port, path, timeout=20)
            slowest = max(slowest, time.monotonic() - t)
            return ws

    clients = await asyncio.gather(*(one(p) for p in paths))
    return clients, slowest


class ReconnectStormTest(ServerTestCase):

    def test_everyone_drops_at_once_and_resumes_without_loss(self):
        server = self.start_server({
            "publish": {"tokens": [TOKEN]},
            "limits": {"history": 10000},
            "topics": {"storm": {}},
        })

        async def main():
            acks = []
            pub = await LeanWebSocket.open(
                server.port, f"/topics/storm/publish?ack=1&token={TOKEN}",
                on_text=lambda payload: acks.append(json.loads(payload)["seq"]))
            stop = asyncio.Event()

            async def publish():
                n, t0 = 0, time.monotonic()
                while not stop.is_set():
                    n += 1
                    pub.send_text(json.dumps({"n": n}))
                    await asyncio.sleep(max(0.0, t0 + n / RATE - time.monotonic()))
                return n

            publisher = asyncio.ensure_future(publish())
            t = time.monotonic()
            first, _ = await open_all(server.port, ["/topics/storm"] * CLIENTS)
            connect_s = time.monotonic() - t

            # Everyone has seen a couple of readings.
            deadline = time.monotonic() + 30
            while min(len(c.seqs) for c in first) < 2:
                if time.monotonic() > deadline:
                    raise AssertionError("some clients got no readings within 30 s")
                await asyncio.sleep(0.05)

            # All drop at once: RST, no close frame.
            for c in first:
                c.abort()
            last_seen = [c.seqs[-1] for c in first]
            dropped_at = acks[-1] if acks else 0

            # All come back within RECONNECT_WINDOW_S with ?since=<last seq seen>.
            t = time.monotonic()
            second, slowest = await open_all(
                server.port, [f"/topics/storm?since={s}" for s in last_seen], RECONNECT_WINDOW_S)
            reconnect_s = time.monotonic() - t
            back_at = acks[-1] if acks else 0

            await asyncio.sleep(2)  # the publisher keeps going a little longer
            stop.set()
            published = await publisher
            deadline = time.monotonic() + 30
            while len(acks) < published or any(
                    (c.seqs[-1] if c.seqs else 0) < published for c in second):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            for c in second + [pub]:
                c.abort()
            return (first, second, acks, published, connect_s, reconnect_s, slowest, dropped_at,
                    back_at)

        (first, second, acks, published, connect_s, reconnect_s, slowest, dropped_at,
         back_at) = run_async(main(), timeout=140)

        lost = duplicates = disordered = 0
        broken = []
        for n, (before, after) in enumerate(zip(first, second)):
            seqs = before.seqs + after.seqs
            expected = list(range(seqs[0], published + 1))
            if seqs != expected:
                got = set(seqs)
                lost += sum(1 for s in expected if s not in got)
                duplicates += len(seqs) - len(got)
                disordered += sum(1 for a, b in zip(seqs, seqs[1:]) if b < a)
                broken.append(n)
        print(f"\n{CLIENTS} clients at {RATE} readings/s: connected in {connect_s:.1f} s; "
              f"dropped at seq {dropped_at}, all back {reconnect_s:.2f} s after the drop "
              f"(seq {back_at}; reconnecting over {RECONNECT_WINDOW_S:.0f} s, slowest handshake "
              f"{slowest:.2f} s); "
              f"{published} published; lost {lost}, duplicates {duplicates}, "
              f"out of order {disordered}")

        self.assertEqual(acks, list(range(1, published + 1)), "publisher acks")
        self.assertGreater(back_at, dropped_at, "no reading was published while clients were away")
        if broken:
            n = broken[0]
            seqs = first[n].seqs + second[n].seqs
            expected = list(range(seqs[0], published + 1))
            at = next((i for i, (a, b) in enumerate(zip(seqs, expected)) if a != b),
                      min(len(seqs), len(expected)))
            self.fail(f"{len(broken)} clients did not get every seq once, in order (lost {lost}, "
                      f"duplicates {duplicates}, out of order {disordered}); client {n} saw "
                      f"{len(first[n].seqs)} seqs up to {first[n].seqs[-1]} before the drop, then "
                      f"{second[n].seqs[:3]}..{second[n].seqs[-3:]}; first difference at index "
                      f"{at}: got {seqs[max(0, at - 3):at + 4]}, expected "
                      f"{expected[max(0, at - 3):at + 4]}; close {second[n].close_code} "
                      f"{second[n].close_reason!r}")
        self.assertEqual(lost, 0)
        self.assertLess(reconnect_s, BACK_WITHIN_S,
                        f"{CLIENTS} clients took {reconnect_s:.2f} s to reconnect")


if __name__ == "__main__":
    unittest.main()
