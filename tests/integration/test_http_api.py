"""Plain HTTP endpoints: /healthz, /topics, unknown paths, CORS."""

import http.client
import json
import unittest

from harness import HOST, Server, fast_config


class HttpApiTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = Server(fast_config(interval_ms=100, extra_topics={"bench": {}}))
        cls.addClassCleanup(cls.server.close)

    def assert_json(self, headers):
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)

    def test_healthz(self):
        status, headers, body = self.server.http("/healthz")
        self.assertEqual(status, 200, body)
        self.assert_json(headers)
        self.assertEqual(json.loads(body), {"status": "ok"})

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        conn = http.client.HTTPConnection(HOST, self.server.port, timeout=5)
        try:
            for path in ("/healthz", "/topics", "/healthz"):
                conn.request("GET", path)
                res = conn.getresponse()
                body = res.read()
                self.assertEqual(res.status, 200, (path, body))
                json.loads(body)
        finally:
            conn.close()

    def test_unknown_path_is_404_json(self):
        for path in ("/no/such/path", "/Not_A_Topic", "/topics/happiness/extra/bits"):
            with self.subTest(path=path):
                status, headers, body = self.server.http(path)
                self.assertEqual(status, 404, body)
                self.assert_json(headers)
                error = json.loads(body)
                self.assertIsInstance(error.get("error"), str, body)
                self.assertTrue(error["error"], body)

    def test_topics_list(self):
        status, headers, body = self.server.http("/topics")
        self.assertEqual(status, 200, body)
        self.assert_json(headers)
        topics = json.loads(body)
        self.assertIsInstance(topics, list)
        by_name = {t["name"]: t for t in topics}
        self.assertEqual(set(by_name), {"happiness", "bench"})
        for t in topics:
            self.assertTrue({"name", "seq", "subscribers", "interval_ms", "history"} <= set(t), t)
            self.assertIsInstance(t["seq"], int)
            self.assertIsInstance(t["subscribers"], int)
            self.assertIsInstance(t["history"], int)
        self.assertEqual(by_name["happiness"]["interval_ms"], 100)
        self.assertIsNone(by_name["bench"]["interval_ms"])

    def test_cors_echoes_origin(self):
        origin = "http://dashboard.example:3000"
        for path in ("/healthz", "/topics", "/no/such/path"):
            with self.subTest(path=path):
                _, headers, _ = self.server.http(path, headers={"Origin": origin})
                self.assertEqual(headers.get("access-control-allow-origin"), origin, headers)

    def test_cors_star_without_origin(self):
        _, headers, _ = self.server.http("/topics")
        self.assertEqual(headers.get("access-control-allow-origin"), "*", headers)

    def test_cors_on_refused_websocket_handshake(self):
        # A browser page reading the 404 body needs the CORS header there too.
        origin = "http://dashboard.example"
        status, headers, body = self.server.http_upgrade("/nosuchtopic", {"Origin": origin})
        self.assertEqual(status, 404, body)
        self.assertEqual(headers.get("access-control-allow-origin"), origin, headers)


if __name__ == "__main__":
    unittest.main()
