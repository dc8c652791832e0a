"""Drain on SIGTERM/SIGINT: /readyz 503, new subscriptions refused, WebSockets closed 1001,
streams ended, long-polls answered, exit 0 within server.shutdown_grace_ms; a second
signal exits at once."""

import asyncio
import json
import signal
import time
import unittest

import websockets

from harness import (HttpStream, RawWebSocket, ServerTestCase, fast_config, long_poll,
                     port_accepts, run_async)


def drain_config(grace_ms, **extra):
    return fast_config(interval_ms=100, server={"shutdown_grace_ms": grace_ms}, **extra)


def wait_exit(server, timeout):
    """Seconds until the process exits (None if still running after timeout)."""
    t0 = time.monotonic()
    while server.proc.poll() is None:
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(0.02)
    return time.monotonic() - t0


def readyz(server):
    status, _, body = server.http("/readyz", timeout=2)
    return status, json.loads(body) if body else None


class DrainTest(ServerTestCase):

    def test_100_websockets_get_1001_and_exit_0_within_grace(self):
        grace_ms = 5000
        clients = 100
        server = self.start_server(drain_config(grace_ms))
        url = server.ws_url("/happiness")

        async def main():
            sockets = await asyncio.gather(*(websockets.connect(url, open_timeout=10)
                                             for _ in range(clients)))
            try:
                await asyncio.gather(*(asyncio.wait_for(ws.recv(), 5) for ws in sockets))

                async def until_closed(ws):
                    try:
                        while True:
                            await ws.recv()
                    except websockets.ConnectionClosed:
                        pass
                    return ws.close_code, ws.close_reason

                readers = [asyncio.create_task(asyncio.wait_for(until_closed(ws), grace_ms / 1000
                                                                + 2)) for ws in sockets]
                t0 = time.monotonic()
                server.proc.send_signal(signal.SIGTERM)
                results = await asyncio.gather(*readers, return_exceptions=True)
                while server.proc.poll() is None and time.monotonic() - t0 < grace_ms / 1000 + 2:
                    await asyncio.sleep(0.02)
                return server.proc.poll(), time.monotonic() - t0, results
            finally:
                for ws in sockets:
                    ws.transport.abort()

        returncode, elapsed, results = run_async(main(), 30)
        self.assertEqual(returncode, 0, f"exit {returncode} after {elapsed:.1f} s; stderr:\n"
                         f"{server.stderr()}")
        self.assertLess(elapsed, grace_ms / 1000, "exit not within the grace although every "
                        "client answered the close")
        got = [r if isinstance(r, tuple) else repr(r) for r in results]
        wrong = [r for r in got if r != (1001, "going away")]
        self.assertEqual(wrong, [], f"{len(wrong)} of {clients} clients did not get "
                         f"1001 'going away'")
        self.assertFalse(port_accepts(server.port), "still accepting after exit")

    def test_streams_end_and_long_poll_is_answered(self):
        grace_ms = 5000
        server = self.start_server(drain_config(grace_ms, extra_topics={"orders": {}}))

        async def main():
            sse = await HttpStream.open(server.port, "/topics/happiness",
                                        {"Accept": "text/event-stream"})
            ndjson = await HttpStream.open(server.port, "/happiness")
            try:
                self.assertEqual((sse.status, ndjson.status), (200, 200))
                await sse.read_envelopes(1)
                await ndjson.read_envelopes(1)
                # A long-poll on a topic that never gets a reading waits (timeout 30 s)...
                poll = asyncio.create_task(long_poll(server.port, "/topics/orders", since=0,
                                                     timeout_s=30, client_timeout=10))
                await asyncio.sleep(0.3)
                self.assertFalse(poll.done(), "long-poll answered before any reading")
                t0 = time.monotonic()
                server.proc.send_signal(signal.SIGTERM)
                # ...until the drain answers it.
                status, _, body = await asyncio.wait_for(poll, 5)
                poll_after = time.monotonic() - t0
                # SSE and NDJSON: the body ends properly (chunked terminator), then EOF.
                await sse.read_body(5)
                await ndjson.read_body(5)
                self.assertTrue(sse.eof and ndjson.eof)
                for s in (sse, ndjson):
                    rest = await asyncio.wait_for(s.reader.read(), 5)
                    self.assertEqual(rest, b"", "data after the end of a stream")
                return status, body, poll_after
            finally:
                sse.close()
                ndjson.close()

        status, body, poll_after = run_async(main(), 25)
        self.assertEqual(status, 200)
        self.assertEqual(body, [])
        self.assertLess(poll_after, 2.0, "long-poll not answered promptly by the drain")
        elapsed = wait_exit(server, grace_ms / 1000 + 2)
        self.assertIsNotNone(elapsed, f"still running after the grace; stderr:\n{server.stderr()}")
        self.assertEqual(server.proc.returncode, 0, server.stderr())

    def test_readyz_503_and_new_subscriptions_refused_while_a_client_holds_the_drain(self):
        grace_ms = 3000
        server = self.start_server(drain_config(grace_ms))
        self.assertEqual(readyz(server), (200, {"status": "ready"}))
        # Completes the handshake, then never reads on its own and never answers a close.
        raw = RawWebSocket(server.port, "/happiness")
        self.addCleanup(raw.close)
        raw.read_frame(5)  # subscribed: a reading arrived

        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code, reason, _ = raw.read_until_close(5)
        self.assertEqual((code, reason), (1001, "going away"))

        # Probes still answered (new connection each time), saying "draining".
        deadline = time.monotonic() + 1.5
        while True:
            answer = readyz(server)
            if answer[0] == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(answer, (503, {"status": "draining"}))
        # New subscriptions get 503 on every transport.
        status, _, body = server.http_upgrade("/happiness", timeout=2)
        self.assertEqual(status, 503, f"WebSocket upgrade during the drain: {body!r}")
        status, _, body = server.http("/topics/happiness?poll=1&timeout=1", timeout=3)
        self.assertEqual(status, 503, f"long-poll during the drain: {body!r}")

        async def streams():
            out = []
            for headers in ({"Accept": "text/event-stream"}, {}):
                s = await HttpStream.open(server.port, "/happiness", headers, timeout=2)
                s.close()
                out.append(s.status)
            return out

        self.assertEqual(run_async(streams(), 10), [503, 503], "SSE / NDJSON during the drain")
        self.assertIsNone(server.proc.poll(), "exited before the grace although a client "
                          "never answered the close")
        self.assertEqual(readyz(server)[0], 503)

        elapsed = wait_exit(server, grace_ms / 1000 + 3)
        self.assertIsNotNone(elapsed, f"still running {grace_ms / 1000 + 3} s after SIGTERM; "
                             f"stderr:\n{server.stderr()}")
        total = time.monotonic() - t0
        self.assertEqual(server.proc.returncode, 0, server.stderr())
        self.assertGreater(total, grace_ms / 1000 - 0.5, "did not wait for the grace")
        self.assertLess(total, grace_ms / 1000 + 1.5, "overran the grace")
        self.assertFalse(port_accepts(server.port))

    def test_second_signal_during_the_drain_exits_at_once(self):
        grace_ms = 20000
        for first, second in ((signal.SIGTERM, signal.SIGTERM), (signal.SIGINT, signal.SIGTERM)):
            with self.subTest(first=first.name, second=second.name):
                server = self.start_server(drain_config(grace_ms))
                raw = RawWebSocket(server.port, "/happiness")
                self.addCleanup(raw.close)
                raw.read_frame(5)
                server.proc.send_signal(first)
                self.assertEqual(raw.read_until_close(5)[:2], (1001, "going away"))
                self.assertEqual(readyz(server)[0], 503)
                time.sleep(0.3)
                self.assertIsNone(server.proc.poll(), "exited before the second signal")
                server.proc.send_signal(second)
                elapsed = wait_exit(server, 5)
                self.assertIsNotNone(elapsed, "second signal did not end the drain")
                self.assertLess(elapsed, 1.5, "second signal did not exit at once")
                self.assertEqual(server.proc.returncode, 0, server.stderr())
                raw.close()


if __name__ == "__main__":
    unittest.main()
