"""Private topics: JWTs minted here with Python's jwt package (PyJWT, not the
server's libjwt), keys made with the openssl command, and every transport
checked before its upgrade or stream."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import tempfile
import time
import unittest

import jwt
import websockets

from harness import (HttpStream, ServerTestCase, long_poll, run_async, run_cli, wait_for_stderr,
                     write_temp)

SECRET = "integration-secret-0123456789abcdef-0123"
PUBLISH_TOKEN = "static-publish-token"


def hs256(claims, secret=SECRET):
    return jwt.encode(claims, secret, algorithm="HS256")


def claims(read=None, publish=None, exp_in=60, **extra):
    out = {"exp": int(time.time()) + exp_in, **extra}
    if read is not None:
        out["read"] = read
    if publish is not None:
        out["publish"] = publish
    return out


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed_hs256(claims_, key_bytes):
    """HS256 over arbitrary key bytes: PyJWT refuses a PEM as an HMAC secret,
    which is exactly the algorithm-confusion attack to mount here."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims_).encode())
    signature = hmac.new(key_bytes, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_key_pair(kind):
    """(private PEM path, public PEM path) made by the openssl command."""
    folder = tempfile.mkdtemp(prefix="happy-keys-")
    private, public = os.path.join(folder, "private.pem"), os.path.join(folder, "public.pem")
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", private)
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", private)
    openssl("pkey", "-in", private, "-pubout", "-out", public)
    return private, public


def hs256_config(**auth):
    return {
        "publish": {"tokens": [PUBLISH_TOKEN]},
        "auth": {"jwt": {"algorithm": "HS256", "secret": SECRET, "audience": "dashboards"},
                 "cookie": "happy_token", **auth},
        "topics": {
            "happiness": {"generator": {"interval_ms": 100}},
            "sales": {"access": "token", "generator": {"interval_ms": 100}},
            "sensors-hall": {"access": "token", "generator": {"interval_ms": 100}},
        },
    }


def reader(topics, **extra):
    return hs256(claims(read=topics, aud="dashboards", **extra))


def status_of_upgrade(server, path, headers=None):
    status, _, body = server.http_upgrade(path, headers)
    return status, json.loads(body) if body else None


async def first_envelope_over_websocket(url, headers=None):
    async with websockets.connect(url, extra_headers=headers or {}, open_timeout=5) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), 5))


class TopicAccessTest(ServerTestCase):
    def setUp(self):
        self.server = self.start_server(hs256_config())

    def test_open_topic_needs_no_token(self):
        env = run_async(first_envelope_over_websocket(self.server.ws_url("/happiness")), 10)
        self.assertIn("happiness", env)

    def test_every_transport_refuses_a_protected_topic_without_a_token(self):
        status, body = status_of_upgrade(self.server, "/topics/sales")
        self.assertEqual(status, 401)
        self.assertIn("token", body["error"])
        for accept in ("text/event-stream", "application/x-ndjson"):
            status, headers, _ = self.server.http("/topics/sales", headers={"Accept": accept})
            self.assertEqual((accept, status), (accept, 401))
            self.assertEqual(headers.get("www-authenticate"), "Bearer")
        status, _, _ = self.server.http("/topics/sales?poll=1&timeout=1")
        self.assertEqual(status, 401)
        # The reason is logged, without a token; the response stays generic.
        wait_for_stderr(self.server, r"refused read topic=sales .*status=401: no token")

    def test_a_valid_token_opens_every_transport_from_header_query_or_cookie(self):
        token = reader(["sales"])
        env = run_async(first_envelope_over_websocket(
            self.server.ws_url("/topics/sales"), {"Authorization": f"Bearer {token}"}), 10)
        self.assertIn("sales", env)
        env = run_async(first_envelope_over_websocket(self.server.ws_url(f"/topics/sales?token={token}")), 10)
        self.assertIn("sales", env)
        env = run_async(first_envelope_over_websocket(
            self.server.ws_url("/topics/sales"), {"Cookie": f"theme=dark; happy_token={token}"}), 10)
        self.assertIn("sales", env)

        async def sse():
            async with await HttpStream.open(self.server.port, f"/topics/sales?token={token}",
                                             {"Accept": "text/event-stream"}) as stream:
                self.assertEqual(stream.status, 200)
                return await stream.read_envelopes(2)

        self.assertEqual(len(run_async(sse(), 10)), 2)

        async def ndjson():
            async with await HttpStream.open(self.server.port, "/topics/sales",
                                             {"Authorization": f"Bearer {token}"}) as stream:
                self.assertEqual(stream.status, 200)
                return await stream.read_envelopes(2)

        self.assertEqual(len(run_async(ndjson(), 10)), 2)
        status, _, body = run_async(long_poll(self.server.port, f"/topics/sales?token={token}",
                                              timeout_s=5), 15)
        self.assertEqual(status, 200)
        self.assertTrue(body)

    def test_the_cookie_counts_only_for_the_page_s_own_origin(self):
        # Another site's page could open a WebSocket that carries the user's cookie.
        token = reader(["sales"])
        cookie = {"Cookie": f"happy_token={token}"}
        own = f"http://127.0.0.1:{self.server.port}"
        status, _ = status_of_upgrade(self.server, "/topics/sales", {**cookie, "Origin": "https://evil.example"})
        self.assertEqual(status, 401)
        status, _, _ = self.server.http("/topics/sales?poll=1&timeout=1", headers={
            **cookie, "Origin": "https://evil.example", "Host": f"127.0.0.1:{self.server.port}"})
        self.assertEqual(status, 401)
        env = run_async(first_envelope_over_websocket(
            self.server.ws_url("/topics/sales"), {**cookie, "Origin": own}), 10)
        self.assertIn("sales", env)

    def test_prefix_wildcards_and_star(self):
        env = run_async(first_envelope_over_websocket(
            self.server.ws_url(f"/topics/sensors-hall?token={reader(['sensors-*'])}")), 10)
        self.assertIn("sensors-hall", env)
        env = run_async(first_envelope_over_websocket(
            self.server.ws_url(f"/topics/sales?token={reader(['*'])}")), 10)
        self.assertIn("sales", env)

    def test_hostile_tokens_are_refused_with_the_right_status(self):
        now = int(time.time())
        hostile = {
            "alg none": (jwt.encode(claims(read=["sales"], aud="dashboards"), None, algorithm="none"), 401),
            "expired": (hs256({"exp": now - 10, "read": ["sales"], "aud": "dashboards"}), 401),
            "no exp": (hs256({"read": ["sales"], "aud": "dashboards"}), 401),
            "not valid yet": (hs256(claims(read=["sales"], aud="dashboards", nbf=now + 600)), 401),
            "wrong audience": (hs256(claims(read=["sales"], aud="someone-else")), 401),
            "wrong secret": (hs256(claims(read=["sales"], aud="dashboards"), "another-secret-0123456789-abcdefghij"), 401),
            "bad base64": ("eyJhbGciOiJIUzI1NiJ9.!!!not-base64!!!.c2ln", 401),
            "over 8 KiB": (reader(["sales"], pad="x" * 9000), 401),
            "another topic": (reader(["marketing"]), 403),
            "publish only": (hs256(claims(publish=["sales"], aud="dashboards")), 403),
        }
        for name, (token, expected) in hostile.items():
            with self.subTest(name):
                status, body = status_of_upgrade(self.server, "/topics/sales",
                                                 {"Authorization": f"Bearer {token}"})
                self.assertEqual(status, expected)
                self.assertNotIn(token[:40], json.dumps(body))
                status, _, _ = self.server.http("/topics/sales", headers={
                    "Authorization": f"Bearer {token}", "Accept": "text/event-stream"})
                self.assertEqual(status, expected)
        self.assertNotIn(hostile["expired"][0], self.server.stderr())
        self.assertIn("token expired", self.server.stderr())
        self.assertIn("wrong audience", self.server.stderr())

    def test_topic_list_shows_what_the_caller_may_read(self):
        names = lambda topics: sorted(t["name"] for t in topics)
        self.assertEqual(names(self.server.topics()), ["happiness"])
        status, _, body = self.server.http("/topics", headers={"Authorization": f"Bearer {reader(['sales'])}"})
        self.assertEqual(status, 200)
        self.assertEqual(names(json.loads(body)), ["happiness", "sales"])
        status, _, _ = self.server.http("/topics?token=not.a.token")
        self.assertEqual(status, 401)

    def test_history_of_a_protected_topic_needs_the_token_too(self):
        status, _, _ = self.server.http("/topics/sales/history")
        self.assertEqual(status, 401)

    def test_publishing_takes_a_static_token_or_a_jwt_with_a_publish_claim(self):
        def post(topic, token):
            status, _, body = self.server.http(f"/topics/{topic}", method="POST", body=b"7",
                                               headers={"Authorization": f"Bearer {token}",
                                                        "Content-Type": "application/json"})
            return status

        self.assertEqual(post("sales", PUBLISH_TOKEN), 202)
        self.assertEqual(post("sales", hs256(claims(publish=["sales"], aud="dashboards"))), 202)
        self.assertEqual(post("sales", hs256(claims(publish=["sensors-*"], aud="dashboards"))), 403)
        self.assertEqual(post("sales", reader(["sales"])), 403)
        self.assertEqual(post("sales", hs256({"exp": 1, "publish": ["*"], "aud": "dashboards"})), 401)
        self.assertEqual(post("sales", "wrong-static-token"), 403)

        async def publisher():
            token = hs256(claims(publish=["sales"], aud="dashboards"))
            async with websockets.connect(self.server.ws_url(f"/topics/sales/publish?ack=1&token={token}")) as ws:
                await ws.send("42")
                return json.loads(await asyncio.wait_for(ws.recv(), 5))

        self.assertIn("seq", run_async(publisher(), 10))


class TokenExpiryTest(ServerTestCase):
    def test_connections_end_when_their_token_expires(self):
        server = self.start_server(hs256_config())
        token = reader(["sales"], exp_in=3)

        async def websocket():
            async with websockets.connect(server.ws_url(f"/topics/sales?token={token}")) as ws:
                started = time.monotonic()
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                except websockets.ConnectionClosed as closed:
                    return closed.code, closed.reason, time.monotonic() - started

        async def sse():
            async with await HttpStream.open(server.port, f"/topics/sales?token={token}",
                                             {"Accept": "text/event-stream"}) as stream:
                started = time.monotonic()
                try:
                    while True:
                        await stream.read_line(10)
                except EOFError:
                    return time.monotonic() - started

        async def both():
            return await asyncio.gather(websocket(), sse())

        (code, reason, ws_seconds), sse_seconds = run_async(both(), 20)
        self.assertEqual((code, reason), (4001, "token expired"))
        self.assertLess(ws_seconds, 5)
        self.assertLess(sse_seconds, 5)


class AsymmetricKeyTest(ServerTestCase):
    def test_rs256_and_es256_with_a_public_key_file_and_no_algorithm_confusion(self):
        for kind, algorithm in (("rsa", "RS256"), ("ec", "ES256")):
            with self.subTest(algorithm):
                private, public = make_key_pair(kind)
                server = self.start_server({
                    "auth": {"default_access": "token",
                             "jwt": {"algorithm": algorithm, "public_key_file": public, "issuer": "backend"}},
                    "topics": {"sales": {"generator": {"interval_ms": 100}}}})
                with open(private, "rb") as f:
                    private_pem = f.read()
                with open(public, "rb") as f:
                    public_pem = f.read()
                good = jwt.encode(claims(read=["sales"], iss="backend"), private_pem, algorithm=algorithm)
                env = run_async(first_envelope_over_websocket(server.ws_url(f"/topics/sales?token={good}")), 10)
                self.assertIn("sales", env)
                # HS256 "signed" with the public key, which anyone can read.
                confused = hand_signed_hs256(claims(read=["sales"], iss="backend"), public_pem)
                self.assertEqual(status_of_upgrade(server, f"/topics/sales?token={confused}")[0], 401)
                wrong_issuer = jwt.encode(claims(read=["sales"], iss="evil"), private_pem, algorithm=algorithm)
                self.assertEqual(status_of_upgrade(server, f"/topics/sales?token={wrong_issuer}")[0], 401)
                server.kill()

    def test_an_unfit_key_file_is_a_located_config_error(self):
        _, public = make_key_pair("ec")
        path = write_temp(json.dumps({"auth": {"jwt": {"algorithm": "RS256", "public_key_file": public}}}))
        result = run_cli("--check-config", path)
        self.assertEqual(result.returncode, 2)
        self.assertIn("/auth/jwt/public_key_file", result.stderr)
        self.assertIn("RSA", result.stderr)


class ConnectionsPerAddressTest(ServerTestCase):
    def test_the_limit_is_answered_with_429_before_the_upgrade(self):
        server = self.start_server({"limits": {"max_connections_per_ip": 3},
                                    "topics": {"happiness": {"generator": {"interval_ms": 100}}}})

        async def scenario():
            open_sockets = [await websockets.connect(server.ws_url("/happiness")) for _ in range(3)]
            try:
                status = await asyncio.to_thread(status_of_upgrade, server, "/happiness")
                await open_sockets.pop().close()
                # The freed slot is given back when the server has dropped the connection,
                # a moment after the close: retry while it still answers 429 (a refused
                # attempt takes no slot).
                deadline = time.monotonic() + 5
                while True:
                    try:
                        ws = await websockets.connect(server.ws_url("/happiness"))
                        break
                    except websockets.InvalidStatusCode as e:
                        if e.status_code != 429:
                            raise
                        if time.monotonic() >= deadline:
                            self.fail("still 429 five seconds after one of the three closed")
                        await asyncio.sleep(0.05)
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                finally:
                    await ws.close()
                return status
            finally:
                for ws in open_sockets:
                    await ws.close()

        status, body = run_async(scenario(), 20)
        self.assertEqual(status, 429)
        self.assertIn("max_connections_per_ip", body["error"])


if __name__ == "__main__":
    unittest.main()
