"""POST /topics/<name>: real readings in, with tokens, limits and clear errors."""

import asyncio
import json
import unittest

import websockets

from harness import ServerTestCase, run_async

TOKEN = "integration-token-1"


def publish_config(**limits):
    cfg = {"publish": {"tokens": [TOKEN]}, "topics": {"orders": {}}}
    if limits:
        cfg["limits"] = limits
    return cfg


def post(server, topic, body, token=TOKEN, query=""):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, headers, raw = server.http(f"/topics/{topic}{query}", method="POST", headers=headers,
                                       body=body.encode() if isinstance(body, str) else body)
    return status, json.loads(raw) if raw else None


def wait_for_subscribers(server, topic, count):
    server.wait_for(lambda ts: any(t["name"] == topic and t["subscribers"] >= count for t in ts),
                    what=f"{count} subscriber(s) of {topic}")


class PublishTest(ServerTestCase):
    def test_published_values_reach_subscribers_in_order(self):
        server = self.start_server(publish_config())
        values = [{"n": i, "label": f"v{i}"} for i in range(200)]

        async def scenario():
            async with websockets.connect(server.ws_url("/topics/orders")) as ws:
                # The hub must count the subscriber before the first publish, or seq 1 is
                # published to nobody.
                await asyncio.to_thread(wait_for_subscribers, server, "orders", 1)
                for i, value in enumerate(values):
                    status, answer = await asyncio.to_thread(post, server, "orders",
                                                             json.dumps(value))
                    self.assertEqual(status, 202, answer)
                    self.assertEqual(answer, {"topic": "orders", "seq": i + 1})
                got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in values]
                return got

        got = run_async(scenario(), 60)
        self.assertEqual([m["seq"] for m in got], list(range(1, 201)))
        self.assertEqual([m["orders"] for m in got], values)
        self.assertEqual(set(got[0]), {"orders", "topic", "seq", "ts"})

    def test_publishing_creates_a_topic_listed_in_topics(self):
        server = self.start_server(publish_config())
        status, answer = post(server, "brand-new", "7.5", token=None, query=f"?token={TOKEN}")
        self.assertEqual((status, answer), (202, {"topic": "brand-new", "seq": 1}))
        topic = server.topic("brand-new")
        self.assertEqual(topic["seq"], 1)
        self.assertIsNone(topic["interval_ms"])

        async def replay():
            async with websockets.connect(server.ws_url("/brand-new?last=1")) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 5))

        self.assertEqual(run_async(replay(), 10)["brand-new"], 7.5)

    def test_token_errors(self):
        server = self.start_server(publish_config())
        status, answer = post(server, "orders", "1", token=None)
        self.assertEqual(status, 401)
        self.assertIn("token", answer["error"])
        status, answer = post(server, "orders", "1", token="wrong-token-000")
        self.assertEqual(status, 403)
        self.assertEqual(server.topic("orders")["seq"], 0)

    def test_publishing_is_off_without_tokens(self):
        server = self.start_server({"topics": {"orders": {}}})
        status, answer = post(server, "orders", "1")
        self.assertEqual(status, 403)
        self.assertIn("publish.tokens", answer["error"])

    def test_env_tokens_enable_publishing(self):
        server = self.start_server({"topics": {"orders": {}}},
                                   env={"HAPPY_PUBLISH_TOKENS": "env-token-a,env-token-b"})
        self.assertEqual(post(server, "orders", "1", token="env-token-b")[0], 202)

    def test_body_errors(self):
        server = self.start_server(publish_config(max_message_bytes=1024))
        status, answer = post(server, "orders", '{"a": }')
        self.assertEqual(status, 400)
        self.assertEqual(answer["error"], "invalid JSON at offset 6: Invalid value.")
        self.assertEqual(post(server, "orders", "")[0], 400)
        self.assertEqual(post(server, "orders", "[" * 5000 + "]" * 5000)[0], 413)
        status, answer = post(server, "orders", "[" * 500 + "]" * 500)
        self.assertEqual(status, 400)
        self.assertIn("nested deeper", answer["error"])
        self.assertEqual(server.topic("orders")["seq"], 0)
        # The server is still fine.
        self.assertEqual(post(server, "orders", "1")[0], 202)

    def test_name_and_method_errors(self):
        server = self.start_server(publish_config())
        for bad in ("metrics", "Upper", "a.b"):
            status, answer = post(server, bad, "1")
            self.assertEqual(status, 404, bad)
            self.assertIn("error", answer)
        status, headers, _ = server.http("/topics/orders", method="PUT", body=b"1")
        self.assertEqual(status, 405)
        self.assertIn("POST", headers["allow"])
        self.assertEqual(server.http("/healthz", method="POST", body=b"1")[0], 405)

    def test_topic_limit(self):
        server = self.start_server(publish_config(max_topics=2))
        self.assertEqual(post(server, "second", "1")[0], 202)
        status, answer = post(server, "third", "1")
        self.assertEqual(status, 429)
        self.assertIn("max_topics", answer["error"])

    def test_publisher_socket_over_topic_limit_closes_1008(self):
        server = self.start_server(publish_config(max_topics=1))

        async def scenario():
            url = server.ws_url(f"/topics/overflow/publish?token={TOKEN}&ack=1")
            async with websockets.connect(url) as pub:
                await pub.send("1")
                with self.assertRaises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(pub.recv(), 5)
                return closed.exception

        closed = run_async(scenario(), 15)
        self.assertEqual(closed.code, 1008)
        self.assertIn("max_topics", closed.reason)
        self.assertNotIn("overflow", [t["name"] for t in server.topics()])


if __name__ == "__main__":
    unittest.main()
