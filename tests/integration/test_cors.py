"""CORS: preflight, Access-Control-Allow-Origin echo, and Origin checks on every subscription."""

import asyncio
import json
import unittest

import websockets
from websockets.exceptions import InvalidStatusCode

from harness import HttpStream, ServerTestCase, fast_config, run_async

GOOD = "http://good.example"
BAD = "http://evil.example"
TOKEN = "cors-token-12345"
SSE = {"Accept": "text/event-stream"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def cors_config(origins):
    return fast_config(interval_ms=100, extra_topics={"quiet": {}},
                       cors={"allowed_origins": origins}, publish={"tokens": [TOKEN]})


def split_list(value):
    return {item.strip().lower() for item in value.split(",") if item.strip()}


async def first_envelope(server, kind, origin=None, path="/happiness"):
    """Subscribes over kind (websocket/sse/ndjson/text) and returns (status, ACAO, envelope);
    envelope is None when the subscription was refused."""
    headers = {"Origin": origin} if origin else {}
    if kind == "websocket":
        try:
            async with websockets.connect(server.ws_url(path), origin=origin,
                                          open_timeout=5) as ws:
                acao = ws.response_headers.get("Access-Control-Allow-Origin")
                return 101, acao, json.loads(await asyncio.wait_for(ws.recv(), 5))
        except InvalidStatusCode as e:
            return e.status_code, e.headers.get("Access-Control-Allow-Origin"), None
    headers.update({"sse": SSE, "ndjson": {}, "text": BROWSER}[kind])
    async with await HttpStream.open(server.port, path, headers) as s:
        acao = s.headers.get("access-control-allow-origin")
        if s.status != 200:
            return s.status, acao, None
        if kind == "sse":
            return s.status, acao, json.loads((await s.read_event())["data"])
        return s.status, acao, json.loads(await s.read_line())


class RestrictedOriginsTest(ServerTestCase):
    def setUp(self):
        self.server = self.start_server(cors_config([GOOD]))

    def test_preflight(self):
        for path in ("/topics/happiness", "/happiness", "/topics/quiet", "/topics"):
            with self.subTest(path=path):
                status, headers, body = self.server.http(path, method="OPTIONS", headers={
                    "Origin": GOOD, "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type"})
                self.assertEqual(status, 204, body)
                self.assertEqual(body, b"")
                self.assertEqual(headers.get("access-control-allow-origin"), GOOD)
                self.assertTrue({"get", "head", "post", "options"} <= split_list(
                    headers.get("access-control-allow-methods", "")), headers)
                self.assertIn("authorization",
                              split_list(headers.get("access-control-allow-headers", "")))

    def test_preflight_from_a_disallowed_origin_does_not_echo_it(self):
        status, headers, _ = self.server.http("/topics/happiness", method="OPTIONS", headers={
            "Origin": BAD, "Access-Control-Request-Method": "POST"})
        self.assertNotEqual(headers.get("access-control-allow-origin"), BAD)
        self.assertNotEqual(headers.get("access-control-allow-origin"), "*")

    def test_allowed_origin_is_echoed(self):
        for path in ("/topics", "/healthz", "/topics/happiness?poll=1&last=1"):
            with self.subTest(path=path):
                status, headers, body = self.server.http(path, headers={"Origin": GOOD})
                self.assertEqual(status, 200, body)
                self.assertEqual(headers.get("access-control-allow-origin"), GOOD)
        status, headers, body = self.server.http(
            "/topics/quiet", method="POST", body=b"1",
            headers={"Origin": GOOD, "Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(status, 202, body)
        self.assertEqual(headers.get("access-control-allow-origin"), GOOD)

    def test_disallowed_origin_is_refused_on_every_subscription(self):
        async def main():
            results = {}
            for kind in ("websocket", "sse", "ndjson", "text"):
                results[kind] = await first_envelope(self.server, kind, origin=BAD)
            return results

        for kind, (status, acao, env) in run_async(main(), 30).items():
            with self.subTest(kind=kind):
                self.assertEqual(status, 403, env)
                self.assertNotEqual(acao, BAD)
        status, headers, body = self.server.http_upgrade("/happiness", {"Origin": BAD})
        self.assertEqual(status, 403)
        self.assertIn(BAD, json.loads(body)["error"])

    def test_disallowed_origin_is_refused_on_the_publisher_socket(self):
        status, _, body = self.server.http_upgrade(f"/topics/quiet/publish?token={TOKEN}",
                                                   {"Origin": BAD})
        self.assertEqual(status, 403, body)
        self.assertEqual(self.server.topic("quiet")["seq"], 0)

    def test_allowed_origin_is_accepted_on_every_subscription(self):
        async def main():
            return {kind: await first_envelope(self.server, kind, origin=GOOD)
                    for kind in ("websocket", "sse", "ndjson", "text")}

        for kind, (status, acao, env) in run_async(main(), 30).items():
            with self.subTest(kind=kind):
                self.assertIn(status, (101, 200))
                self.assertEqual(env["topic"], "happiness")
                if kind != "websocket":  # CORS headers matter to fetch/EventSource
                    self.assertEqual(acao, GOOD)

    def test_no_origin_is_accepted_on_every_subscription(self):
        async def main():
            return {kind: await first_envelope(self.server, kind)
                    for kind in ("websocket", "sse", "ndjson", "text")}

        for kind, (status, acao, env) in run_async(main(), 30).items():
            with self.subTest(kind=kind):
                self.assertIn(status, (101, 200))
                self.assertEqual(env["topic"], "happiness")


class DefaultOriginsTest(ServerTestCase):
    def test_any_origin_is_echoed_and_star_without_one(self):
        server = self.start_server(fast_config(interval_ms=100))
        for origin in (GOOD, BAD, "null"):
            with self.subTest(origin=origin):
                _, headers, _ = server.http("/topics", headers={"Origin": origin})
                self.assertEqual(headers.get("access-control-allow-origin"), origin)
        _, headers, _ = server.http("/topics")
        self.assertEqual(headers.get("access-control-allow-origin"), "*")
        status, headers, _ = server.http("/happiness", method="OPTIONS",
                                         headers={"Origin": BAD})
        self.assertEqual((status, headers.get("access-control-allow-origin")), (204, BAD))

        async def main():
            return {kind: await first_envelope(server, kind, origin=BAD)
                    for kind in ("websocket", "sse", "ndjson")}

        for kind, (status, acao, env) in run_async(main(), 30).items():
            with self.subTest(kind=kind):
                self.assertIn(status, (101, 200))
                self.assertEqual(env["topic"], "happiness")


if __name__ == "__main__":
    unittest.main()
