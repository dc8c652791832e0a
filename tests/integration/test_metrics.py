"""GET /metrics (Prometheus text), /healthz, /readyz; counters follow the traffic;
a slow consumer is closed with 4008; a real Prometheus can scrape the service."""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import jwt
import websockets

from harness import (HOST, HttpStream, RawWebSocket, ServerTestCase, fast_config, free_port,
                     get_metrics, metric_value, run_async, wait_for_metric)

TOKEN = "metrics-token-1"
TRANSPORTS = ("http", "websocket", "sse", "stream", "poll", "publisher")
REASONS = ("invalid_json", "too_large", "missing_token", "wrong_token", "publishing_disabled",
           "invalid_topic", "topic_limit", "invalid_token", "not_for_this_topic")
JWT_SECRET = "metrics-secret-0123456789abcdef-0123"


def promtool():
    path = shutil.which("promtool") or ("/usr/bin/promtool"
                                        if os.path.exists("/usr/bin/promtool") else None)
    if not path:
        raise AssertionError("promtool not found: install the Debian package 'prometheus' "
                             "(apt-get install -y prometheus); scripts/install-deps --for-tests "
                             "should do it")
    return path


def prometheus_binary():
    path = shutil.which("prometheus") or ("/usr/bin/prometheus"
                                          if os.path.exists("/usr/bin/prometheus") else None)
    if not path:
        raise AssertionError("prometheus not found: install the Debian package 'prometheus' "
                             "(apt-get install -y prometheus)")
    return path


class MetricsFormatTest(ServerTestCase):

    def test_probes(self):
        server = self.start_server(fast_config())
        status, headers, body = server.http("/healthz")
        self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))
        status, headers, body = server.http("/readyz")
        self.assertEqual((status, json.loads(body)), (200, {"status": "ready"}))

    def test_metrics_is_prometheus_text_that_promtool_accepts(self):
        tool = promtool()
        server = self.start_server(fast_config(interval_ms=50, publish={"tokens": [TOKEN]}))

        async def traffic():
            # Some of everything first, so that every family has samples to check.
            async with websockets.connect(server.ws_url("/happiness"), open_timeout=5) as ws:
                await asyncio.wait_for(ws.recv(), 5)
                async with await HttpStream.open(server.port, "/happiness", {
                        "Accept": "text/event-stream"}) as sse:
                    await sse.read_envelopes(1)
                    status, _, body = server.http("/topics/happiness", "POST", body=b"{bad",
                                                  headers={"Authorization": f"Bearer {TOKEN}"})
                    self.assertEqual(status, 400, body)
                    return server.http("/metrics")

        status, headers, body = run_async(traffic(), 20)
        self.assertEqual(status, 200, body)
        ctype = headers.get("content-type", "")
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        text = body.decode("utf-8")

        check = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=20)
        self.assertEqual(check.returncode, 0,
                         f"promtool check metrics failed:\n{check.stdout}{check.stderr}\n"
                         f"--- body ---\n{text}")

        samples = get_metrics(server)
        for t in TRANSPORTS:
            self.assertIsNotNone(metric_value(samples, "happy_connections", transport=t), t)
            self.assertIsNotNone(
                metric_value(samples, "happy_connections_opened_total", transport=t), t)
        for r in REASONS:
            self.assertIsNotNone(
                metric_value(samples, "happy_publish_rejections_total", reason=r), r)
        for result in ("ok", "failed"):
            self.assertEqual(
                metric_value(samples, "happy_config_reloads_total", result=result), 0, result)
        for name in ("happy_topic_subscribers", "happy_topic_history",
                     "happy_readings_published_total", "happy_readings_delivered_total",
                     "happy_readings_dropped_total"):
            self.assertIsNotNone(metric_value(samples, name, topic="happiness"), name)
        self.assertIsNotNone(metric_value(samples, "happy_slow_consumer_disconnects_total"))
        build = [k for k in samples if k[0] == "happy_build_info"]
        self.assertEqual(len(build), 1, build)
        self.assertEqual(build[0][1][0][0], "version")
        self.assertTrue(build[0][1][0][1], "empty version label")
        self.assertEqual(samples[build[0]], 1)
        self.assertGreater(metric_value(samples, "process_resident_memory_bytes"), 1e6)
        self.assertGreater(metric_value(samples, "process_open_fds"), 2)
        self.assertTrue("# TYPE happy_readings_published_total counter" in text)
        self.assertTrue("# TYPE happy_connections gauge" in text)


class MetricsCountersTest(ServerTestCase):

    def test_published_equals_seq_and_delivered_rises_with_a_client(self):
        server = self.start_server(fast_config(interval_ms=50, history=100))
        server.wait_for_seq(3)
        before = get_metrics(server)
        seq_after = server.topic()["seq"]
        published = metric_value(before, "happy_readings_published_total", topic="happiness")
        self.assertIsNotNone(published)
        self.assertGreaterEqual(published, 3)
        self.assertLessEqual(published, seq_after)
        delivered0 = metric_value(before, "happy_readings_delivered_total", topic="happiness") or 0

        async def receive(n):
            async with websockets.connect(server.ws_url("/happiness?last=5"),
                                          open_timeout=5) as ws:
                return [await asyncio.wait_for(ws.recv(), 5) for _ in range(n)]

        got = run_async(receive(20), 20)
        self.assertEqual(len(got), 20)
        after = wait_for_metric(server, "happy_readings_delivered_total",
                                lambda v: v is not None and v >= delivered0 + 20,
                                topic="happiness")
        self.assertGreaterEqual(after, delivered0 + 20)
        # Published keeps tracking the topic's seq.
        seq_before = server.topic()["seq"]
        published = metric_value(get_metrics(server), "happy_readings_published_total",
                                 topic="happiness")
        seq_after = server.topic()["seq"]
        self.assertTrue(seq_before <= published <= seq_after,
                        f"published {published} not within seq {seq_before}..{seq_after}")
        self.assertGreaterEqual(published, 3 + 20 - 5)

    def test_connection_gauges_follow_open_clients(self):
        server = self.start_server(fast_config(interval_ms=100))
        opened0 = get_metrics(server)

        async def main():
            wss = [await websockets.connect(server.ws_url("/happiness"), open_timeout=5)
                   for _ in range(3)]
            sses = [await HttpStream.open(server.port, "/topics/happiness",
                                          {"Accept": "text/event-stream"}) for _ in range(2)]
            ndjson = await HttpStream.open(server.port, "/happiness")
            try:
                for ws in wss:
                    await asyncio.wait_for(ws.recv(), 5)
                for s in sses + [ndjson]:
                    await s.read_envelopes(1)
                deadline = time.monotonic() + 5
                while True:
                    samples = get_metrics(server)
                    got = {t: metric_value(samples, "happy_connections", transport=t)
                           for t in ("websocket", "sse", "stream")}
                    subs = metric_value(samples, "happy_topic_subscribers", topic="happiness")
                    if (got == {"websocket": 3, "sse": 2, "stream": 1} and subs == 6) or \
                            time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                self.assertEqual(got, {"websocket": 3, "sse": 2, "stream": 1})
                self.assertEqual(subs, 6)
                for t, n in (("websocket", 3), ("sse", 2), ("stream", 1)):
                    self.assertEqual(
                        metric_value(samples, "happy_connections_opened_total", transport=t)
                        - metric_value(opened0, "happy_connections_opened_total", transport=t),
                        n, t)
                # Close two WebSockets and one SSE stream: the gauges go down.
                await wss[0].close()
                await wss[1].close()
                sses[0].close()
                deadline = time.monotonic() + 5
                while True:
                    samples = get_metrics(server)
                    got = {t: metric_value(samples, "happy_connections", transport=t)
                           for t in ("websocket", "sse", "stream")}
                    subs = metric_value(samples, "happy_topic_subscribers", topic="happiness")
                    if (got == {"websocket": 1, "sse": 1, "stream": 1} and subs == 3) or \
                            time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
                self.assertEqual(got, {"websocket": 1, "sse": 1, "stream": 1})
                self.assertEqual(subs, 3)
            finally:
                for ws in wss:
                    ws.transport.abort()
                for s in sses + [ndjson]:
                    s.close()

        run_async(main(), 25)
        for t in ("websocket", "sse", "stream"):
            wait_for_metric(server, "happy_connections", lambda v: v == 0, transport=t)

    def test_publish_rejections_by_reason(self):
        server = self.start_server({
            "publish": {"tokens": [TOKEN]},
            "limits": {"max_message_bytes": 1024, "max_topics": 2},
            "topics": {"orders": {}, "happiness": {"generator": {"interval_ms": 1000}}}})
        auth = {"Authorization": f"Bearer {TOKEN}"}
        cases = [
            ("invalid_json", "/topics/orders", auth, b"{not json", 400),
            ("missing_token", "/topics/orders", {}, b"1", 401),
            ("wrong_token", "/topics/orders", {"Authorization": "Bearer wrong-token-9"}, b"1",
             403),
            ("too_large", "/topics/orders", auth, json.dumps("x" * 2000).encode(), 413),
            ("invalid_topic", "/topics/metrics", auth, b"1", 404),
            ("topic_limit", "/topics/third", auth, b"1", 429),
        ]
        for reason, path, headers, body, expected_status in cases:
            with self.subTest(reason=reason):
                before = get_metrics(server)
                status, _, answer = server.http(path, "POST", headers=headers, body=body)
                self.assertEqual(status, expected_status, answer)
                after = get_metrics(server)
                for r in REASONS:
                    delta = (metric_value(after, "happy_publish_rejections_total", reason=r)
                             - metric_value(before, "happy_publish_rejections_total", reason=r))
                    self.assertEqual(delta, 1 if r == reason else 0,
                                     f"{r} moved by {delta} after a {reason} publish")
        # A good publish moves no rejection counter and counts as published.
        before = get_metrics(server)
        status, _, answer = server.http("/topics/orders", "POST", headers=auth, body=b"7.5")
        self.assertEqual(status, 202, answer)
        after = get_metrics(server)
        for r in REASONS:
            self.assertEqual(metric_value(after, "happy_publish_rejections_total", reason=r),
                             metric_value(before, "happy_publish_rejections_total", reason=r), r)
        self.assertEqual(metric_value(after, "happy_readings_published_total", topic="orders"), 1)

    def test_jwt_publish_rejections_are_counted_by_what_was_wrong(self):
        """The reason comes from the token check itself, not guessed back from 401/403:
        an expired JWT, a badly signed one, and a valid one for another topic."""
        server = self.start_server({
            "auth": {"jwt": {"algorithm": "HS256", "secret": JWT_SECRET}},
            "topics": {"orders": {}}})
        now = int(time.time())
        cases = [
            ("invalid_token", jwt.encode({"exp": now - 60, "publish": ["orders"]}, JWT_SECRET,
                                         algorithm="HS256"), 401),
            ("invalid_token", jwt.encode({"exp": now + 60, "publish": ["orders"]},
                                         "another-secret-0123456789abcdef-01", algorithm="HS256"), 401),
            ("not_for_this_topic", jwt.encode({"exp": now + 60, "publish": ["other"]}, JWT_SECRET,
                                              algorithm="HS256"), 403),
            ("missing_token", None, 401),
        ]
        for reason, token, expected_status in cases:
            with self.subTest(reason=reason):
                before = get_metrics(server)
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                status, _, answer = server.http("/topics/orders", "POST", headers=headers, body=b"1")
                self.assertEqual(status, expected_status, answer)
                after = get_metrics(server)
                for r in REASONS:
                    delta = (metric_value(after, "happy_publish_rejections_total", reason=r)
                             - metric_value(before, "happy_publish_rejections_total", reason=r))
                    self.assertEqual(delta, 1 if r == reason else 0, f"{r} moved by {delta} after {reason}")
        good = jwt.encode({"exp": now + 60, "publish": ["orders"]}, JWT_SECRET, algorithm="HS256")
        status, _, answer = server.http("/topics/orders", "POST",
                                        headers={"Authorization": f"Bearer {good}"}, body=b"1")
        self.assertEqual(status, 202, answer)

    def test_websocket_publisher_rejections_are_counted(self):
        server = self.start_server({"publish": {"tokens": [TOKEN]}, "topics": {"orders": {}}})
        status, _, body = server.http_upgrade("/topics/orders/publish?token=wrong-token-9")
        self.assertEqual(status, 403, body)

        async def bad_frame():
            async with websockets.connect(
                    server.ws_url(f"/topics/orders/publish?token={TOKEN}"), open_timeout=5) as pub:
                await pub.send("{oops")
                try:
                    await asyncio.wait_for(pub.recv(), 5)
                except websockets.ConnectionClosed:
                    pass
                return pub.close_code

        self.assertEqual(run_async(bad_frame(), 15), 1007)
        wait_for_metric(server, "happy_publish_rejections_total", lambda v: v == 1,
                        reason="invalid_json")
        samples = get_metrics(server)
        self.assertEqual(metric_value(samples, "happy_publish_rejections_total",
                                      reason="wrong_token"), 1)
        self.assertEqual(metric_value(samples, "happy_connections_opened_total",
                                      transport="publisher"), 1)

    def test_publishing_disabled_rejection(self):
        server = self.start_server(fast_config(interval_ms=1000))
        status, _, answer = server.http("/topics/happiness", "POST",
                                        headers={"Authorization": f"Bearer {TOKEN}"}, body=b"1")
        self.assertEqual(status, 403, answer)
        self.assertEqual(metric_value(get_metrics(server), "happy_publish_rejections_total",
                                      reason="publishing_disabled"), 1)


class SlowConsumerTest(ServerTestCase):

    def test_reader_that_never_reads_is_closed_4008_and_counted(self):
        server = self.start_server({
            "publish": {"tokens": [TOKEN]},
            "limits": {"max_queued_bytes_per_client": 1024, "history": 10},
            "topics": {"bulk": {}}})
        # Envelopes well under the limit, so only a growing queue can pass it; 16,000 of
        # them (8 MB) is more than the socket buffers on both sides can absorb.
        value = json.dumps("v" * 500)
        count = 16000
        raw = RawWebSocket(server.port, "/topics/bulk", rcvbuf=4096)
        self.addCleanup(raw.close)
        wait_for_metric(server, "happy_topic_subscribers", lambda v: v == 1, topic="bulk")

        async def publish():
            async with websockets.connect(
                    server.ws_url(f"/topics/bulk/publish?token={TOKEN}&ack=1"),
                    open_timeout=5, max_size=None) as pub:
                for _ in range(count):
                    await pub.send(value)
                for _ in range(count):
                    json.loads(await asyncio.wait_for(pub.recv(), 10))

        run_async(publish(), 25)
        # The counter moves while the client still has not read a byte.
        slow = wait_for_metric(server, "happy_slow_consumer_disconnects_total",
                               lambda v: v is not None and v >= 1, timeout=5)
        self.assertEqual(slow, 1)
        samples = get_metrics(server)
        self.assertEqual(metric_value(samples, "happy_readings_published_total", topic="bulk"),
                         count)
        self.assertGreater(metric_value(samples, "happy_readings_dropped_total", topic="bulk"), 0,
                           "a slow consumer was closed but nothing counted as dropped")
        # Now read: whatever was in flight, then the close frame.
        code, reason, frames = raw.read_until_close(timeout=10)
        self.assertEqual((code, reason), (4008, "slow consumer"), f"after {frames} frames")
        self.assertLess(frames, count)
        raw.close()
        wait_for_metric(server, "happy_topic_subscribers", lambda v: v == 0, topic="bulk")
        wait_for_metric(server, "happy_connections", lambda v: v == 0, transport="websocket")

    def test_reader_that_keeps_up_is_not_a_slow_consumer(self):
        server = self.start_server({
            "publish": {"tokens": [TOKEN]},
            "limits": {"max_queued_bytes_per_client": 1024},
            "topics": {"bulk": {}}})
        value = json.dumps("k" * 300)

        async def main():
            async with websockets.connect(server.ws_url("/topics/bulk"), open_timeout=5) as sub:
                await asyncio.sleep(0.2)
                async with websockets.connect(
                        server.ws_url(f"/topics/bulk/publish?token={TOKEN}&ack=1"),
                        open_timeout=5) as pub:
                    got = []
                    for _ in range(50):
                        await pub.send(value)
                        await asyncio.wait_for(pub.recv(), 5)
                        got.append(json.loads(await asyncio.wait_for(sub.recv(), 5))["seq"])
                        await asyncio.sleep(0.01)
                    return got

        self.assertEqual(run_async(main(), 20), list(range(1, 51)))
        self.assertEqual(metric_value(get_metrics(server),
                                      "happy_slow_consumer_disconnects_total"), 0)


class PrometheusScrapeTest(ServerTestCase):

    def test_real_prometheus_scrapes_published_total(self):
        binary = prometheus_binary()
        server = self.start_server(fast_config(interval_ms=100))
        tmp = tempfile.mkdtemp(prefix="happy-prom-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cfg_path = os.path.join(tmp, "prometheus.yml")
        with open(cfg_path, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: happy\n    static_configs:\n"
                    f"      - targets: ['{HOST}:{server.port}']\n")
        port = free_port()
        log = open(os.path.join(tmp, "prometheus.log"), "w+")
        self.addCleanup(log.close)
        proc = subprocess.Popen([binary, f"--config.file={cfg_path}",
                                 f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                                 f"--web.listen-address={HOST}:{port}", "--log.level=warn"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def stop_prometheus():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.addCleanup(stop_prometheus)

        query = 'happy_readings_published_total{topic="happiness"}'
        url = (f"http://{HOST}:{port}/api/v1/query?"
               + urllib.parse.urlencode({"query": query}))
        deadline = time.monotonic() + 30
        last = None
        value = None
        while time.monotonic() < deadline and value is None:
            if proc.poll() is not None:
                log.seek(0)
                self.fail(f"prometheus exited with {proc.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as res:
                    last = json.loads(res.read())
                results = last.get("data", {}).get("result", [])
                if results and float(results[0]["value"][1]) > 0:
                    value = float(results[0]["value"][1])
                    break
            except OSError as e:
                last = repr(e)
            time.sleep(0.5)
        if value is None:
            log.seek(0)
            self.fail(f"prometheus did not return {query} > 0 within 30 s; last answer: {last}"
                      f"\nprometheus log:\n{log.read()}")
        self.assertGreater(value, 0)
        # The scrape target is healthy.
        with urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/query?"
                                    + urllib.parse.urlencode({"query": 'up{job="happy"}'}),
                                    timeout=2) as res:
            up = json.loads(res.read())["data"]["result"]
        self.assertEqual([r["value"][1] for r in up], ["1"])


if __name__ == "__main__":
    unittest.main()
