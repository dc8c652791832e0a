"""Subscribing over SSE, HTTP streaming and long-poll next to WebSocket, and the publish fan-out.

Every transport serves the same envelopes from the same hub; these tests check that each one
delivers them in order with nothing lost, and that the transport is chosen by the request.
"""

import asyncio
import http.client
import json
import subprocess
import time
import unittest

import websockets

from harness import (HOST, HttpStream, ServerTestCase, assert_consecutive, fast_config,
                     long_poll, run_async)

TOKEN = "transport-token-1"
SSE = {"Accept": "text/event-stream"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def transport_config(**limits):
    """happiness every 100 ms, a publish-only `quiet` topic, publishing on."""
    cfg = fast_config(interval_ms=100, extra_topics={"quiet": {}},
                      publish={"tokens": [TOKEN]})
    cfg["limits"].update(limits)
    return cfg


async def ws_recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


class SseTest(ServerTestCase):
    def test_event_ids_are_envelope_seqs(self):
        server = self.start_server(transport_config())

        async def main():
            async with await HttpStream.open(server.port, "/topics/happiness", SSE) as s:
                self.assertEqual(s.status, 200)
                self.assertEqual(s.headers.get("content-type"), "text/event-stream")
                events = [await s.read_event() for _ in range(5)]
            return events

        events = run_async(main(), 20)
        envs = [json.loads(e["data"]) for e in events]
        self.assertEqual([e["id"] for e in events], [str(env["seq"]) for env in envs])
        assert_consecutive(self, [env["seq"] for env in envs], "SSE")
        for env in envs:
            self.assertEqual(set(env), {"happiness", "topic", "seq", "ts"})
            self.assertEqual(env["topic"], "happiness")

    def test_last_event_id_resumes_without_gap_or_duplicate(self):
        server = self.start_server(transport_config())

        async def main():
            async with await HttpStream.open(server.port, "/happiness", SSE) as s:
                first = [await s.read_event() for _ in range(5)]
            last_id = first[-1]["id"]
            # Readings must happen while disconnected, or there is nothing to resume.
            missed_up_to = await asyncio.to_thread(server.wait_for_seq, int(last_id) + 5)
            async with await HttpStream.open(server.port, "/happiness",
                                             dict(SSE, **{"Last-Event-ID": last_id})) as s:
                self.assertEqual(s.status, 200)
                second = [await s.read_event() for _ in range(missed_up_to - int(last_id) + 3)]
            return first, missed_up_to, second

        first, missed_up_to, second = run_async(main(), 30)
        missed = list(range(int(first[-1]["id"]) + 1, missed_up_to + 1))
        self.assertEqual([int(e["id"]) for e in second][:len(missed)], missed,
                         "the readings made while disconnected were not resumed first")
        ids = [int(e["id"]) for e in first + second]
        assert_consecutive(self, ids, "SSE before + after reconnect")
        for e in first + second:
            self.assertEqual(json.loads(e["data"])["seq"], int(e["id"]))

    def test_since_query_wins_over_last_event_id(self):
        server = self.start_server(transport_config())
        server.wait_for_seq(8)

        async def main():
            headers = dict(SSE, **{"Last-Event-ID": "2"})
            async with await HttpStream.open(server.port, "/topics/happiness?since=5",
                                             headers) as s:
                return [int((await s.read_event())["id"]) for _ in range(3)]

        self.assertEqual(run_async(main(), 20), [6, 7, 8])


class StreamingTest(ServerTestCase):
    def test_headers_arrive_before_the_first_reading(self):
        server = self.start_server(transport_config())

        async def main():
            started = time.monotonic()
            async with await HttpStream.open(server.port, "/topics/quiet", timeout=1.0) as s:
                head_after = time.monotonic() - started
                self.assertEqual(s.status, 200)
                self.assertEqual(s.headers.get("content-type"), "application/x-ndjson")
                self.assertIn("chunked", s.headers.get("transfer-encoding", ""))
                # Nothing was published, so no line may be there yet.
                with self.assertRaises(asyncio.TimeoutError):
                    await s.read_line(timeout=0.3)
            return head_after

        head_after = run_async(main(), 10)
        self.assertLess(head_after, 1.0)

    def test_one_line_per_reading(self):
        server = self.start_server(transport_config())

        async def main():
            async with await HttpStream.open(server.port, "/topics/quiet") as s:
                await asyncio.sleep(0.2)
                conn = http.client.HTTPConnection(HOST, server.port, timeout=5)
                try:
                    for i in range(5):
                        conn.request("POST", "/topics/quiet", body=json.dumps({"i": i}),
                                     headers={"Authorization": f"Bearer {TOKEN}"})
                        res = conn.getresponse()
                        res.read()
                        self.assertEqual(res.status, 202)
                finally:
                    conn.close()
                lines = await s.read_lines(5)
            return lines

        lines = run_async(main(), 20)
        envs = [json.loads(line) for line in lines]
        self.assertEqual([e["seq"] for e in envs], [1, 2, 3, 4, 5])
        self.assertEqual([e["quiet"] for e in envs], [{"i": i} for i in range(5)])

    def test_content_type_follows_accept(self):
        server = self.start_server(transport_config())
        cases = [
            ({}, "application/x-ndjson"),
            ({"Accept": "*/*"}, "application/x-ndjson"),
            ({"Accept": "application/x-ndjson"}, "application/x-ndjson"),
            ({"Accept": "application/json"}, "application/x-ndjson"),
            (BROWSER, "text/plain; charset=utf-8"),
            ({"Accept": "text/html"}, "text/plain; charset=utf-8"),
        ]

        async def main():
            for headers, expected in cases:
                with self.subTest(accept=headers.get("Accept")):
                    async with await HttpStream.open(server.port, "/happiness", headers) as s:
                        self.assertEqual(s.status, 200)
                        self.assertEqual(s.headers.get("content-type"), expected)
                        envs = [json.loads(x) for x in await s.read_lines(3)]
                        assert_consecutive(self, [e["seq"] for e in envs], expected)

        run_async(main(), 30)

    def test_replay_query_on_a_stream(self):
        server = self.start_server(transport_config())
        server.wait_for_seq(6)

        async def main():
            async with await HttpStream.open(server.port, "/topics/happiness?since=2") as s:
                return [json.loads(x)["seq"] for x in await s.read_lines(4)]

        self.assertEqual(run_async(main(), 10), [3, 4, 5, 6])

    def test_curl_no_buffer_gets_lines_at_once(self):
        server = self.start_server(transport_config())
        url = f"http://{HOST}:{server.port}/happiness"
        started = time.monotonic()
        proc = subprocess.run(["curl", "-sN", "--max-time", "0.6", url],
                              capture_output=True, text=True, timeout=10)
        took = time.monotonic() - started
        self.assertEqual(proc.returncode, 28, proc.stderr)  # 28 = our --max-time hit
        lines = [x for x in proc.stdout.split("\n") if x]
        self.assertGreaterEqual(len(lines), 3, proc.stdout)
        envs = [json.loads(x) for x in lines]
        assert_consecutive(self, [e["seq"] for e in envs], "curl -N")
        print(f"\ncurl -N: {len(lines)} lines in {took:.2f} s")


class LongPollTest(ServerTestCase):
    def test_poll_loop_sees_exactly_what_a_websocket_sees(self):
        server = self.start_server(transport_config())

        async def ws_client(stop_at):
            got = []
            async with websockets.connect(server.ws_url("/happiness"), open_timeout=5) as ws:
                while time.monotonic() < stop_at:
                    try:
                        got.append(await ws_recv_json(ws, timeout=max(0.05, stop_at - time.monotonic())))
                    except asyncio.TimeoutError:
                        break
            return got

        async def poller(stop_at):
            got, since, requests = [], None, 0
            while time.monotonic() < stop_at:
                status, headers, envs = await long_poll(server.port, "/happiness", since=since,
                                                        timeout_s=5, client_timeout=10)
                requests += 1
                self.assertEqual(status, 200, envs)
                self.assertIsInstance(envs, list)
                if envs:
                    got.extend(envs)
                    since = envs[-1]["seq"]
            return got, requests

        async def main():
            stop_at = time.monotonic() + 3.0
            return await asyncio.gather(ws_client(stop_at), poller(stop_at))

        ws_envs, (poll_envs, requests) = run_async(main(), 20)
        ws_seqs = [e["seq"] for e in ws_envs]
        poll_seqs = [e["seq"] for e in poll_envs]
        assert_consecutive(self, ws_seqs, "websocket")
        assert_consecutive(self, poll_seqs, "long-poll")
        lo, hi = max(ws_seqs[0], poll_seqs[0]), min(ws_seqs[-1], poll_seqs[-1])
        self.assertGreaterEqual(hi - lo, 20, (ws_seqs, poll_seqs))
        self.assertEqual([e for e in ws_envs if lo <= e["seq"] <= hi],
                         [e for e in poll_envs if lo <= e["seq"] <= hi])
        print(f"\nlong-poll: {len(poll_seqs)} envelopes in {requests} requests; "
              f"websocket {len(ws_seqs)}; common {hi - lo + 1}")

    def test_poll_answers_every_held_envelope_at_once(self):
        # since=N / last=n answer the whole held range in one array, every time.
        server = self.start_server(transport_config())
        for i in range(10):
            status, _, body = server.http("/topics/quiet", "POST",
                                          {"Authorization": f"Bearer {TOKEN}"}, str(i).encode())
            self.assertEqual(status, 202, body)
        expected = {"since=0": list(range(1, 11)), "since=5": list(range(6, 11)),
                    "last=3": [8, 9, 10]}

        async def main():
            answers, slowest, headers = [], 0.0, None
            for _ in range(100):
                for query in expected:
                    started = time.monotonic()
                    status, headers, envs = await long_poll(server.port,
                                                            f"/topics/quiet?{query}",
                                                            timeout_s=2, client_timeout=5)
                    slowest = max(slowest, time.monotonic() - started)
                    self.assertEqual(status, 200, envs)
                    answers.append((query, [e["seq"] for e in envs]))
            return answers, slowest, headers

        answers, slowest, headers = run_async(main(), 30)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        self.assertEqual(headers.get("connection", "").lower(), "close")
        wrong = [(q, got) for q, got in answers if got != expected[q]]
        self.assertEqual(wrong, [], f"{len(wrong)} of {len(answers)} long-poll answers were not "
                                    f"the held envelopes; first: {wrong[:3]}")
        self.assertLess(slowest, 0.5)

    def test_poll_with_history_on_a_live_topic(self):
        server = self.start_server(transport_config())
        seq = server.wait_for_seq(5)

        async def main():
            started = time.monotonic()
            _, _, envs = await long_poll(server.port, "/topics/happiness", since=0)
            took = time.monotonic() - started
            _, _, last = await long_poll(server.port, "/topics/happiness?last=3")
            return envs, took, last

        envs, took, last = run_async(main(), 20)
        self.assertLess(took, 0.5)
        self.assertEqual([e["seq"] for e in envs][:seq], list(range(1, seq + 1)))
        self.assertEqual(len(last), 3, last)
        assert_consecutive(self, [e["seq"] for e in last], "last=3")
        self.assertGreaterEqual(last[0]["seq"], seq - 2)

    def test_idle_poll_times_out_with_empty_array(self):
        server = self.start_server(transport_config())

        async def main():
            started = time.monotonic()
            result = await long_poll(server.port, "/topics/quiet", since=0, timeout_s=1,
                                     client_timeout=5)
            return result, time.monotonic() - started

        (status, headers, envs), took = run_async(main(), 10)
        self.assertEqual((status, envs), (200, []))
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 2.0)

    def test_poll_wakes_on_the_next_reading(self):
        server = self.start_server(transport_config())

        async def main():
            waiter = asyncio.create_task(long_poll(server.port, "/topics/quiet", since=0,
                                                   timeout_s=10, client_timeout=15))
            await asyncio.sleep(0.5)
            self.assertFalse(waiter.done())
            started = time.monotonic()
            status, _, _ = await asyncio.to_thread(
                server.http, "/topics/quiet", "POST", {"Authorization": f"Bearer {TOKEN}"},
                b'"hello"')
            self.assertEqual(status, 202)
            result = await asyncio.wait_for(waiter, 5)
            return result, time.monotonic() - started

        (status, _, envs), took = run_async(main(), 20)
        self.assertEqual(status, 200)
        self.assertEqual([(e["seq"], e["quiet"]) for e in envs], [(1, "hello")])
        self.assertLess(took, 1.0)

    def test_invalid_query_values_are_400(self):
        server = self.start_server(transport_config())
        for query in ("timeout=abc", "timeout=-1", "timeout=61", "timeout=1e3",
                      "timeout=99999999999999999999", "since=abc", "since=-1", "last=x"):
            with self.subTest(query=query):
                status, headers, body = server.http(f"/topics/happiness?poll=1&{query}")
                self.assertEqual(status, 400, body)
                self.assertTrue(headers.get("content-type", "").startswith("application/json"))
                self.assertIn("error", json.loads(body))


class TransportChoiceTest(ServerTestCase):
    def test_one_url_four_transports(self):
        server = self.start_server(transport_config())

        async def main():
            for path in ("/topics/happiness", "/happiness"):
                with self.subTest(path=path, transport="websocket"):
                    async with websockets.connect(server.ws_url(path), open_timeout=5) as ws:
                        env = await ws_recv_json(ws)
                        self.assertEqual(env["topic"], "happiness")
                with self.subTest(path=path, transport="sse"):
                    async with await HttpStream.open(server.port, path, SSE) as s:
                        self.assertEqual(s.headers.get("content-type"), "text/event-stream")
                        ev = await s.read_event()
                        self.assertEqual(ev["id"], str(json.loads(ev["data"])["seq"]))
                with self.subTest(path=path, transport="ndjson"):
                    async with await HttpStream.open(server.port, path,
                                                     {"Accept": "application/x-ndjson"}) as s:
                        self.assertEqual(s.headers.get("content-type"), "application/x-ndjson")
                        self.assertEqual(json.loads(await s.read_line())["topic"], "happiness")
                with self.subTest(path=path, transport="text/plain"):
                    async with await HttpStream.open(server.port, path, BROWSER) as s:
                        self.assertEqual(s.headers.get("content-type"),
                                         "text/plain; charset=utf-8")
                        self.assertEqual(json.loads(await s.read_line())["topic"], "happiness")

        run_async(main(), 30)


class PublishFanOutTest(ServerTestCase):
    N = 1000

    def test_1000_values_over_post_then_websocket_reach_every_transport(self):
        server = self.start_server(transport_config(history=5000))
        n = self.N
        report = []

        async def ws_sub(target, out, ws):
            while not out or out[-1][0]["seq"] < target:
                out.append((await ws_recv_json(ws, 10), time.monotonic()))

        async def sse_sub(target, out, stream):
            while not out or out[-1][0]["seq"] < target:
                ev = await stream.read_event(10)
                env = json.loads(ev["data"])
                self.assertEqual(ev["id"], str(env["seq"]))
                out.append((env, time.monotonic()))

        async def poll_sub(target, out, since):
            requests = 0
            while not out or out[-1][0]["seq"] < target:
                status, _, envs = await long_poll(server.port, "/topics/quiet",
                                                  since=out[-1][0]["seq"] if out else since,
                                                  timeout_s=10, client_timeout=15)
                requests += 1
                self.assertEqual(status, 200, envs)
                now = time.monotonic()
                out.extend((e, now) for e in envs)
            return requests

        def post_all(values, sent):
            conn = http.client.HTTPConnection(HOST, server.port, timeout=10)
            seqs = []
            try:
                for v in values:
                    sent.append(time.monotonic())
                    conn.request("POST", "/topics/quiet", body=json.dumps(v),
                                 headers={"Authorization": f"Bearer {TOKEN}",
                                          "Content-Type": "application/json"})
                    res = conn.getresponse()
                    body = json.loads(res.read())
                    if res.status != 202:
                        raise AssertionError(f"POST answered {res.status}: {body}")
                    seqs.append(body["seq"])
            finally:
                conn.close()
            return seqs

        async def ws_publish_all(values, sent):
            url = server.ws_url(f"/topics/quiet/publish?token={TOKEN}&ack=1")
            async with websockets.connect(url, open_timeout=5) as pub:
                for v in values:
                    sent.append(time.monotonic())
                    await pub.send(json.dumps(v))
                return [json.loads(await asyncio.wait_for(pub.recv(), 10))["seq"]
                        for _ in values]

        async def phase(name, values, first_seq, publish, ws, sse):
            target = first_seq + len(values) - 1
            got = {"websocket": [], "sse": [], "long-poll": []}
            started = time.monotonic()
            subs = asyncio.gather(ws_sub(target, got["websocket"], ws),
                                  sse_sub(target, got["sse"], sse),
                                  poll_sub(target, got["long-poll"], first_seq - 1))
            sent = []
            acks = await publish(values, sent)
            published = time.monotonic() - started
            _, _, poll_requests = await asyncio.wait_for(subs, 30)
            self.assertEqual(acks, list(range(first_seq, target + 1)), f"{name} acks")
            line = [f"{name}: {len(values)} values published in {published:.3f} s "
                    f"({len(values) / published:.0f}/s)"]
            for transport, items in got.items():
                envs = [e for e, _ in items]
                self.assertEqual([e["seq"] for e in envs], list(range(first_seq, target + 1)),
                                 f"{name} -> {transport}")
                self.assertEqual([e["quiet"] for e in envs], values, f"{name} -> {transport}")
                took = items[-1][1] - started
                latency = sorted((t - sent[i]) * 1000 for i, (_, t) in enumerate(items))
                extra = f", {poll_requests} requests" if transport == "long-poll" else ""
                line.append(f"{transport}: all {len(envs)} after {took:.3f} s "
                            f"({len(envs) / took:.0f}/s{extra}), latency p50 "
                            f"{latency[len(latency) // 2]:.1f} ms, p99 "
                            f"{latency[len(latency) * 99 // 100]:.1f} ms, max {latency[-1]:.1f} ms")
            report.append("\n  ".join(line))

        async def main():
            async with websockets.connect(server.ws_url("/topics/quiet"), open_timeout=5,
                                          max_queue=None) as ws:
                async with await HttpStream.open(server.port, "/topics/quiet", SSE) as sse:
                    self.assertEqual(sse.status, 200)
                    server_ready = await asyncio.to_thread(
                        server.wait_for, lambda ts: any(
                            t["name"] == "quiet" and t["subscribers"] >= 2 for t in ts),
                        5, "2 subscribers on quiet")
                    self.assertTrue(server_ready)
                    await phase("HTTP POST (keep-alive)",
                                [{"via": "post", "i": i} for i in range(n)], 1,
                                lambda v, sent: asyncio.to_thread(post_all, v, sent), ws, sse)
                    await phase("WebSocket publisher (ack=1, pipelined)",
                                [{"via": "ws", "i": i} for i in range(n)], n + 1,
                                ws_publish_all, ws, sse)

        run_async(main(), 40)
        print("\n" + "\n".join(report))


class MaxConnectionsTest(ServerTestCase):
    def test_subscriptions_beyond_the_limit_get_503(self):
        server = self.start_server(transport_config(max_connections=3))

        async def refused_status(kind):
            if kind == "websocket":
                try:
                    async with websockets.connect(server.ws_url("/happiness"), open_timeout=5):
                        return 101
                except websockets.exceptions.InvalidStatusCode as e:
                    return e.status_code
            headers = {"sse": SSE, "ndjson": {}, "long-poll": {}}[kind]
            path = "/happiness?poll=1&timeout=1" if kind == "long-poll" else "/happiness"
            async with await HttpStream.open(server.port, path, headers) as s:
                return s.status

        async def main():
            ws = await websockets.connect(server.ws_url("/happiness"), open_timeout=5)
            sse = await HttpStream.open(server.port, "/happiness", SSE)
            nd = await HttpStream.open(server.port, "/topics/happiness")
            try:
                self.assertEqual((sse.status, nd.status), (200, 200))
                await ws_recv_json(ws)
                await sse.read_event()
                await nd.read_line()
                for kind in ("websocket", "sse", "ndjson", "long-poll"):
                    with self.subTest(kind=kind):
                        self.assertEqual(await refused_status(kind), 503)
                # The three that were admitted still get readings.
                await ws_recv_json(ws)
                await sse.read_event()
                await nd.read_line()
            finally:
                await ws.close()
                sse.close()
                nd.close()
            # Once one is gone a new subscription is admitted again (bounded retry: the
            # server notices the closed connections asynchronously).
            deadline = time.monotonic() + 5
            while True:
                status = await refused_status("websocket")
                if status == 101 or time.monotonic() > deadline:
                    return status
                await asyncio.sleep(0.1)

        self.assertEqual(run_async(main(), 30), 101)


if __name__ == "__main__":
    unittest.main()
