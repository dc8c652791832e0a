"""SIGTERM / SIGINT: clients are told "going away" (1001) and the process exits 0 quickly."""

import asyncio
import signal
import time
import unittest

import websockets

from harness import ServerTestCase, fast_config, port_accepts, run_async

CLIENTS = 50
EXIT_WITHIN = 5.0


class ShutdownTest(ServerTestCase):

    def test_sigterm_closes_every_websocket_with_1001_and_exits_0(self):
        server = self.start_server(fast_config(interval_ms=100))
        url = server.ws_url("/happiness")

        async def main():
            sockets = await asyncio.gather(*(
                websockets.connect(url, open_timeout=10, close_timeout=3)
                for _ in range(CLIENTS)))
            try:
                # Everyone is subscribed and has been sent at least one reading.
                firsts = await asyncio.gather(*(asyncio.wait_for(ws.recv(), 5) for ws in sockets))
                self.assertEqual(len(firsts), CLIENTS)

                async def until_closed(ws):
                    try:
                        while True:
                            await ws.recv()
                    except websockets.ConnectionClosed:
                        pass
                    return ws.close_code, ws.close_reason

                readers = [asyncio.create_task(asyncio.wait_for(until_closed(ws), EXIT_WITHIN + 2))
                           for ws in sockets]
                t0 = time.monotonic()
                server.proc.send_signal(signal.SIGTERM)
                while server.proc.poll() is None and time.monotonic() - t0 < EXIT_WITHIN:
                    await asyncio.sleep(0.05)
                exited_after = time.monotonic() - t0
                results = await asyncio.gather(*readers, return_exceptions=True)
                return server.proc.poll(), exited_after, results
            finally:
                for ws in sockets:
                    ws.transport.abort()

        returncode, exited_after, results = run_async(main(), timeout=30)
        self.assertIsNotNone(returncode, f"still running {EXIT_WITHIN} s after SIGTERM with "
                             f"{CLIENTS} clients; stderr:\n{server.stderr()}")
        self.assertEqual(returncode, 0, server.stderr())
        codes = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
        wrong = [c for c in codes if c != 1001]
        self.assertEqual(wrong, [], f"{len(wrong)} of {CLIENTS} clients did not see close code "
                         f"1001 (codes seen: {sorted(set(map(str, codes)))})")
        self.assertFalse(port_accepts(server.port), "still accepting after exit")

    def test_single_client_sees_going_away_then_process_exits_0(self):
        server = self.start_server(fast_config(interval_ms=100))

        async def main():
            async with websockets.connect(server.ws_url("/happiness"), open_timeout=5,
                                          close_timeout=3) as ws:
                await asyncio.wait_for(ws.recv(), 5)
                server.proc.send_signal(signal.SIGTERM)
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), EXIT_WITHIN)
                except websockets.ConnectionClosed:
                    pass
                return ws.close_code

        self.assertEqual(run_async(main(), timeout=15), 1001)
        self.assertEqual(server.stop(timeout=EXIT_WITHIN), 0, server.stderr())

    def test_sigint_without_clients_exits_0_quickly(self):
        server = self.start_server(fast_config(interval_ms=100))
        t0 = time.monotonic()
        self.assertEqual(server.stop(signal.SIGINT, timeout=EXIT_WITHIN), 0, server.stderr())
        self.assertLess(time.monotonic() - t0, 2.0, "idle shutdown took long")

    def test_sigterm_without_clients_on_default_config_exits_0(self):
        server = self.start_server(None)
        self.assertEqual(server.stop(signal.SIGTERM, timeout=EXIT_WITHIN), 0, server.stderr())


if __name__ == "__main__":
    unittest.main()
