"""Live config reload (SIGHUP, --watch-config): topics change without dropping clients,
removed topics close their subscribers, invalid files keep the running config, settings
that need a restart are logged."""

import asyncio
import json
import re
import signal
import time
import unittest

import websockets

from harness import (HttpStream, ServerTestCase, assert_consecutive, free_port, get_metrics,
                     metric_value, port_accepts, run_async, wait_for_metric, wait_for_stderr,
                     write_config, write_temp)

TOKEN = "reload-token-1"


def topics_config(**topics):
    """{"topics": {name: {"generator": {"interval_ms": ms}} or {} for None}}"""
    return {"topics": {name: ({"generator": {"interval_ms": ms}} if ms else {})
                       for name, ms in topics.items()}}


def reloads(server, result):
    return metric_value(get_metrics(server), "happy_config_reloads_total", result=result)


class ReloadTest(ServerTestCase):

    def start_with_file(self, cfg, args=(), **kwargs):
        path = write_temp(json.dumps(cfg))
        server = self.start_server(path, args=args, **kwargs)
        return server, path

    def test_sighup_interval_change_changes_rate_and_keeps_clients(self):
        server, path = self.start_with_file(topics_config(happiness=1000))

        async def main():
            async with websockets.connect(server.ws_url("/happiness"), open_timeout=5) as ws, \
                    await HttpStream.open(server.port, "/happiness",
                                          {"Accept": "text/event-stream"}) as sse:
                ws_got, sse_got = [], []

                async def collect(until):
                    while time.monotonic() < until:
                        try:
                            ws_got.append(json.loads(await asyncio.wait_for(
                                ws.recv(), max(0.01, until - time.monotonic()))))
                        except asyncio.TimeoutError:
                            break

                async def collect_sse(until):
                    while time.monotonic() < until:
                        try:
                            sse_got.extend(await sse.read_envelopes(
                                1, max(0.01, until - time.monotonic())))
                        except asyncio.TimeoutError:
                            break

                start = time.monotonic()
                await asyncio.gather(collect(start + 2.5), collect_sse(start + 2.5))
                before_ts = [e["ts"] for e in ws_got]
                write_config(path, topics_config(happiness=100))
                reload_ms = int(time.time() * 1000)
                server.proc.send_signal(signal.SIGHUP)
                t1 = time.monotonic()
                await asyncio.gather(collect(t1 + 4.0), collect_sse(t1 + 4.0))
                self.assertTrue(ws.open, f"WebSocket closed by the reload: {ws.close_code}")
                self.assertFalse(sse.eof, "SSE stream ended by the reload")
                return before_ts, reload_ms, ws_got, sse_got

        before_ts, reload_ms, ws_got, sse_got = run_async(main(), 20)
        self.assertLessEqual(len(before_ts), 4, f"faster than 1/s before the reload: {before_ts}")
        # From 2 s after the reload the rate is 10/s (20 in 2 s; allow for timer jitter).
        late = [e for e in ws_got if reload_ms + 2000 <= e["ts"] < reload_ms + 4000]
        self.assertGreaterEqual(len(late), 14, f"only {len(late)} readings in the 2 s window "
                                "starting 2 s after the reload")
        self.assertLessEqual(len(late), 24)
        assert_consecutive(self, [e["seq"] for e in ws_got], "WebSocket across the reload")
        assert_consecutive(self, [e["seq"] for e in sse_got], "SSE across the reload")
        self.assertEqual(server.topic()["interval_ms"], 100)
        self.assertEqual(reloads(server, "ok"), 1)
        self.assertEqual(reloads(server, "failed"), 0)
        self.assertEqual(metric_value(get_metrics(server), "happy_connections",
                                      transport="websocket"), 0)

    def test_sighup_adds_and_removes_topics(self):
        server, path = self.start_with_file(topics_config(happiness=100, doomed=100))
        self.assertEqual(sorted(t["name"] for t in server.topics()), ["doomed", "happiness"])

        async def main():
            ws_doomed = await websockets.connect(server.ws_url("/topics/doomed"), open_timeout=5)
            ws_happy = await websockets.connect(server.ws_url("/happiness"), open_timeout=5)
            sse = await HttpStream.open(server.port, "/topics/doomed",
                                        {"Accept": "text/event-stream"})
            ndjson = await HttpStream.open(server.port, "/doomed")
            try:
                await asyncio.wait_for(ws_doomed.recv(), 5)
                await sse.read_envelopes(1)
                await ndjson.read_envelopes(1)
                happy = [json.loads(await asyncio.wait_for(ws_happy.recv(), 5))]

                write_config(path, topics_config(happiness=100, fresh=100))
                server.proc.send_signal(signal.SIGHUP)

                try:
                    while True:
                        await asyncio.wait_for(ws_doomed.recv(), 5)
                except websockets.ConnectionClosed:
                    pass
                closed = (ws_doomed.close_code, ws_doomed.close_reason)
                await sse.read_body(5)   # the chunked body ends...
                await ndjson.read_body(5)
                ends = []
                for s in (sse, ndjson):  # ...and the connection closes
                    ends.append(await asyncio.wait_for(s.reader.read(), 5))
                # The other topic's client saw nothing of it.
                for _ in range(10):
                    happy.append(json.loads(await asyncio.wait_for(ws_happy.recv(), 5)))
                self.assertTrue(ws_happy.open)
                return closed, ends, happy
            finally:
                for ws in (ws_doomed, ws_happy):
                    ws.transport.abort()
                sse.close()
                ndjson.close()

        closed, ends, happy = run_async(main(), 25)
        self.assertEqual(closed, (1000, "topic removed"))
        self.assertEqual(ends, [b"", b""])
        assert_consecutive(self, [e["seq"] for e in happy], "happiness across the reload")
        topics = server.wait_for(lambda ts: {t["name"] for t in ts} == {"happiness", "fresh"},
                                 timeout=3, what="topics happiness + fresh")
        server.wait_for_seq(3, topic="fresh", timeout=5)
        self.assertEqual(next(t for t in topics if t["name"] == "fresh")["interval_ms"], 100)
        status, _, body = server.http("/topics/doomed")
        self.assertEqual(status, 404, body)
        status, _, body = server.http_upgrade("/doomed")
        self.assertEqual(status, 404, body)
        samples = get_metrics(server)
        self.assertIsNone(metric_value(samples, "happy_topic_subscribers", topic="doomed"),
                          "removed topic still in /metrics")
        self.assertEqual(reloads(server, "ok"), 1)

    def test_invalid_files_keep_the_running_config(self):
        cfg = topics_config(happiness=100, orders=None)
        server, path = self.start_with_file(cfg)
        server.wait_for_seq(2)
        before = server.topics()

        def rate():
            a = server.topic()["seq"]
            time.sleep(1.0)
            return server.topic()["seq"] - a

        bad_files = [
            ("syntax", '{"topics": {"happiness": {"generator": {"interval_ms": 1000}}',
             r"line \d+, column \d+"),
            ("schema", json.dumps({"topics": {"happiness": {"generator": {"interval_ms": -5}},
                                              "extra": {}}}),
             re.escape("/topics/happiness/generator/interval_ms")),
            ("unknown key", json.dumps({"topics": {"happiness": {"generator": {
                "interval_ms": 1000, "colour": "red"}}}}),
             re.escape("/topics/happiness/generator")),
        ]
        for n, (what, text, where) in enumerate(bad_files, start=1):
            with self.subTest(what):
                write_config(path, text)
                server.proc.send_signal(signal.SIGHUP)
                wait_for_metric(server, "happy_config_reloads_total", lambda v: v == n,
                                result="failed")
                self.assertEqual(reloads(server, "ok"), 0)
                # An error line naming the file and where.
                errors = [line for line in server.stderr().splitlines()
                          if re.search(r"\berror\b", line)]
                self.assertEqual(len(errors), n, server.stderr())
                self.assertIn(path, errors[-1])
                self.assertRegex(errors[-1], where)
                self.assertIsNone(server.proc.poll(), "the service stopped")
                after = server.topics()
                self.assertEqual([(t["name"], t["interval_ms"]) for t in after],
                                 [(t["name"], t["interval_ms"]) for t in before])
                r = rate()
                self.assertTrue(5 <= r <= 15, f"rate changed after a bad reload: {r}/s")

        # A good file after the bad ones is applied.
        write_config(path, topics_config(happiness=100, orders=None, extra=None))
        server.proc.send_signal(signal.SIGHUP)
        wait_for_metric(server, "happy_config_reloads_total", lambda v: v == 1, result="ok")
        server.wait_for(lambda ts: "extra" in {t["name"] for t in ts}, timeout=3,
                        what="topic extra")
        self.assertEqual(reloads(server, "failed"), len(bad_files))

    def test_settings_that_need_a_restart_are_logged_and_kept(self):
        port = free_port()
        cfg = {"server": {"port": port}, "publish": {"tokens": [TOKEN]},
               "topics": {"happiness": {"generator": {"interval_ms": 1000}}}}
        # No --port: the port comes from the file.
        server, path = self.start_with_file(cfg, port=None)
        self.assertEqual(server.port, port)
        new_port = free_port()
        cfg2 = {"server": {"port": new_port}, "publish": {"tokens": ["another-token-2"]},
                "topics": {"happiness": {"generator": {"interval_ms": 200}}}}
        write_config(path, cfg2)
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r"server\.port.*needs restart")
        wait_for_stderr(server, r"publish\.tokens.*needs restart")
        # What can change did change.
        server.wait_for(lambda ts: ts[0]["interval_ms"] == 200, timeout=3, what="interval 200")
        self.assertEqual(reloads(server, "failed"), 0)
        # What cannot, did not.
        self.assertTrue(port_accepts(port))
        self.assertFalse(port_accepts(new_port), "listening on the new port without a restart")
        status, _, body = server.http("/topics/happiness", "POST", body=b"1",
                                      headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 202, body)
        status, _, body = server.http("/topics/happiness", "POST", body=b"1",
                                      headers={"Authorization": "Bearer another-token-2"})
        self.assertEqual(status, 403, body)


class WatchConfigTest(ServerTestCase):

    def test_watch_config_applies_file_changes_without_a_signal(self):
        path = write_temp(json.dumps(topics_config(happiness=1000)))
        server = self.start_server(path, args=("--watch-config",))
        # Added topic and changed interval, picked up by the 1 s poll.
        write_config(path, topics_config(happiness=100, added=100))
        server.wait_for(lambda ts: {t["name"]: t["interval_ms"] for t in ts}
                        == {"happiness": 100, "added": 100}, timeout=4,
                        what="the watched change")
        server.wait_for_seq(3, topic="added", timeout=3)
        self.assertEqual(reloads(server, "ok"), 1)
        # An invalid edit is refused the same way.
        write_config(path, '{"topics": {"happiness": ')
        wait_for_metric(server, "happy_config_reloads_total", lambda v: v == 1, timeout=4,
                        result="failed")
        self.assertEqual({t["name"] for t in server.topics()}, {"happiness", "added"})
        # Then a removal.
        write_config(path, topics_config(happiness=100))
        server.wait_for(lambda ts: {t["name"] for t in ts} == {"happiness"}, timeout=4,
                        what="topic 'added' removed")
        self.assertEqual(reloads(server, "ok"), 2)

    def test_sighup_also_works_with_watch_config(self):
        path = write_temp(json.dumps(topics_config(happiness=1000)))
        server = self.start_server(path, args=("--watch-config",))
        time.sleep(1.2)
        write_config(path, topics_config(happiness=1000, viasignal=None))
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(lambda ts: "viasignal" in {t["name"] for t in ts}, timeout=1.5,
                        what="topic added by SIGHUP")
        # Whether or not the watcher also notices the edit, the topic is added once.
        time.sleep(1.5)
        self.assertEqual(server.stderr().count("'viasignal' added"), 1, server.stderr())
        self.assertEqual([t["name"] for t in server.topics()].count("viasignal"), 1)
        self.assertEqual(reloads(server, "failed"), 0)


if __name__ == "__main__":
    unittest.main()
