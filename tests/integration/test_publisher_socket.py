"""The WebSocket publisher at /topics/<name>/publish: tokens, acks, close codes."""

import asyncio
import json
import unittest

import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from harness import ServerTestCase, run_async

TOKEN = "publisher-token-1"
MAX_BYTES = 1024


def publisher_config(**extra):
    cfg = {"publish": {"tokens": [TOKEN]}, "limits": {"max_message_bytes": MAX_BYTES},
           "topics": {"orders": {}}}
    cfg.update(extra)
    return cfg


async def recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def closed_by_server(ws, timeout=5.0):
    """Waits for the server's close frame (reading anything still in flight); returns
    (code, reason, messages received before it)."""
    before = []
    try:
        while True:
            before.append(await asyncio.wait_for(ws.recv(), timeout))
    except ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason, before


def wait_for_subscribers(server, topic, count):
    server.wait_for(lambda ts: any(t["name"] == topic and t["subscribers"] >= count for t in ts),
                    what=f"{count} subscriber(s) of {topic}")


class PublisherSocketTest(ServerTestCase):
    def setUp(self):
        self.server = self.start_server(publisher_config())

    def url(self, topic="orders", query=f"token={TOKEN}&ack=1"):
        return self.server.ws_url(f"/topics/{topic}/publish?{query}")

    def test_acks_are_in_order_and_values_reach_subscribers(self):
        values = [{"n": i, "tag": f"v{i}"} if i % 3 else i * 0.5 for i in range(500)]

        async def main():
            async with websockets.connect(self.server.ws_url("/topics/orders"),
                                          open_timeout=5) as sub:
                # The hub must count the subscriber before the first publish, or seq 1 is
                # published to nobody.
                await asyncio.to_thread(wait_for_subscribers, self.server, "orders", 1)
                async with websockets.connect(self.url(), open_timeout=5) as pub:
                    for v in values:  # pipelined: all frames first, then the acks
                        await pub.send(json.dumps(v))
                    acks = [await recv_json(pub) for _ in values]
                got = [await recv_json(sub) for _ in values]
            return acks, got

        acks, got = run_async(main(), 30)
        self.assertEqual(acks, [{"seq": i} for i in range(1, 501)])
        self.assertEqual([e["seq"] for e in got], list(range(1, 501)))
        self.assertEqual([e["orders"] for e in got], values)

    def test_no_replies_without_ack(self):
        async def main():
            async with websockets.connect(self.url(query=f"token={TOKEN}"),
                                          open_timeout=5) as pub:
                for i in range(50):
                    await pub.send(str(i))
                with self.assertRaises(asyncio.TimeoutError):
                    await asyncio.wait_for(pub.recv(), 0.5)

        run_async(main(), 15)
        self.server.wait_for_seq(50, topic="orders", timeout=5)

    def test_bearer_header_instead_of_query_token(self):
        async def main():
            async with websockets.connect(
                    self.url(query="ack=1"), open_timeout=5,
                    extra_headers={"Authorization": f"Bearer {TOKEN}"}) as pub:
                await pub.send('"via header"')
                return await recv_json(pub)

        self.assertEqual(run_async(main(), 10), {"seq": 1})

    def test_publishing_to_a_new_topic_creates_it(self):
        async def main():
            async with websockets.connect(self.url(topic="fresh"), open_timeout=5) as pub:
                await pub.send("[1,2,3]")
                return await recv_json(pub)

        self.assertEqual(run_async(main(), 10), {"seq": 1})
        self.assertEqual(self.server.topic("fresh")["seq"], 1)

    async def publish_then(self, bad, values=("1", "2")):
        """Sends values then the bad frame pipelined; returns (code, reason, acks before close)."""
        async with websockets.connect(self.url(), open_timeout=5) as pub:
            for v in values:
                await pub.send(v)
            await pub.send(bad)
            code, reason, before = await closed_by_server(pub)
        return code, reason, [json.loads(m) for m in before]

    def test_invalid_json_closes_1007_after_publishing_what_came_before(self):
        code, reason, _ = run_async(self.publish_then('{"a": }'), 15)
        self.assertEqual(code, 1007)
        self.assertTrue(reason.startswith("invalid JSON at offset 6"), reason)
        self.assertEqual(self.server.topic("orders")["seq"], 2)

    def test_acks_of_values_before_a_refused_frame_are_delivered(self):
        # ack=1: every value that was published is acked, even if the next frame closes.
        cases = {1007: '{"a": }', 1009: json.dumps("x" * MAX_BYTES), 1003: b"1"}
        for code, bad in cases.items():
            with self.subTest(close_code=code):
                first = self.server.topic("orders")["seq"] + 1
                got_code, reason, acks = run_async(self.publish_then(bad), 15)
                self.assertEqual(got_code, code, reason)
                self.assertEqual(self.server.topic("orders")["seq"], first + 1)
                self.assertEqual(acks, [{"seq": first}, {"seq": first + 1}])

    def test_close_frames_carry_a_reason(self):
        cases = {1007: '{"a": }', 1009: json.dumps("x" * MAX_BYTES), 1003: b"1"}
        for code, bad in cases.items():
            with self.subTest(close_code=code):
                got_code, reason, _ = run_async(self.publish_then(bad, values=()), 15)
                self.assertEqual(got_code, code)
                self.assertTrue(reason, f"close {code} without a reason")

    def test_frame_over_max_message_bytes_closes_1009(self):
        at_limit = json.dumps("x" * (MAX_BYTES - 2))
        over = json.dumps("x" * (MAX_BYTES - 1))
        self.assertEqual((len(at_limit), len(over)), (MAX_BYTES, MAX_BYTES + 1))

        async def main():
            async with websockets.connect(self.url(), open_timeout=5) as pub:
                await pub.send(at_limit)
                ack = await recv_json(pub)
                await pub.send(over)
                return ack, await closed_by_server(pub)

        ack, (code, reason, before) = run_async(main(), 15)
        self.assertEqual(ack, {"seq": 1})
        self.assertEqual(before, [])
        self.assertEqual(code, 1009, reason)
        self.assertEqual(self.server.topic("orders")["seq"], 1)

    def test_binary_frame_closes_1003(self):
        async def main():
            async with websockets.connect(self.url(), open_timeout=5) as pub:
                await pub.send(b"1")
                return await closed_by_server(pub)

        code, reason, before = run_async(main(), 15)
        self.assertEqual((code, before), (1003, []), reason)
        self.assertEqual(self.server.topic("orders")["seq"], 0)

    def test_token_problems_are_refused_before_the_upgrade(self):
        cases = [("no token", "ack=1", 401), ("wrong token", "token=wrong-token-000", 403),
                 ("empty token", "token=", 401)]
        for what, query, expected in cases:
            with self.subTest(what):
                status, headers, body = self.server.http_upgrade(
                    f"/topics/orders/publish?{query}")
                self.assertEqual(status, expected, body)
                self.assertIn("error", json.loads(body))
                if expected == 401:
                    self.assertIn("bearer", headers.get("www-authenticate", "").lower())

                async def connect():
                    async with websockets.connect(self.url(query=query), open_timeout=5):
                        pass

                with self.assertRaises(InvalidStatusCode) as ctx:
                    run_async(connect(), 10)
                self.assertEqual(ctx.exception.status_code, expected)
        status, _, body = self.server.http_upgrade(
            "/topics/orders/publish", {"Authorization": "Bearer wrong-token-000"})
        self.assertEqual(status, 403, body)
        self.assertEqual(self.server.topic("orders")["seq"], 0)

    def test_publishing_off_is_403(self):
        server = self.start_server({"topics": {"orders": {}}})
        status, _, body = server.http_upgrade(f"/topics/orders/publish?token={TOKEN}")
        self.assertEqual(status, 403, body)
        self.assertIn("publish.tokens", json.loads(body)["error"])

    def test_reserved_or_invalid_topic_is_404(self):
        for topic in ("metrics", "Upper"):
            with self.subTest(topic=topic):
                status, _, body = self.server.http_upgrade(
                    f"/topics/{topic}/publish?token={TOKEN}")
                self.assertEqual(status, 404, body)

    def test_plain_get_is_426(self):
        status, _, body = self.server.http(f"/topics/orders/publish?token={TOKEN}")
        self.assertEqual(status, 426, body)
        self.assertIn("error", json.loads(body))


if __name__ == "__main__":
    unittest.main()
