"""Slow consumers: clients that never read are cut off (4008 "slow consumer") while
readers get every reading in order, and the server's memory stays bounded.

300 WebSocket clients that never read (tiny receive buffers, so the kernel fills at
once) and 100 that read subscribe to a publish-only topic; a WebSocket publisher
pipelines 20,000 readings of about 1 KB. Every reader must get seq 1..20000 without
a gap, the server's RSS must stay under a bound, every slow client must be closed
with 4008 and counted in /metrics, and a slow client that comes back with
?since=<last seq it read> must get the rest.
"""

import asyncio
import json
import time
import unittest

from harness import (LeanWebSocket, RssSampler, ServerTestCase, assert_consecutive,
                     http_request_async, is_sanitizer_build, metric_value, parse_metrics,
                     run_async)

TOKEN = "T0KEN-slow-consumers"
QUEUE_LIMIT = 256 * 1024

# An AddressSanitizer build is 2-3x slower and keeps freed memory in quarantine
# (256 MB by default): there the load is scaled down and the RSS bound raised.
if is_sanitizer_build():
    SLOW_CLIENTS, READERS, READINGS, RSS_LIMIT_MB = 150, 40, 8000, 700
else:
    SLOW_CLIENTS, READERS, READINGS, RSS_LIMIT_MB = 300, 100, 20000, 150

# The publisher stays at most this many readings ahead of the slowest reader, so a
# reader's backlog in the server (<= WINDOW envelopes of ~1.1 KB) never reaches
# QUEUE_LIMIT however small the kernel buffers are: readers are never "slow".
WINDOW = 150
# Every 30th slow client is drained as soon as it was cut. A few only: their
# megabytes share this Python process with the readers, and the server waits 5 s
# for the close handshake (a sanitizer build left a sample of 15 late).
SAMPLE_EVERY = 30
PAD = "x" * 1000  # makes each reading ~1 KB


def reading(i):
    return json.dumps({"i": i, "pad": PAD})


class SlowConsumersTest(ServerTestCase):

    def test_never_reading_clients_are_cut_readers_get_everything(self):
        server = self.start_server({
            "publish": {"tokens": [TOKEN]},
            "limits": {"max_queued_bytes_per_client": QUEUE_LIMIT, "history": READINGS},
            "topics": {"bench": {}},
        })
        started = time.monotonic()

        async def main():
            # Slow clients first: they stop reading right after the handshake.
            slow = []
            for _ in range(SLOW_CLIENTS):
                ws = await LeanWebSocket.open(server.port, "/topics/bench", rcvbuf=2048)
                ws.transport.pause_reading()
                slow.append(ws)

            # Reader 0 checks every envelope in full; the others only their seqs.
            checked = []

            def check_envelope(payload):
                env = json.loads(payload)
                if env["topic"] != "bench" or env["bench"] != {"i": env["seq"], "pad": PAD}:
                    raise AssertionError(f"unexpected envelope {payload[:120]!r}")
                checked.append(env["seq"])

            readers = [await LeanWebSocket.open(server.port, "/topics/bench",
                                                on_text=check_envelope)]
            readers += [await LeanWebSocket.open(server.port, "/topics/bench")
                        for _ in range(READERS - 1)]
            progress = [lambda: len(checked)] + [lambda r=r: len(r.seqs) for r in readers[1:]]

            acks = []
            pub = await LeanWebSocket.open(
                server.port, f"/topics/bench/publish?ack=1&token={TOKEN}",
                on_text=lambda payload: acks.append(json.loads(payload)["seq"]))

            # The server need not wait forever for a client that never reads to take
            # its close frame: drain a sample as soon as /metrics says they were cut.
            sample = slow[::SAMPLE_EVERY]

            async def drain_sample_once_cut():
                while True:
                    _, _, body = await http_request_async(server.port, "/metrics")
                    cut = metric_value(parse_metrics(body.decode()),
                                       "happy_slow_consumer_disconnects_total")
                    if cut is not None and cut >= SLOW_CLIENTS:
                        break
                    await asyncio.sleep(0.1)
                for ws in sample:
                    ws.transport.resume_reading()

            drainer = asyncio.ensure_future(drain_sample_once_cut())
            with RssSampler(server.proc.pid) as rss:
                t0 = time.monotonic()
                slowest = 0
                for i in range(1, READINGS + 1):
                    while i - slowest > WINDOW:
                        await asyncio.sleep(0.001)
                        slowest = min(p() for p in progress)
                    pub.send_text(reading(i))
                    if i % 32 == 0:
                        await asyncio.sleep(0)  # let the loop write and read
                while min(p() for p in progress) < READINGS or len(acks) < READINGS:
                    if time.monotonic() - t0 > 100:
                        raise AssertionError(
                            f"readers stuck: progress {sorted(p() for p in progress)[:5]}..., "
                            f"acks {len(acks)}")
                    await asyncio.sleep(0.01)
                publish_s = time.monotonic() - t0
            drained_early = drainer.done()
            drainer.cancel()

            # The rest of the slow clients: what they buffered, then the close frame
            # (or the end of the connection, if the server gave up on them).
            for ws in slow:
                ws.transport.resume_reading()
            await asyncio.wait([asyncio.ensure_future(asyncio.wait(
                [ws.close_received, ws.done], return_when=asyncio.FIRST_COMPLETED))
                for ws in slow], timeout=20)
            subscribers = server.topic("bench")["subscribers"]
            _, _, body = await http_request_async(server.port, "/metrics")
            metrics = parse_metrics(body.decode())

            # Three slow clients come back with ?since=<the last seq each read>.
            resumed = []  # (last seq read, the new connection or why it failed)
            for ws in (slow[0], slow[len(slow) // 2], slow[-1]):
                last = ws.seqs[-1] if ws.seqs else 0
                try:
                    again = await LeanWebSocket.open(server.port, f"/topics/bench?since={last}")
                except (AssertionError, OSError, asyncio.TimeoutError) as e:
                    again = f"reconnecting with since={last} failed: {e!r}"
                resumed.append((last, again))
            connections = [again for _, again in resumed if not isinstance(again, str)]
            deadline = time.monotonic() + 30
            while any(len(again.seqs) < READINGS - last and not again.done.done()
                      for last, again in resumed if not isinstance(again, str)):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.02)
            for ws in slow + readers + [pub] + connections:
                ws.abort()
            return (slow, sample, drained_early, readers, checked, acks, rss, publish_s,
                    subscribers, metrics, resumed)

        (slow, sample, drained_early, readers, checked, acks, rss, publish_s, subscribers,
         metrics, resumed) = run_async(main(), timeout=140)
        print(f"\n{SLOW_CLIENTS} slow + {READERS} reading clients, {READINGS} readings of "
              f"~1 KB: published and read in {publish_s:.1f} s; server RSS max "
              f"{rss.max_bytes / 1e6:.1f} MB ({rss.samples} samples); "
              f"whole test {time.monotonic() - started:.1f} s")

        # Every reader got every reading, in order, once.
        self.assertEqual(acks, list(range(1, READINGS + 1)), "publisher acks")
        self.assertEqual(checked, list(range(1, READINGS + 1)), "reader 0 (full envelopes)")
        for n, r in enumerate(readers[1:], 1):
            if r.seqs != list(range(1, READINGS + 1)):
                assert_consecutive(self, r.seqs, f"reader {n}")
                self.fail(f"reader {n} got seqs {r.seqs[0]}..{r.seqs[-1]} ({len(r.seqs)}), "
                          f"close {r.close_code} {r.close_reason!r}")
            self.assertIsNone(r.close_code, f"reader {n} was closed")

        # Memory stayed bounded.
        self.assertLess(rss.max_bytes, RSS_LIMIT_MB * 1e6,
                        f"server RSS peaked at {rss.max_bytes / 1e6:.1f} MB")

        # Every slow client was cut off after what it had buffered: with a close frame
        # 4008 "slow consumer" (checked on a sample drained right after the cut), or,
        # for one that still did not read, by the end of the connection. All of them
        # left the hub at once (only the readers remain subscribed).
        def outcome(ws):
            if ws.close_code is not None:
                return f"close {ws.close_code} {ws.close_reason!r}"
            return "connection closed without a close frame" if ws.done.done() else "still open"

        outcomes = {}
        for n, ws in enumerate(slow):
            outcomes[outcome(ws)] = outcomes.get(outcome(ws), 0) + 1
            if ws.seqs:
                self.assertEqual(ws.seqs, list(range(1, len(ws.seqs) + 1)), f"slow client {n}")
            self.assertLess(len(ws.seqs), READINGS, f"slow client {n} was never cut off")
        print(f"slow clients: {outcomes}; they read "
              f"{min(len(w.seqs) for w in slow)}..{max(len(w.seqs) for w in slow)} readings; "
              f"the sample of {len(sample)} was drained "
              f"{'right after the cut' if drained_early else 'only at the end'}")
        self.assertTrue(drained_early, "/metrics never counted every slow client while publishing")
        self.assertEqual([outcome(ws) for ws in sample],
                         ["close 4008 'slow consumer'"] * len(sample), "the drained sample")
        self.assertEqual(set(outcomes) - {"close 4008 'slow consumer'",
                                          "connection closed without a close frame"}, set(),
                         f"every slow client is closed: {outcomes}")
        self.assertEqual(subscribers, READERS, "subscribers of bench after the slow ones were cut")
        # /metrics before the three came back counts exactly the slow clients.
        self.assertEqual(metric_value(metrics, "happy_slow_consumer_disconnects_total"),
                         SLOW_CLIENTS, "happy_slow_consumer_disconnects_total")
        dropped = metric_value(metrics, "happy_readings_dropped_total", topic="bench")
        self.assertGreater(dropped or 0, 0, "happy_readings_dropped_total{topic=bench}")

        # Resuming with ?since=<last seq read> misses nothing history still holds.
        for last, again in resumed:
            if isinstance(again, str):
                self.fail(again)
            self.assertEqual(again.seqs, list(range(last + 1, READINGS + 1)),
                             f"resumed with since={last} (close {again.close_code} "
                             f"{again.close_reason!r})")


if __name__ == "__main__":
    unittest.main()
