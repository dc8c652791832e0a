"""A generator configured for interval_ms = 100 produces about 10 readings per second."""

import asyncio
import json
import time
import unittest

import websockets

from harness import ServerTestCase, fast_config, run_async


class RateTest(ServerTestCase):

    def test_100ms_interval_gives_10_per_second(self):
        server = self.start_server(fast_config(interval_ms=100))
        window = 3.0

        async def main():
            async with websockets.connect(server.ws_url("/happiness"), open_timeout=5,
                                          close_timeout=2) as ws:
                first = await asyncio.wait_for(ws.recv(), 2)  # start the window on a reading
                received = []
                deadline = time.monotonic() + window
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        received.append(await asyncio.wait_for(ws.recv(), left))
                    except asyncio.TimeoutError:
                        break
                return first, received

        first, received = run_async(main(), timeout=15)
        per_second = len(received) / window
        self.assertGreaterEqual(per_second, 8, f"{len(received)} readings in {window} s")
        self.assertLessEqual(per_second, 12, f"{len(received)} readings in {window} s")

        # The server's own clock agrees: ts advances ~100 ms per seq.
        envs = [json.loads(first)] + [json.loads(m) for m in received]
        seqs = [e["seq"] for e in envs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "gap or duplicate")
        mean_interval = (envs[-1]["ts"] - envs[0]["ts"]) / (seqs[-1] - seqs[0])
        self.assertGreaterEqual(mean_interval, 1000 / 12, f"mean ts interval {mean_interval} ms")
        self.assertLessEqual(mean_interval, 1000 / 8, f"mean ts interval {mean_interval} ms")

    def test_rate_is_per_topic_and_independent_of_subscribers(self):
        # Two topics with different intervals; the seq counters (GET /topics) advance at
        # their own rates even with nobody subscribed.
        server = self.start_server(fast_config(
            interval_ms=100,
            extra_topics={"slow": {"generator": {"interval_ms": 500, "distribution": "uniform",
                                                 "min": 0, "max": 1}}}))
        before = {t["name"]: t["seq"] for t in server.topics()}
        t0 = time.monotonic()
        time.sleep(2.0)
        after = {t["name"]: t["seq"] for t in server.topics()}
        elapsed = time.monotonic() - t0
        fast_rate = (after["happiness"] - before["happiness"]) / elapsed
        slow_rate = (after["slow"] - before["slow"]) / elapsed
        self.assertTrue(8 <= fast_rate <= 12, f"happiness: {fast_rate:.1f}/s")
        self.assertTrue(1 <= slow_rate <= 3, f"slow: {slow_rate:.1f}/s")


if __name__ == "__main__":
    unittest.main()
