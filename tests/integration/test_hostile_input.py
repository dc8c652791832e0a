"""Hostile input: garbage, oversized and slow requests, broken WebSocket frames, bad
query values and bad publish bodies each get their exact answer, while a subscriber
of a fast topic misses nothing and the server keeps serving.

One server for the whole class; a receiver thread reads the `happiness` topic (a
reading every 20 ms) throughout. Each case is its own test and ends by checking that
the process is alive and /healthz answers; the last test (test_zz_...) checks that the
receiver saw every seq.
"""

import json
import select
import socket
import threading
import time
import unittest

from harness import (HOST, RawWebSocket, Server, assert_consecutive, envelope_seq, parse_http_head,
                     ws_frame)

TOKEN = "T0KEN-hostile-input"
MAX_MESSAGE_BYTES = 262144
CONFIG = {
    "publish": {"tokens": [TOKEN]},
    "limits": {"max_message_bytes": MAX_MESSAGE_BYTES, "history": 1000},
    "topics": {
        "happiness": {"generator": {"interval_ms": 20, "distribution": "uniform",
                                    "min": 0, "max": 10}},
        "target": {},  # publish cases go here, not into the receiver's topic
    },
}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REQUEST_HEAD_LIMIT_S = 10  # a client must complete its request head within this


class Receiver(threading.Thread):
    """Reads a topic on a raw WebSocket (answering pings) and records every seq."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.ws = RawWebSocket(port, path)
        self.seqs = []
        self.problem = None
        self._halt = threading.Event()

    def run(self):
        sock, buf = self.ws.sock, self.ws._buf
        sock.settimeout(0.2)
        try:
            while not self._halt.is_set():
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    self.problem = "the server closed the receiver's connection"
                    return
                buf += data
                while len(buf) >= 2:
                    length, head = buf[1] & 0x7F, 2
                    if length == 126:
                        length, head = int.from_bytes(buf[2:4], "big"), 4
                    elif length == 127:
                        length, head = int.from_bytes(buf[2:10], "big"), 10
                    if len(buf) < head + length:
                        break
                    opcode, payload, buf = buf[0] & 0x0F, buf[head:head + length], buf[head + length:]
                    if opcode == 0x1:
                        self.seqs.append(envelope_seq(payload))
                    elif opcode == 0x9:
                        sock.sendall(ws_frame(0xA, payload))
                    elif opcode == 0x8:
                        self.problem = f"the receiver got a close frame {payload!r}"
                        return
        except Exception as e:  # noqa: BLE001 -- reported by the last test
            self.problem = f"receiver failed: {e!r}"

    def stop(self):
        self._halt.set()
        self.join(5)
        self.ws.close()


def exchange(port, data, timeout=5.0, shutdown_write=False):
    """Sends raw bytes on a new connection and reads until the server closes it.
    Returns (everything received, whether the server closed within timeout)."""
    sock = socket.create_connection((HOST, port), timeout=timeout)
    try:
        try:
            sock.sendall(data)
            if shutdown_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before reading everything
        received, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
        return received, False
    finally:
        sock.close()


def split_response(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no complete HTTP response head in {raw[:300]!r}")
    status, headers = parse_http_head(head + sep)
    return status, headers, body


class HostileInputTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = Server(CONFIG)
        try:
            cls.server.wait_for_seq(1)
            cls.receiver = Receiver(cls.server.port, "/happiness")
            cls.receiver.start()
        except BaseException:
            cls.server.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.receiver.stop()
        cls.server.close()

    def setUp(self):
        if self.server.proc.poll() is not None:
            self.fail(f"the server died earlier (exit {self.server.proc.returncode}); stderr "
                      f"tail:\n{self.server.stderr()[-3000:]}")

    def assert_serving(self):
        """The process is alive and answers /healthz after the case."""
        self.assertIsNone(self.server.proc.poll(),
                          f"the server died; stderr tail:\n{self.server.stderr()[-3000:]}")
        status, _, body = self.server.http("/healthz")
        self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))

    def assert_json_error(self, status, headers, body, expected_status, what):
        """status is expected_status (one or a tuple) and the body is {"error": "..."}."""
        expected = expected_status if isinstance(expected_status, tuple) else (expected_status,)
        self.assertIn(status, expected, f"{what}: status {status}, body {body[:200]!r}")
        self.assertTrue(headers.get("content-type", "").startswith("application/json"),
                        f"{what}: Content-Type {headers.get('content-type')!r}")
        error = json.loads(body).get("error")
        self.assertIsInstance(error, str, f"{what}: body {body[:200]!r}")
        self.assertTrue(error, f"{what}: empty error")
        return error

    # -- garbage and oversized requests ----------------------------------------

    def test_garbage_bytes_get_400_or_a_closed_connection(self):
        cases = {
            "TLS ClientHello": bytes.fromhex("160301020001000001fc0303") + b"\x00" * 40 + b"\r\n\r\n",
            "NUL and high bytes": b"\x00\xff\xfe\x80\x81\r\n\r\n",
            "request line without version": b"GET /healthz\r\n\r\n",
            "unknown HTTP version": b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
            "header line without colon": b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n",
            "control character in target": b"GET /heal\x01thz HTTP/1.1\r\nHost: x\r\n\r\n",
            "bad chunk size": (b"POST /topics/target HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                               + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n1\r\n0\r\n\r\n"),
            "negative content-length": (b"POST /topics/target HTTP/1.1\r\nHost: x\r\n"
                                        b"Content-Length: -5\r\n\r\n"),
            "only line ends": b"\r\n\r\n\r\n\r\n",
            "half a request then EOF": b"GET /healthz HTTP/1.1\r\nHo",
        }
        for name, data in cases.items():
            with self.subTest(name):
                raw, closed = exchange(self.server.port, data, shutdown_write=True)
                self.assertTrue(closed, f"{name}: the connection stayed open; got {raw[:200]!r}")
                if raw:
                    status, headers, body = split_response(raw)
                    self.assert_json_error(status, headers, body, 400, name)
        self.assert_serving()

    def test_oversized_request_line_is_refused(self):
        raw, closed = exchange(self.server.port,
                               b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = split_response(raw)
        self.assert_json_error(status, headers, body, (414, 431), "17000-byte request line")
        self.assertTrue(closed, "the connection stays open after the refusal")
        self.assert_serving()

    def test_oversized_headers_are_refused(self):
        many = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 100) for i in range(160))
        one = b"X-Big: " + b"v" * 17000 + b"\r\n"
        for name, headers_bytes in (("160 headers of 100 bytes", many), ("one 17000-byte header", one)):
            with self.subTest(name):
                raw, closed = exchange(self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                       + headers_bytes + b"\r\n")
                status, headers, body = split_response(raw)
                self.assert_json_error(status, headers, body, 431, name)
                self.assertTrue(closed, f"{name}: the connection stays open after the refusal")
        # Just under the 16 KiB limit is fine.
        fits = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"v" * 100) for i in range(135))
        raw, _ = exchange(self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                          b"Connection: close\r\n" + fits + b"\r\n")
        self.assertEqual(split_response(raw)[0], 200, "15 KB of headers")
        self.assert_serving()

    # -- slow request heads ------------------------------------------------------

    def closed_after(self, initial, trickle, limit):
        """Sends `initial`, then one byte a second if trickle, until the server closes
        the connection; returns (seconds after connecting, bytes received)."""
        sock = socket.create_connection((HOST, self.server.port), timeout=5)
        try:
            t0 = time.monotonic()
            if initial:
                sock.sendall(initial)
            received = b""
            while time.monotonic() - t0 < limit:
                readable, _, _ = select.select([sock], [], [], 1.0)
                if readable:
                    try:
                        chunk = sock.recv(4096)
                    except ConnectionResetError:
                        chunk = b""
                    if not chunk:
                        return time.monotonic() - t0, received
                    received += chunk
                if trickle:
                    try:
                        sock.send(b"a")
                    except (BrokenPipeError, ConnectionResetError):
                        return time.monotonic() - t0, received
            return None, received
        finally:
            sock.close()

    def check_cut_off(self, initial, trickle):
        elapsed, received = self.closed_after(initial, trickle, limit=REQUEST_HEAD_LIMIT_S + 5)
        self.assertIsNotNone(elapsed, f"still connected {REQUEST_HEAD_LIMIT_S + 5} s after "
                             f"connecting without a complete request head")
        print(f"\ncut off after {elapsed:.1f} s")
        self.assertLessEqual(elapsed, REQUEST_HEAD_LIMIT_S + 3)
        self.assertGreaterEqual(elapsed, REQUEST_HEAD_LIMIT_S - 1,
                                "cut off before the client had its 10 s")
        if received:  # a 408 (or 400) is fine; nothing at all is fine too
            self.assertIn(split_response(received)[0], (400, 408), received[:200])
        self.assert_serving()

    def test_slowloris_trickling_a_header_is_cut_off_after_10_s(self):
        self.check_cut_off(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", trickle=True)

    def test_connection_that_sends_nothing_is_cut_off_after_10_s(self):
        self.check_cut_off(b"", trickle=False)

    def test_slow_but_complete_head_within_10_s_is_served(self):
        sock = socket.create_connection((HOST, self.server.port), timeout=5)
        try:
            for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n"):
                sock.sendall(piece)
                time.sleep(2)
            sock.sendall(b"\r\n")
            raw = b""
            while chunk := sock.recv(4096):
                raw += chunk
        finally:
            sock.close()
        status, _, body = split_response(raw)
        self.assertEqual((status, json.loads(body)), (200, {"status": "ok"}))

    # -- broken WebSocket frames from a subscriber -------------------------------

    def close_code_after(self, frame_bytes):
        ws = RawWebSocket(self.server.port, "/happiness")
        try:
            ws.sock.sendall(frame_bytes)
            code, reason, _ = ws.read_until_close(timeout=5)
            return code, reason
        finally:
            ws.close()

    def check_ws_close(self, frame_bytes, expected_code):
        code, reason = self.close_code_after(frame_bytes)
        self.assertEqual(code, expected_code, f"close reason {reason!r}")
        self.assert_serving()

    def test_ws_unmasked_client_frame_closes_1002(self):
        self.check_ws_close(ws_frame(0x1, b"hi", mask=False), 1002)

    def test_ws_reserved_opcode_closes_1002(self):
        self.check_ws_close(ws_frame(0x3, b"x"), 1002)

    def test_ws_reserved_control_opcode_closes_1002(self):
        self.check_ws_close(ws_frame(0xB, b""), 1002)

    def test_ws_reserved_bits_without_extension_close_1002(self):
        self.check_ws_close(ws_frame(0x1, b"x", rsv=0b100), 1002)

    def test_ws_invalid_utf8_text_closes_1007(self):
        self.check_ws_close(ws_frame(0x1, b"ok \xff\xfe"), 1007)

    def test_ws_invalid_utf8_across_fragments_closes_1007(self):
        self.check_ws_close(ws_frame(0x1, b"ok \xe2\x82", fin=False) + ws_frame(0x0, b"\x28"), 1007)

    def test_ws_ping_over_125_bytes_closes_1002(self):
        self.check_ws_close(ws_frame(0x9, b"p" * 126), 1002)

    def test_ws_fragmented_ping_closes_1002(self):
        self.check_ws_close(ws_frame(0x9, b"p", fin=False), 1002)

    def test_ws_continuation_without_a_message_closes_1002(self):
        self.check_ws_close(ws_frame(0x0, b"x"), 1002)

    def test_ws_64_bit_length_with_high_bit_closes_1002_or_1009(self):
        # The most significant bit of a 64-bit length must be 0 (RFC 6455 5.2): a
        # protocol error, though "too big" (1009) is a fair answer to 2^63 bytes too.
        code, reason = self.close_code_after(
            bytes([0x81, 0xFF]) + (2 ** 63).to_bytes(8, "big") + b"\0\0\0\0")
        self.assertIn(code, (1002, 1009), f"close reason {reason!r}")
        self.assert_serving()

    def test_ws_close_frame_with_1_byte_payload_closes_1002(self):
        self.check_ws_close(ws_frame(0x8, b"\x03"), 1002)

    def test_ws_text_over_4096_bytes_closes_1009(self):
        self.check_ws_close(ws_frame(0x1, b"a" * 5000), 1009)

    def test_ws_fragments_over_4096_bytes_in_total_close_1009(self):
        self.check_ws_close(ws_frame(0x1, b"a" * 2500, fin=False) + ws_frame(0x0, b"a" * 2500), 1009)

    def test_ws_valid_client_frames_are_ignored_not_closed(self):
        ws = RawWebSocket(self.server.port, "/happiness")
        try:
            ws.sock.sendall(ws_frame(0x1, b"a" * 4096)  # exactly the limit
                            + ws_frame(0x1, b"euro \xe2\x82", fin=False) + ws_frame(0x0, b"\xac")
                            + ws_frame(0x2, b"\x00\x01") + ws_frame(0x9, b"hello"))
            seen, deadline = set(), time.monotonic() + 1.0
            while time.monotonic() < deadline:
                opcode, payload = ws.read_frame(timeout=2)
                self.assertNotEqual(opcode, 0x8, f"closed: {payload!r}")
                seen.add((opcode, payload if opcode == 0xA else b""))
            self.assertIn((0x1, b""), seen, "readings keep arriving")
            self.assertIn((0xA, b"hello"), seen, "the ping is answered with its payload")
        finally:
            ws.close()
        self.assert_serving()

    # -- query values --------------------------------------------------------------

    def test_invalid_query_values_are_400_before_any_upgrade(self):
        queries = ["since=-1", "last=abc", "since=18446744073709551616", "since=1&last=2",
                   "last=", "since=1e3", "since=%2D1", "since=%3", "poll=1&timeout=61", "poll=yes"]
        transports = {
            "GET": lambda path: self.server.http(path),
            "WebSocket upgrade": lambda path: self.server.http_upgrade(path),
            "SSE": lambda path: self.server.http(path, headers={"Accept": "text/event-stream"}),
        }
        for query in queries:
            for transport, request in transports.items():
                with self.subTest(query=query, transport=transport):
                    status, headers, body = request(f"/topics/happiness?{query}")
                    self.assert_json_error(status, headers, body, 400, f"{transport} ?{query}")
        self.assert_serving()

    # -- publish bodies ----------------------------------------------------------

    def post(self, body, topic="target", headers=None):
        all_headers = dict(AUTH)
        all_headers.update(headers or {})
        return self.server.http(f"/topics/{topic}", method="POST", headers=all_headers, body=body)

    def test_publish_invalid_json_is_400(self):
        for body in (b"{nope", b"[1,2", b"1 2", b'{"a":1,}', b"", b"NaN", b"'single'", b'"\\x41"'):
            with self.subTest(body=body):
                error = self.assert_json_error(*self.post(body), 400, f"POST {body!r}")
                self.assertIn("invalid JSON", error)
        self.assert_serving()

    def test_publish_deeply_nested_json_is_400(self):
        for name, body in (("100000 [", b"[" * 100000), ("100000 ] after [", b"[" * 70 + b"]" * 70),
                           ("50000 objects", b'{"a":' * 50000 + b"1" + b"}" * 50000)):
            if len(body) > MAX_MESSAGE_BYTES:
                continue
            with self.subTest(name):
                self.assert_json_error(*self.post(body), 400, name)
        self.assert_serving()

    def test_publish_deeply_nested_json_on_the_websocket_publisher_closes_1007(self):
        ws = RawWebSocket(self.server.port, f"/topics/target/publish?token={TOKEN}&ack=1")
        try:
            ws.sock.sendall(ws_frame(0x1, b"[" * 100000))
            code, reason, _ = ws.read_until_close(timeout=5)
        finally:
            ws.close()
        self.assertEqual(code, 1007, reason)
        self.assert_serving()

    def test_publish_body_over_the_limit_is_413(self):
        self.assert_json_error(*self.post(b"1" * (MAX_MESSAGE_BYTES + 1)), 413, "oversized body")
        # Refused on the announced length alone, without waiting for a gigabyte.
        raw, closed = exchange(self.server.port, (
            f"POST /topics/target HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Length: 1000000000\r\n\r\n12").encode())
        status, headers, body = split_response(raw)
        self.assert_json_error(status, headers, body, 413, "Content-Length: 1000000000")
        self.assertTrue(closed, "the connection stays open after the 413")
        self.assert_serving()

    def check_refused(self, body, what, reason):
        """README: a published value must be valid UTF-8 with finite numbers, else 400 with
        the reason (`reason`, a regex, must be in the error); nothing is published."""
        seq_before = self.server.topic("target")["seq"]
        error = self.assert_json_error(*self.post(body), 400, what)
        self.assertRegex(error, reason, f"{what}: the error does not say why")
        self.assertEqual(self.server.topic("target")["seq"], seq_before,
                         f"{what}: refused, yet published")
        self.assert_serving()

    def test_publish_invalid_utf8_in_a_string_is_refused(self):
        # JSON exchanged between systems must be UTF-8 (RFC 8259 8.1), and envelopes
        # travel in WebSocket text frames, which must be valid UTF-8 (RFC 6455 8.1).
        for name, body in (("raw 0xFF 0xFE", b'"\xff\xfe"'),
                           ("overlong slash", b'"\xc0\xaf"'),
                           ("encoded surrogate", b'"\xed\xa0\x80"'),
                           ("lone low surrogate escape", b'"\\udc00"')):
            with self.subTest(name):
                self.check_refused(body, name, r"Invalid encoding|not valid Unicode")

    def test_publish_number_overflowing_a_double_is_refused(self):
        for body in (b"[1e308,10e308]", b"1" + b"0" * 400, b"-" + b"9" * 330 + b"e5"):
            with self.subTest(body=body[:40]):
                self.check_refused(body, f"POST {body[:40]!r}",
                                   r"Number too big|number is out of range")

    # -- last: the receiver missed nothing ---------------------------------------

    def test_zz_receiver_missed_nothing_and_the_server_still_serves(self):
        time.sleep(0.5)
        receiver = self.receiver
        self.assertIsNone(receiver.problem)
        seqs = list(receiver.seqs)
        assert_consecutive(self, seqs, "the happiness receiver")
        self.assertGreater(len(seqs), 5)
        print(f"\nreceiver: seq {seqs[0]}..{seqs[-1]} ({len(seqs)} readings), no gap")
        self.assert_serving()


if __name__ == "__main__":
    unittest.main()
