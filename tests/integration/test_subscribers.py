"""GET /topics subscriber counts follow clients in and out, however they leave."""

import asyncio
import base64
import hashlib
import os
import socket
import struct
import time
import unittest

import websockets

from harness import HOST, ServerTestCase, fast_config, run_async

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def subscribers(server, topic="happiness"):
    return server.topic(topic)["subscribers"]


async def eventually(server, expected, topic="happiness", timeout=2.5):
    """Polls GET /topics until the topic's subscriber count equals expected."""
    deadline = time.monotonic() + timeout
    while True:
        count = subscribers(server, topic)
        if count == expected:
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{topic}: subscribers stayed {count}, expected {expected} "
                                 f"within {timeout} s")
        await asyncio.sleep(0.05)


def raw_websocket(port, path):
    """A WebSocket handshake done by hand; returns the socket after the 101."""
    key = base64.b64encode(os.urandom(16)).decode()
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: Upgrade\r\n"
                  f"Upgrade: websocket\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed during the handshake: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if " 101 " not in lines[0] + " ":
        raise AssertionError(f"handshake refused: {head!r}")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    if headers.get("sec-websocket-accept") != accept:
        raise AssertionError(f"bad Sec-WebSocket-Accept: {headers}")
    return sock, rest


def read_text_frame(sock, buffered=b""):
    """Reads one unmasked server frame; returns (opcode, payload)."""
    data = buffered

    def need(n):
        nonlocal data
        while len(data) < n:
            chunk = sock.recv(4096)
            if not chunk:
                raise AssertionError("connection closed while reading a frame")
            data += chunk

    need(2)
    opcode = data[0] & 0x0F
    length = data[1] & 0x7F
    offset = 2
    if length == 126:
        need(4)
        length = struct.unpack("!H", data[2:4])[0]
        offset = 4
    elif length == 127:
        need(10)
        length = struct.unpack("!Q", data[2:10])[0]
        offset = 10
    need(offset + length)
    return opcode, data[offset:offset + length]


class SubscribersTest(ServerTestCase):

    def setUp(self):
        self.server = self.start_server(fast_config(interval_ms=100, extra_topics={"bench": {}}))

    def test_count_follows_clean_close_and_abort(self):
        server = self.server
        self.assertEqual(subscribers(server), 0)

        async def main():
            ws1 = await websockets.connect(server.ws_url("/happiness"), open_timeout=5,
                                           close_timeout=2)
            ws2 = await websockets.connect(server.ws_url("/happiness"), open_timeout=5,
                                           close_timeout=2)
            try:
                for ws in (ws1, ws2):
                    await asyncio.wait_for(ws.recv(), 3)
                await eventually(server, 2)
                await asyncio.wait_for(ws1.close(), 5)  # clean close handshake
                await eventually(server, 1)
                ws2.transport.abort()  # gone without a close frame
                await eventually(server, 0)
            finally:
                ws1.transport.abort()
                ws2.transport.abort()

        run_async(main(), timeout=20)
        self.assertEqual(subscribers(server, "bench"), 0)

    def test_count_drops_when_raw_socket_vanishes(self):
        server = self.server
        fin, rest_fin = raw_websocket(server.port, "/happiness")
        rst, rest_rst = raw_websocket(server.port, "/topics/happiness")
        try:
            for sock, rest in ((fin, rest_fin), (rst, rest_rst)):
                opcode, payload = read_text_frame(sock, rest)
                self.assertEqual(opcode, 1, "expected a text frame")
                self.assertIn(b'"topic":"happiness"', payload)
            run_async(eventually(server, 2), timeout=5)

            fin.close()  # FIN, no close frame
            run_async(eventually(server, 1), timeout=5)

            # RST: linger 0, as when a client machine drops off the network and comes back
            rst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            rst.close()
            run_async(eventually(server, 0), timeout=5)
        finally:
            fin.close()
            rst.close()
        # The server is still fine afterwards.
        async def again():
            async with websockets.connect(server.ws_url("/happiness"), open_timeout=5) as ws:
                return await asyncio.wait_for(ws.recv(), 3)
        self.assertIn('"topic":"happiness"', run_async(again(), timeout=10))

    def test_publish_only_topic_is_listed_and_counts_its_own_subscribers(self):
        server = self.server
        topics = {t["name"]: t for t in server.topics()}
        self.assertEqual(set(topics), {"happiness", "bench"})
        bench = topics["bench"]
        self.assertIsNone(bench["interval_ms"], bench)
        self.assertEqual(bench["seq"], 0, bench)
        self.assertEqual(bench["subscribers"], 0, bench)
        self.assertEqual(topics["happiness"]["interval_ms"], 100)

        async def main():
            async with websockets.connect(server.ws_url("/bench"), open_timeout=5) as ws:
                await eventually(server, 1, topic="bench")
                self.assertEqual(subscribers(server, "happiness"), 0)
                try:
                    msg = await asyncio.wait_for(ws.recv(), 0.6)
                except asyncio.TimeoutError:
                    msg = None
                self.assertIsNone(msg, "a topic without generator produced a reading")
            await eventually(server, 0, topic="bench")

        run_async(main(), timeout=10)
        self.assertEqual(server.topic("bench")["seq"], 0)


if __name__ == "__main__":
    unittest.main()
