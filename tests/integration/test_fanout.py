"""Every subscriber of a topic gets the same envelopes, in the same order."""

import asyncio
import json
import time
import unittest

import websockets

from harness import ServerTestCase, fast_config, now_ms, run_async, wait_for_stderr


async def collect(url, seconds, open_timeout=5):
    """Connects, then returns every text message received during `seconds`."""
    messages = []
    async with websockets.connect(url, open_timeout=open_timeout, close_timeout=2) as ws:
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                messages.append(await asyncio.wait_for(ws.recv(), left))
            except asyncio.TimeoutError:
                break
    return messages


class FanoutTest(ServerTestCase):

    def assert_envelope(self, raw, topic="happiness", lo=0.0, hi=10.0):
        self.assertIsInstance(raw, str, "envelopes must be text frames")
        env = json.loads(raw)
        self.assertIsInstance(env, dict, raw)
        self.assertEqual(set(env), {topic, "topic", "seq", "ts"}, raw)
        self.assertEqual(env["topic"], topic, raw)
        value = env[topic]
        self.assertTrue(isinstance(value, (int, float)) and not isinstance(value, bool), raw)
        self.assertGreaterEqual(value, lo, raw)
        self.assertLess(value, hi, raw)
        self.assertTrue(isinstance(env["seq"], int) and env["seq"] >= 1, raw)
        self.assertIsInstance(env["ts"], int, raw)
        self.assertLess(abs(env["ts"] - now_ms()), 5000, f"ts is not Unix ms of now: {raw}")
        return env

    def assert_consecutive(self, seqs, who):
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                         f"{who}: seqs are not consecutive (gap or duplicate)")

    def test_three_clients_receive_identical_envelopes_in_order(self):
        server = self.start_server(fast_config(interval_ms=100))
        url = server.ws_url("/happiness")

        async def main():
            return await asyncio.gather(*(collect(url, 2.0) for _ in range(3)))

        lists = run_async(main(), timeout=15)
        parsed = []
        for i, messages in enumerate(lists):
            self.assertGreaterEqual(len(messages), 10,
                                    f"client {i} got only {len(messages)} messages in 2 s")
            envs = [self.assert_envelope(m) for m in messages]
            self.assert_consecutive([e["seq"] for e in envs], f"client {i}")
            parsed.append(envs)

        first = max(envs[0]["seq"] for envs in parsed)
        last = min(envs[-1]["seq"] for envs in parsed)
        self.assertGreaterEqual(last - first + 1, 10, "clients overlapped on too few readings")
        overlap = []
        for messages, envs in zip(lists, parsed):
            overlap.append([raw for raw, e in zip(messages, envs) if first <= e["seq"] <= last])
        self.assertEqual(overlap[0], overlap[1], "clients 0 and 1 saw different envelopes")
        self.assertEqual(overlap[0], overlap[2], "clients 0 and 2 saw different envelopes")
        # Readings are random, so a repeated value everywhere would mean a stuck generator.
        values = {e["happiness"] for e in parsed[0]}
        self.assertGreater(len(values), 1, "every reading had the same value")

    def test_original_client_with_default_config(self):
        # No --config: the embedded default (happiness every 5000 ms).
        server = self.start_server(None)
        # The port accepts a moment before the line is logged, so wait for it.
        wait_for_stderr(server, rf"listening on \S*:{server.port}\b")

        async def main():
            async with websockets.connect(server.ws_url("/happiness"), open_timeout=5,
                                          close_timeout=2) as ws:
                return await asyncio.wait_for(ws.recv(), 7.5)

        raw = run_async(main(), timeout=12)
        data = json.loads(raw)  # what the original page does: JSON.parse(e.data)["happiness"]
        value = data["happiness"]
        self.assertTrue(isinstance(value, (int, float)) and not isinstance(value, bool), raw)
        self.assert_envelope(raw)
        topic = server.topic("happiness")
        self.assertEqual(topic["interval_ms"], 5000)


if __name__ == "__main__":
    unittest.main()
