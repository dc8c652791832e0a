"""Regression tests for the findings of the security review (issue #30), each
against the real binary: request smuggling through Transfer-Encoding, names of
protected topics in a 404, an encoded '/' routed as a path separator, lenient
JWT and header parsing, the page's own origin, and /metrics kept private."""

import base64
import hashlib
import hmac
import json
import re
import socket
import time
import unittest

from harness import HOST, ServerTestCase, wait_for_stderr

SECRET = "security-review-secret-0123456789abcdef"
METRICS_TOKEN = "scraper-token-0123"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_raw(header_json, claims_json, secret=SECRET):
    """Signs header and claims exactly as written (a JWT library would
    normalize the odd shapes these tests need)."""
    signing_input = f"{b64url(header_json.encode())}.{b64url(claims_json.encode())}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def exp():
    return int(time.time()) + 300


def protected_config(**top_level):
    return {
        "auth": {"default_access": "public",
                 "jwt": {"algorithm": "HS256", "secret": SECRET}},
        "topics": {
            "happiness": {"generator": {"interval_ms": 100}},
            "secret": {"access": "token", "generator": {"interval_ms": 100}},
        },
        **top_level,
    }


def exchange(port, raw, timeout=5.0):
    """Sends raw bytes and reads until the server closes (or the timeout):
    every byte the server answered on this one connection."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(raw)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                return out, True
            out += chunk
        return out, False


def statuses(raw_answer):
    """The status of every response on the connection (bodies here never hold the pattern)."""
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw_answer)]


class RequestSmuggling(ServerTestCase):
    def setUp(self):
        self.server = self.start_server({"publish": {"tokens": ["publish-token-1"]}})

    def smuggle(self, transfer_encoding):
        inner = (f"GET /healthz?smuggled HTTP/1.1\r\nHost: {HOST}\r\n\r\n").encode()
        outer = (f"POST /topics/x HTTP/1.1\r\nHost: {HOST}\r\n"
                 f"Authorization: Bearer publish-token-1\r\n"
                 f"Transfer-Encoding: {transfer_encoding}\r\n\r\n").encode()
        return exchange(self.server.port, outer + inner)

    def test_a_final_coding_other_than_chunked_is_400_and_the_body_is_never_a_request(self):
        for coding in ("gzip", "identity", "chunked, identity", "deflate, gzip"):
            with self.subTest(coding=coding):
                answer, closed = self.smuggle(coding)
                self.assertEqual(statuses(answer), [400], answer)
                self.assertTrue(closed, "the connection must be closed after the 400")
                self.assertIn(b"chunked", answer)
                self.assertNotIn(b'"status":"ok"', answer)

    def test_a_coding_before_chunked_is_501_and_closes(self):
        answer, closed = self.smuggle("gzip, chunked")
        self.assertEqual(statuses(answer), [501], answer)
        self.assertTrue(closed)

    def test_two_transfer_encoding_headers_are_refused(self):
        raw = (f"POST /topics/x HTTP/1.1\r\nHost: {HOST}\r\nTransfer-Encoding: chunked\r\n"
               f"Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n").encode()
        answer, closed = exchange(self.server.port, raw)
        self.assertEqual(statuses(answer), [400], answer)
        self.assertTrue(closed)

    def test_chunked_alone_still_publishes_and_keeps_the_connection(self):
        body = b"7.5"
        raw = (f"POST /topics/x HTTP/1.1\r\nHost: {HOST}\r\n"
               f"Authorization: Bearer publish-token-1\r\nTransfer-Encoding: chunked\r\n\r\n"
               f"{len(body):x}\r\n").encode() + body + b"\r\n0\r\n\r\n"
        raw += f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        answer, _ = exchange(self.server.port, raw)
        self.assertEqual(statuses(answer), [202, 200], answer)


class BytesTheParserWouldSkip(ServerTestCase):
    """Found by fuzz_source_body: RapidJSON ends a document at a NUL byte and skips
    stray byte-order-mark bytes, so "42\\0junk" and "\\xBF42" were published as 42."""

    def test_a_nul_byte_or_a_stray_bom_byte_is_400_and_publishes_nothing(self):
        server = self.start_server({"publish": {"tokens": ["publish-token-1"]},
                                    "topics": {"x": {}}})
        auth = {"Authorization": "Bearer publish-token-1"}
        for body in (b"42\0junk", b"\xbf42", b"\xef42", b'{"a":1}\0{"b":2}'):
            with self.subTest(body=body):
                status, _, answer = server.http("/topics/x", method="POST", headers=auth, body=body)
                self.assertEqual(status, 400, answer)
                self.assertIn("not JSON", json.loads(answer)["error"])
        self.assertEqual(server.topic("x")["seq"], 0)
        # A whole UTF-8 byte order mark may stand before a text (RFC 8259 section 8.1).
        status, _, answer = server.http("/topics/x", method="POST", headers=auth,
                                        body=b"\xef\xbb\xbf42")
        self.assertEqual(status, 202, answer)


class DuplicateHeaders(ServerTestCase):
    def test_two_origin_host_or_authorization_headers_are_400(self):
        server = self.start_server({"cors": {"allowed_origins": ["https://good.example"]}})
        for name, first, second in (("Origin", "https://good.example", "https://evil.example"),
                                    ("Host", HOST, "evil.example"),
                                    ("Authorization", "Bearer a", "Bearer b")):
            with self.subTest(header=name):
                host = "" if name == "Host" else f"Host: {HOST}\r\n"
                raw = (f"GET /topics HTTP/1.1\r\n{host}{name}: {first}\r\n{name}: {second}\r\n"
                       f"\r\n").encode()
                answer, closed = exchange(server.port, raw)
                self.assertEqual(statuses(answer), [400], answer)
                self.assertIn(f"more than one {name}".encode(), answer)
                self.assertTrue(closed)


class EncodedSlash(ServerTestCase):
    def test_an_encoded_slash_in_a_path_segment_is_400_not_a_route(self):
        server = self.start_server(protected_config())
        for target in ("/topics%2Fsecret", "/topics%2fsecret", "/topics%2Fhappiness",
                       "/topics/secret%2Fhistory", "/metrics%2F"):
            with self.subTest(target=target):
                status, _, body = server.http(target)
                self.assertEqual(status, 400, body)
                self.assertIn("%2F", json.loads(body)["error"])
        # The same readings under their real path still answer.
        status, _, _ = server.http("/topics/happiness?poll=1&last=1")
        self.assertEqual(status, 200)


class UnknownTopicList(ServerTestCase):
    def test_a_404_lists_only_what_the_caller_may_read(self):
        server = self.start_server(protected_config())
        token = hs256_raw('{"alg":"HS256","typ":"JWT"}',
                          json.dumps({"exp": exp(), "read": ["secret"]}))
        for transport, headers in (("stream", {}),
                                   ("websocket", {"Connection": "Upgrade", "Upgrade": "websocket",
                                                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                  "Sec-WebSocket-Version": "13"})):
            with self.subTest(transport=transport):
                status, _, body = server.http("/nope", headers=headers)
                self.assertEqual(status, 404, body)
                self.assertEqual(json.loads(body)["topics"], ["happiness"])
                status, _, body = server.http(
                    "/nope", headers={**headers, "Authorization": f"Bearer {token}"})
                self.assertEqual(status, 404, body)
                self.assertEqual(sorted(json.loads(body)["topics"]), ["happiness", "secret"])


class StrictTokens(ServerTestCase):
    def setUp(self):
        self.server = self.start_server(protected_config())

    def read_secret(self, token):
        status, _, body = self.server.http("/topics/secret?poll=1&last=1&timeout=0",
                                           headers={"Authorization": f"Bearer {token}"})
        return status, body

    def test_the_hand_signed_control_token_reads(self):
        token = hs256_raw('{"alg":"HS256","typ":"JWT"}',
                          json.dumps({"exp": exp(), "read": ["secret"]}))
        status, body = self.read_secret(token)
        self.assertEqual(status, 200, body)

    def test_odd_shapes_are_refused_with_the_reason_logged(self):
        cases = {
            "alg in another case": ('{"alg":"hs256","typ":"JWT"}',
                                    json.dumps({"exp": exp(), "read": ["secret"]}),
                                    "header 'alg' is not HS256"),
            "crit naming a claim": ('{"alg":"HS256","crit":["exp"]}',
                                    json.dumps({"exp": exp(), "read": ["secret"]}),
                                    "header has 'crit'"),
            "crit naming an extension": ('{"alg":"HS256","crit":["x-unknown"],"x-unknown":1}',
                                         json.dumps({"exp": exp(), "read": ["secret"]}),
                                         "header has 'crit'"),
            "a claim twice": ('{"alg":"HS256","typ":"JWT"}',
                              f'{{"exp":{exp()},"read":["happiness"],"read":["secret"]}}',
                              "claims: a key appears twice"),
            "a header key twice": ('{"alg":"none","alg":"HS256"}',
                                   json.dumps({"exp": exp(), "read": ["secret"]}),
                                   "header: a key appears twice"),
        }
        for name, (header, claims, reason) in cases.items():
            with self.subTest(name):
                status, body = self.read_secret(hs256_raw(header, claims))
                self.assertEqual(status, 401, body)
                wait_for_stderr(self.server, re.escape(reason))


class OwnOrigin(ServerTestCase):
    def test_the_pages_own_origin_subscribes_when_allowed_origins_lists_others(self):
        server = self.start_server({"cors": {"allowed_origins": ["https://other.example"]},
                                    "topics": {"happiness": {"generator": {"interval_ms": 100}}}})
        own = f"http://{HOST}:{server.port}"
        status, _, _ = server.http_upgrade("/happiness", {"Origin": own})
        self.assertEqual(status, 101)
        status, _, _ = server.http_upgrade("/happiness", {"Origin": "https://other.example"})
        self.assertEqual(status, 101)
        status, _, body = server.http_upgrade("/happiness", {"Origin": "https://evil.example"})
        self.assertEqual(status, 403, body)
        # A page elsewhere that names this host in its path is not this page.
        status, _, _ = server.http_upgrade("/happiness",
                                           {"Origin": f"https://evil.example/{HOST}:{server.port}"})
        self.assertEqual(status, 403)
        # A stream from the page itself too.
        status, _, _ = server.http("/happiness?poll=1&last=1&timeout=0", headers={"Origin": own})
        self.assertEqual(status, 200)


class PrivateMetrics(ServerTestCase):
    def test_metrics_tokens_keep_the_scrape_private(self):
        server = self.start_server({"metrics": {"tokens": [METRICS_TOKEN]}})
        status, headers, body = server.http("/metrics")
        self.assertEqual(status, 401, body)
        self.assertEqual(headers.get("www-authenticate"), "Bearer")
        self.assertNotIn(b"happy_", body)
        status, _, _ = server.http("/metrics", headers={"Authorization": "Bearer wrong-token-1"})
        self.assertEqual(status, 401)
        status, _, body = server.http("/metrics",
                                      headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        self.assertEqual(status, 200)
        self.assertIn(b"happy_", body)

    def test_the_environment_adds_metrics_tokens(self):
        server = self.start_server(env={"HAPPY_METRICS_TOKENS": "from-environment-1"})
        self.assertEqual(server.http("/metrics")[0], 401)
        status, _, _ = server.http("/metrics",
                                   headers={"Authorization": "Bearer from-environment-1"})
        self.assertEqual(status, 200)

    def test_without_tokens_metrics_stay_open(self):
        server = self.start_server()
        self.assertEqual(server.http("/metrics")[0], 200)


if __name__ == "__main__":
    unittest.main()
