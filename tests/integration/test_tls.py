"""server.tls: HTTPS and WSS on the same port, checked with clients that are
not ours (curl, Python's ssl module with websockets); certificates made
with the openssl command."""

import asyncio
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import jwt
import websockets

from harness import (HOST, ServerTestCase, metric_value, parse_metrics, run_async, run_cli,
                     wait_for_stderr, write_temp)


def openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60, cwd=cwd)


def make_ca(folder, name="ca"):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN=happy test {name}",
            cwd=folder)
    return os.path.join(folder, f"{name}.pem")


def make_server_cert(folder, ca="ca", name="server"):
    """A certificate for 127.0.0.1 and localhost, signed by `ca`: (cert, key) paths."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=localhost", cwd=folder)
    with open(os.path.join(folder, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", "ext.cnf", cwd=folder)
    return os.path.join(folder, f"{name}.pem"), os.path.join(folder, f"{name}.key")


def tls_config(cert, key, **extra):
    cfg = {"server": {"tls": {"cert_file": cert, "key_file": key}},
           "topics": {"happiness": {"generator": {"interval_ms": 20}}}}
    cfg.update(extra)
    return cfg


def client_context(ca):
    return ssl.create_default_context(cafile=ca)


def peer_certificate_sha256(port, ca):
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with client_context(ca).wrap_socket(raw, server_hostname="localhost") as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


class TlsTest(ServerTestCase):
    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix="happy-tls-")
        self.addCleanup(shutil.rmtree, self.folder, True)
        self.ca = make_ca(self.folder)
        self.cert, self.key = make_server_cert(self.folder)

    def curl(self, *args, timeout=15):
        return subprocess.run(["curl", "-sS", "--cacert", self.ca, *args], capture_output=True,
                              text=True, timeout=timeout)

    def test_https_and_server_sent_events_with_curl(self):
        server = self.start_server(tls_config(self.cert, self.key))
        wait_for_stderr(server, r"listening on .*\(TLS")
        result = self.curl(f"https://localhost:{server.port}/topics")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout)[0]["name"], "happiness")
        page = self.curl("-D", "-", f"https://localhost:{server.port}/")
        self.assertIn("content-security-policy", page.stdout.lower())
        # SSE over TLS: curl reads events until --max-time ends it (exit 28).
        sse = self.curl("-N", "--max-time", "2", "-H", "Accept: text/event-stream",
                        f"https://localhost:{server.port}/happiness")
        self.assertEqual(sse.returncode, 28, sse.stderr)
        events = [json.loads(line[len("data: "):]) for line in sse.stdout.splitlines()
                  if line.startswith("data: ")]
        self.assertGreater(len(events), 20)
        seqs = [e["seq"] for e in events]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))

    def test_https_answers_carry_strict_transport_security_as_configured(self):
        """Browsers are told to come back over HTTPS only (a year by default, as testssl
        expects); server.tls.hsts_max_age sets how long, "off" sends none, and plain
        HTTP never sends it (it would mean nothing there)."""
        cases = [({}, "max-age=31536000"), ({"hsts_max_age": "2h"}, "max-age=7200"),
                 ({"hsts_max_age": "off"}, None)]
        for extra, expected in cases:
            with self.subTest(extra=extra):
                cfg = tls_config(self.cert, self.key)
                cfg["server"]["tls"].update(extra)
                server = self.start_server(cfg)
                wait_for_stderr(server, r"listening on .*\(TLS")
                for path in ("/", "/topics", "/no-such-path"):
                    head = self.curl("-s", "-o", "/dev/null", "-D", "-", f"https://localhost:{server.port}{path}")
                    self.assertEqual(head.returncode, 0, head.stderr)
                    sent = [line.split(":", 1)[1].strip() for line in head.stdout.splitlines()
                            if line.lower().startswith("strict-transport-security:")]
                    self.assertEqual(sent, [expected] if expected else [], (path, head.stdout))
                server.stop()
        plain = self.start_server({"topics": {"happiness": {}}})
        status, headers, _ = plain.http("/topics")
        self.assertEqual(status, 200)
        self.assertNotIn("strict-transport-security", headers)

    def test_hsts_max_age_that_is_no_duration_is_a_located_config_error(self):
        cfg = tls_config(self.cert, self.key)
        cfg["server"]["tls"]["hsts_max_age"] = "forever"
        result = run_cli("--config", write_temp(json.dumps(cfg)), "--port", "0")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("/server/tls/hsts_max_age", result.stderr)
        self.assertIn("off", result.stderr)  # says what it expected

    def test_an_https_source_trusts_only_certificates_its_cas_vouch_for(self):
        """A topic's http source on https:// reads this TLS server's /metrics when the CA is
        trusted (SSL_CERT_FILE); with the system's CAs alone the handshake fails: no
        reading, a connection failure in the log and in /metrics."""
        tls_server = self.start_server(tls_config(self.cert, self.key))
        wait_for_stderr(tls_server, r"listening on .*\(TLS")
        source = {"http": f"https://localhost:{tls_server.port}/metrics", "interval_ms": 100,
                  "timeout_ms": 2000, "prometheus": {"metric": "happy_connections",
                                                     "labels": {"transport": "http"}}}
        config = {"topics": {"remote": {"source": source}}}

        trusting = self.start_server(config, env={"SSL_CERT_FILE": self.ca})
        deadline = time.monotonic() + 10
        while trusting.topic("remote")["seq"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertGreaterEqual(trusting.topic("remote")["seq"], 3, trusting.stderr())
        trusting.kill()

        def handshake_failures():
            conn = http.client.HTTPSConnection("localhost", tls_server.port, timeout=5,
                                               context=client_context(self.ca))
            try:
                conn.request("GET", "/metrics")
                body = conn.getresponse().read()
            finally:
                conn.close()
            return metric_value(parse_metrics(body.decode()), "happy_tls_handshake_failures_total") or 0

        failures_before = handshake_failures()
        doubting = self.start_server(config)
        wait_for_stderr(doubting, r"source of topic 'remote' \(http https://localhost:\d+/metrics\) "
                                  r"gave no reading: connection: TLS handshake failed: "
                                  r"certificate verify failed", timeout=10)
        time.sleep(0.5)
        self.assertEqual(doubting.topic("remote")["seq"], 0)
        samples = parse_metrics(doubting.http("/metrics")[2].decode())
        self.assertGreaterEqual(metric_value(samples, "happy_source_failures_total",
                                             topic="remote", reason="connection"), 2)
        # The TLS server saw the refused handshakes too.
        self.assertGreater(handshake_failures(), failures_before)

    def test_wss_subscribers_get_every_reading_in_order(self):
        server = self.start_server(tls_config(self.cert, self.key))

        async def subscribe():
            async with websockets.connect(f"wss://localhost:{server.port}/happiness?last=50",
                                          ssl=client_context(self.ca)) as ws:
                return [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(200)]

        async def three():
            return await asyncio.gather(*(subscribe() for _ in range(3)))

        lists = run_async(three(), 30)
        for envelopes in lists:
            seqs = [e["seq"] for e in envelopes]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 200)))

    def test_wss_publisher_with_acks(self):
        cfg = tls_config(self.cert, self.key, publish={"tokens": ["tls-publish-token"]})
        cfg["topics"]["orders"] = {}
        server = self.start_server(cfg)

        async def publish():
            async with websockets.connect(
                    f"wss://localhost:{server.port}/topics/orders/publish?ack=1&token=tls-publish-token",
                    ssl=client_context(self.ca)) as ws:
                answers = []
                for i in range(100):
                    await ws.send(json.dumps({"n": i}))
                    answers.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
                await ws.close()
                return answers

        answers = run_async(publish(), 30)
        self.assertEqual([a["seq"] for a in answers], list(range(1, 101)))

    def test_closing_frames_arrive_over_tls_while_readings_flow(self):
        # A close (token expiry 4001, shutdown 1001) lands while a batch is being written:
        # the client must still get the close frame, not a cut connection.
        secret = "tls-test-secret-0123456789abcdef-0123"
        cfg = tls_config(self.cert, self.key,
                         auth={"jwt": {"algorithm": "HS256", "secret": secret}})
        cfg["topics"]["sales"] = {"access": "token", "generator": {"interval_ms": 5}}
        server = self.start_server(cfg)
        token = jwt.encode({"exp": int(time.time()) + 2, "read": ["sales"]}, secret, algorithm="HS256")

        async def until_closed(path):
            async with websockets.connect(f"wss://localhost:{server.port}{path}",
                                          ssl=client_context(self.ca)) as ws:
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                except websockets.ConnectionClosed as closed:
                    return closed.code, closed.reason

        async def expiry_then_shutdown():
            expired = await until_closed(f"/topics/sales?token={token}")
            watcher = asyncio.ensure_future(until_closed("/happiness"))
            await asyncio.sleep(0.5)
            server.proc.send_signal(signal.SIGTERM)
            return expired, await watcher

        expired, shutdown = run_async(expiry_then_shutdown(), 30)
        self.assertEqual(expired, (4001, "token expired"))
        self.assertEqual(shutdown, (1001, "going away"))

    def test_token_expiry_while_a_tls_write_is_stuck_still_ends_with_4001(self):
        # The client stops reading, so the server's SSL write of a batch stays in flight;
        # the token expires meanwhile. Once the client reads again it must get every
        # frame that was on its way and then the close frame, not a cut connection.
        secret = "tls-test-secret-0123456789abcdef-0123"
        cfg = tls_config(self.cert, self.key, publish={"tokens": ["tls-publish-token"]},
                         auth={"jwt": {"algorithm": "HS256", "secret": secret}},
                         limits={"max_queued_bytes_per_client": 256 * 1024 * 1024})
        cfg["topics"]["sales"] = {"access": "token"}
        server = self.start_server(cfg)
        token = jwt.encode({"exp": int(time.time()) + 2, "read": ["sales"]}, secret, algorithm="HS256")
        value = json.dumps({"pad": "x" * 60000})

        def publish_for(seconds):
            conn = http.client.HTTPSConnection("localhost", server.port, context=client_context(self.ca), timeout=10)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                conn.request("POST", "/topics/sales", body=value,
                             headers={"Authorization": "Bearer tls-publish-token"})
                conn.getresponse().read()
            conn.close()

        async def scenario():
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect((HOST, server.port))
            async with websockets.connect(f"wss://localhost:{server.port}/topics/sales?token={token}",
                                          sock=raw, ssl=client_context(self.ca), server_hostname="localhost",
                                          max_queue=1, read_limit=4096, max_size=None) as ws:
                await asyncio.to_thread(publish_for, 3.0)  # meanwhile the socket fills; exp passes
                received = 0
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                        received += 1
                except websockets.ConnectionClosed as closed:
                    return closed.code, closed.reason, received

        code, reason, received = run_async(scenario(), 60)
        self.assertGreater(received, 0)
        self.assertEqual((code, reason), (4001, "token expired"))

    def test_old_protocols_and_plain_http_are_refused(self):
        server = self.start_server(tls_config(self.cert, self.key))
        # The client offers them (security level 0); the server's alert refuses.
        old = client_context(self.ca)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("ALL:@SECLEVEL=0")
        with socket.create_connection((HOST, server.port), timeout=5) as raw:
            with self.assertRaisesRegex(ssl.SSLError, "ALERT_PROTOCOL_VERSION"):
                old.wrap_socket(raw, server_hostname="localhost")
        # TLS 1.2 without forward secrecy (plain RSA/ECDSA key exchange, CBC).
        weak = client_context(self.ca)
        weak.maximum_version = ssl.TLSVersion.TLSv1_2
        weak.set_ciphers("AES128-SHA:AES256-SHA:ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0")
        with socket.create_connection((HOST, server.port), timeout=5) as raw:
            with self.assertRaisesRegex(ssl.SSLError, "HANDSHAKE_FAILURE"):
                weak.wrap_socket(raw, server_hostname="localhost")
        plain = subprocess.run(["curl", "-sS", f"http://{HOST}:{server.port}/topics"],
                               capture_output=True, text=True, timeout=15)
        self.assertNotEqual(plain.returncode, 0)
        with socket.create_connection((HOST, server.port), timeout=5) as raw:
            with client_context(self.ca).wrap_socket(raw, server_hostname="localhost") as tls:
                self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
        result = self.curl(f"https://localhost:{server.port}/metrics")
        samples = parse_metrics(result.stdout)
        self.assertGreaterEqual(metric_value(samples, "happy_tls_handshake_failures_total"), 3)

    def test_sighup_rereads_the_pair_for_new_handshakes_without_dropping_connections(self):
        server = self.start_server(tls_config(self.cert, self.key))
        before = peer_certificate_sha256(server.port, self.ca)

        async def scenario():
            async with websockets.connect(f"wss://localhost:{server.port}/happiness",
                                          ssl=client_context(self.ca)) as ws:
                first = json.loads(await asyncio.wait_for(ws.recv(), 5))["seq"]
                # Renew: a new key and certificate from the same CA, in place.
                await asyncio.to_thread(make_server_cert, self.folder, "ca", "renewed")
                os.replace(os.path.join(self.folder, "renewed.pem"), self.cert)
                os.replace(os.path.join(self.folder, "renewed.key"), self.key)
                server.proc.send_signal(signal.SIGHUP)
                await asyncio.to_thread(wait_for_stderr, server, r"TLS: re-read")
                after = await asyncio.to_thread(peer_certificate_sha256, server.port, self.ca)
                # The open connection keeps receiving, without a gap.
                seqs = [json.loads(await asyncio.wait_for(ws.recv(), 5))["seq"] for _ in range(50)]
                return first, seqs, after

        first, seqs, after = run_async(scenario(), 40)
        self.assertNotEqual(before, after)
        self.assertEqual(seqs, list(range(first + 1, first + 51)))

    def test_a_broken_pair_at_start_exits_2_and_on_sighup_keeps_the_running_one(self):
        _, other_key = make_server_cert(self.folder, name="other")
        server_cfg = write_temp(json.dumps(tls_config(self.cert, other_key)))
        result = run_cli("--config", server_cfg, "--port", "0")
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("does not belong to the certificate", result.stderr)
        missing = write_temp(json.dumps(tls_config("/nonexistent/cert.pem", self.key)))
        result = run_cli("--config", missing, "--port", "0")
        self.assertEqual(result.returncode, 2)
        self.assertIn("/nonexistent/cert.pem", result.stderr)

        server = self.start_server(tls_config(self.cert, self.key))
        before = peer_certificate_sha256(server.port, self.ca)
        with open(self.key, "w") as f:
            f.write("not a key\n")
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r"TLS reload failed, keeping the running certificate")
        self.assertEqual(peer_certificate_sha256(server.port, self.ca), before)


if __name__ == "__main__":
    unittest.main()
