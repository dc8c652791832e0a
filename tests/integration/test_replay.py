"""History replay (?last=N, ?since=S), query validation, unknown topics, the /topics/ alias."""

import asyncio
import json
import time
import unittest

import websockets

from harness import Server, ServerTestCase, fast_config, now_ms, run_async

U64_MAX = 2**64 - 1


def open_ws(url):
    """Use as `await open_ws(url)` or `async with open_ws(url) as ws`."""
    return websockets.connect(url, open_timeout=5, close_timeout=2)


async def recv_envelope(ws, timeout=3.0):
    raw = await asyncio.wait_for(ws.recv(), timeout)
    return raw, json.loads(raw)


async def read_n(ws, n, timeout=3.0):
    """The next n envelopes (parsed), each within timeout."""
    return [(await recv_envelope(ws, timeout))[1] for _ in range(n)]


async def read_until_seq(ws, seq, timeout=10.0):
    """Envelopes until one with seq >= `seq` arrived (inclusive)."""
    out = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no envelope with seq >= {seq} within {timeout} s; "
                                 f"got seqs {[e['seq'] for e in out]}")
        _, env = await recv_envelope(ws, left)
        out.append(env)
        if env["seq"] >= seq:
            return out


class ReplayTest(unittest.TestCase):
    """One server (100 ms generator, history 600) shared by the tests of this class."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(fast_config(interval_ms=100, history=600))
        cls.addClassCleanup(cls.server.close)
        cls.server.wait_for_seq(20, timeout=10)

    def assert_consecutive(self, envs, what=""):
        seqs = [e["seq"] for e in envs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                         f"{what}: seqs have a gap or duplicate: {seqs}")
        for e in envs:
            self.assertEqual(e["topic"], "happiness")

    def test_last_n_replays_the_newest_n_then_live(self):
        server = self.server
        s0 = server.wait_for_seq(20)

        async def main():
            ws = await open_ws(server.ws_url("/happiness?last=5"))
            try:
                t_open = now_ms()
                s_after = server.topic()["seq"]
                envs = await read_n(ws, 8)
                return t_open, s_after, envs
            finally:
                await ws.close()

        t_open, s_after, envs = run_async(main(), timeout=15)
        self.assert_consecutive(envs, "last=5")
        newest_replayed = envs[4]["seq"]
        # The 5th message is the newest reading at subscribe time: not older than what
        # GET /topics said just before connecting, not newer than just after.
        self.assertGreaterEqual(newest_replayed, s0, f"seqs {[e['seq'] for e in envs]}, "
                                f"seq before connect {s0}")
        self.assertLessEqual(newest_replayed, s_after, f"seqs {[e['seq'] for e in envs]}, "
                             f"seq after connect {s_after}")
        # ...and the first one came from history (generated ~400 ms before the handshake),
        # not from the live stream.
        self.assertLessEqual(envs[0]["ts"], t_open - 250,
                             "the first message was not replayed from history")

    def test_last_zero_replays_nothing(self):
        server = self.server
        s0 = server.wait_for_seq(20)

        async def main():
            async with open_ws(server.ws_url("/happiness?last=0")) as ws:
                return await read_n(ws, 3)

        envs = run_async(main(), timeout=10)
        self.assert_consecutive(envs, "last=0")
        self.assertGreater(envs[0]["seq"], s0, "last=0 replayed history")

    def test_last_larger_than_history_replays_everything_held(self):
        server = self.server
        server.wait_for_seq(20)

        async def main():
            async with open_ws(server.ws_url("/happiness?last=100000")) as ws:
                return await read_n(ws, 20)

        envs = run_async(main(), timeout=10)
        self.assert_consecutive(envs, "last=100000")
        self.assertEqual(envs[0]["seq"], 1, "fewer than 600 readings: seq 1 is still held")

    def test_since_replays_every_later_envelope_then_goes_live(self):
        server = self.server
        s0 = server.wait_for_seq(20)
        since = s0 - 10

        async def main():
            async with open_ws(server.ws_url(f"/happiness?since={since}")) as ws:
                s_after = server.topic()["seq"]
                return s_after, await read_until_seq(ws, s_after + 3)

        s_after, envs = run_async(main(), timeout=15)
        self.assertEqual(envs[0]["seq"], since + 1, f"since={since} must start at {since + 1}")
        self.assert_consecutive(envs, f"since={since}")
        self.assertGreaterEqual(envs[-1]["seq"], s_after + 3, "did not continue live")

    def test_since_beyond_current_seq_replays_from_oldest_held(self):
        # A client that saw a larger seq before a server restart: start at the oldest held.
        server = self.server
        s0 = server.wait_for_seq(20)
        for since in (s0 + 1000, U64_MAX):
            async def main():
                async with open_ws(server.ws_url(f"/happiness?since={since}")) as ws:
                    return await read_until_seq(ws, s0)

            envs = run_async(main(), timeout=15)
            self.assertEqual(envs[0]["seq"], 1, f"since={since}: replay must start at seq 1")
            self.assert_consecutive(envs, f"since={since}")

    def test_reconnect_with_last_seen_seq_misses_nothing(self):
        server = self.server

        async def main():
            async with open_ws(server.ws_url("/happiness")) as ws:
                first = await read_n(ws, 3)
            last_seen = first[-1]["seq"]
            # Readings must happen while disconnected, or there is nothing to replay.
            missed_up_to = await asyncio.to_thread(server.wait_for_seq, last_seen + 5)
            async with open_ws(server.ws_url(f"/happiness?since={last_seen}")) as ws:
                second = await read_until_seq(ws, missed_up_to + 3)
            return first, last_seen, missed_up_to, second

        first, last_seen, missed_up_to, second = run_async(main(), timeout=20)
        missed = list(range(last_seen + 1, missed_up_to + 1))
        self.assertEqual([e["seq"] for e in second][:len(missed)], missed,
                         "the readings made while disconnected were not replayed first")
        self.assert_consecutive(first + second, "reconnect with since=<last seen>")

    def test_invalid_query_values_are_rejected_with_400(self):
        server = self.server
        bad = ["since=-1", "last=abc", "since=99999999999999999999999",
               f"since={U64_MAX + 1}", "since=3&last=2"]
        for query in bad:
            with self.subTest(query=query):
                async def main():
                    try:
                        ws = await open_ws(server.ws_url(f"/happiness?{query}"))
                    except websockets.InvalidStatusCode as e:
                        return e.status_code
                    await ws.close()
                    return "upgraded"

                self.assertEqual(run_async(main(), timeout=10), 400)
                status, headers, body = server.http_upgrade(f"/happiness?{query}")
                self.assertEqual(status, 400)
                self.assertTrue(headers.get("content-type", "").startswith("application/json"),
                                headers)
                error = json.loads(body)
                self.assertIsInstance(error.get("error"), str, body)
                self.assertTrue(error["error"], body)

    def test_unknown_topic_is_404_listing_known_topics(self):
        server = self.server
        for path in ("/nosuchtopic", "/topics/nosuchtopic"):
            with self.subTest(path=path):
                async def main():
                    try:
                        ws = await open_ws(server.ws_url(path))
                    except websockets.InvalidStatusCode as e:
                        return e.status_code
                    await ws.close()
                    return "upgraded"

                self.assertEqual(run_async(main(), timeout=10), 404)
                status, headers, body = server.http_upgrade(path)
                self.assertEqual(status, 404)
                self.assertTrue(headers.get("content-type", "").startswith("application/json"),
                                headers)
                error = json.loads(body)
                self.assertEqual(error.get("topics"), ["happiness"], body)
                self.assertIn("nosuchtopic", error.get("error", ""), body)

    def test_topics_prefix_alias_streams_the_same_envelopes(self):
        server = self.server

        async def main():
            async with open_ws(server.ws_url("/topics/happiness")) as a, \
                    open_ws(server.ws_url("/happiness")) as b:
                ra = [await asyncio.wait_for(a.recv(), 3) for _ in range(6)]
                rb = [await asyncio.wait_for(b.recv(), 3) for _ in range(6)]
                return ra, rb

        ra, rb = run_async(main(), timeout=15)
        ea = [json.loads(m) for m in ra]
        self.assert_consecutive(ea, "/topics/happiness")
        by_seq = {json.loads(m)["seq"]: m for m in rb}
        common = [m for m, e in zip(ra, ea) if e["seq"] in by_seq]
        self.assertGreaterEqual(len(common), 3, "the two paths overlapped on too few readings")
        for m in common:
            self.assertEqual(m, by_seq[json.loads(m)["seq"]])


class HistoryLimitTest(ServerTestCase):

    def test_replay_is_bounded_by_history(self):
        server = self.start_server(fast_config(interval_ms=100, history=10))
        s0 = server.wait_for_seq(25, timeout=10)
        topic = server.topic()
        self.assertEqual(topic["history"], 10, topic)

        async def main():
            # since=3 was evicted long ago: start at the oldest held, which is 10 back.
            async with open_ws(server.ws_url("/happiness?since=3")) as ws:
                s_after = server.topic()["seq"]
                envs = await read_until_seq(ws, s_after + 2)
            return s_after, envs

        s_after, envs = run_async(main(), timeout=15)
        seqs = [e["seq"] for e in envs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), seqs)
        # oldest held = (seq at subscribe) - 9, with s0 <= seq at subscribe <= s_after
        self.assertGreaterEqual(seqs[0], s0 - 9, seqs)
        self.assertLessEqual(seqs[0], s_after - 9, seqs)


if __name__ == "__main__":
    unittest.main()
