"""server.tls: HTTPS and WSS on the same port, checked with clients that are
not ours (curl, Python's ssl module with websockets); certificates made
with the openssl command."""

import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest

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
