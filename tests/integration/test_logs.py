"""stderr logs: one line per event (start, connect/disconnect with peer, reload, stop),
text or JSON lines, and HAPPY_LOG_LEVEL filtering."""

import asyncio
import json
import re
import signal
import unittest

import websockets

from harness import (HttpStream, ServerTestCase, fast_config, free_port, run_async,
                     wait_for_metric, wait_for_stderr, write_config, write_temp)

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warning|error) \S")
LEVELS = {"debug", "info", "warning", "error"}


async def hold_websocket(server, path="/happiness"):
    """Opens a WebSocket, reads one reading, closes it; returns its local port."""
    async with websockets.connect(server.ws_url(path), open_timeout=5) as ws:
        await asyncio.wait_for(ws.recv(), 5)
        return ws.local_address[1]


async def hold_sse(server, path="/happiness"):
    async with await HttpStream.open(server.port, path, {"Accept": "text/event-stream"}) as s:
        await s.read_envelopes(1)
        return s.writer.get_extra_info("sockname")[1]


class TextLogTest(ServerTestCase):

    def test_start_connect_disconnect_reload_and_stop_lines(self):
        path = write_temp(json.dumps(fast_config(interval_ms=100)))
        server = self.start_server(path)
        wait_for_stderr(server, r"listening on \S+:%d\b" % server.port)

        ws_port = run_async(hold_websocket(server), 10)
        wait_for_stderr(server, r"connect websocket topic=happiness peer=127\.0\.0\.1:%d\b"
                        % ws_port)
        wait_for_stderr(server, r"disconnect websocket topic=happiness peer=127\.0\.0\.1:%d\b"
                        % ws_port)
        sse_port = run_async(hold_sse(server), 10)
        wait_for_stderr(server, r"connect sse topic=happiness peer=127\.0\.0\.1:%d\b" % sse_port)
        wait_for_stderr(server, r"disconnect sse topic=happiness peer=127\.0\.0\.1:%d\b"
                        % sse_port)

        write_config(path, fast_config(interval_ms=200, extra_topics={"more": {}}))
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r"\binfo\b.*reload.*'more' added")
        wait_for_stderr(server, r"\binfo\b.*reload.*'happiness'.*200 ms")
        write_config(path, "{")
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r"\berror\b.*reload.*" + re.escape(path) + r": line 1")
        self.assertEqual(server.stop(), 0)

        lines = server.stderr().splitlines()
        bad = [line for line in lines if not TEXT_LINE.match(line)]
        self.assertEqual(bad, [], "lines not in '<ISO time>Z <level> <message>' form")
        # One line per connection event, not more.
        self.assertEqual(sum(f"connect websocket topic=happiness peer=127.0.0.1:{ws_port}" in l
                             and "disconnect" not in l for l in lines), 1)
        self.assertEqual(sum(f"disconnect websocket topic=happiness peer=127.0.0.1:{ws_port}"
                             in l for l in lines), 1)
        self.assertTrue(any("listening on" in l for l in lines[:1]), lines[:1])


class JsonLogTest(ServerTestCase):

    def test_every_line_is_a_json_object_with_ts_level_msg(self):
        path = write_temp(json.dumps(fast_config(interval_ms=100, log={"format": "json"})))
        server = self.start_server(path)
        wait_for_stderr(server, r"listening on")
        ws_port = run_async(hold_websocket(server), 10)
        wait_for_stderr(server, r"disconnect websocket topic=happiness peer=127\.0\.0\.1:%d"
                        % ws_port)
        # A message with quotes and a path in it: an error naming the file.
        write_config(path, '{"topics": {"a": "b"')
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r'"level"\s*:\s*"error"')
        self.assertEqual(server.stop(), 0)

        records = []
        for line in server.stderr().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                self.fail(f"not a JSON line: {line!r}")
            self.assertIsInstance(rec, dict, line)
            self.assertTrue({"ts", "level", "msg"} <= rec.keys(), line)
            self.assertIn(rec["level"], LEVELS, line)
            self.assertIsInstance(rec["msg"], str, line)
            self.assertRegex(str(rec["ts"]), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line)
            records.append(rec)
        msgs = [r["msg"] for r in records]
        self.assertTrue(any("listening on" in m for m in msgs), msgs)
        self.assertTrue(any(m.startswith("connect websocket topic=happiness peer=127.0.0.1:%d"
                                         % ws_port) for m in msgs), msgs)
        errors = [r["msg"] for r in records if r["level"] == "error"]
        self.assertEqual(len(errors), 1, errors)
        self.assertIn(path, errors[0])


class LogLevelTest(ServerTestCase):

    def test_happy_log_level_warning_hides_info_lines(self):
        # The config asks for debug; the environment wins.
        path = write_temp(json.dumps(fast_config(interval_ms=100, log={"level": "debug"})))
        # A fixed port: with no "listening on" line the harness cannot learn a picked one.
        server = self.start_server(path, port=free_port(), env={"HAPPY_LOG_LEVEL": "warning"})
        run_async(hold_websocket(server), 10)
        write_config(path, fast_config(interval_ms=100, publish={"tokens": ["changed-token-1"]}))
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r"\bwarning\b.*publish\.tokens.*needs restart")
        write_config(path, "[")
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r"\berror\b.*reload")
        self.assertEqual(server.stop(), 0)
        lines = server.stderr().splitlines()
        self.assertEqual([l for l in lines if re.search(r"Z (debug|info) ", l)], [],
                         "debug/info lines despite HAPPY_LOG_LEVEL=warning")
        self.assertFalse(any("listening on" in l for l in lines))
        self.assertFalse(any("connect websocket" in l for l in lines))
        self.assertTrue(all(TEXT_LINE.match(l) for l in lines), lines)

    def test_log_level_error_from_config(self):
        path = write_temp(json.dumps(fast_config(interval_ms=100, log={"level": "error"})))
        server = self.start_server(path, port=free_port())
        run_async(hold_websocket(server), 10)
        write_config(path, fast_config(interval_ms=100, log={"level": "error"},
                                       publish={"tokens": ["changed-token-1"]}))
        server.proc.send_signal(signal.SIGHUP)
        # Its "needs restart" warning is filtered out, so the reload counter tells when it
        # is done; only then may the file change again, or one reload could read both.
        wait_for_metric(server, "happy_config_reloads_total", lambda n: n == 1, result="ok")
        write_config(path, "[")
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r"\berror\b.*reload")
        self.assertEqual(server.stop(), 0)
        lines = server.stderr().splitlines()
        self.assertEqual([l for l in lines if not re.search(r"Z error ", l)], [],
                         "lines below error with log.level=error")


if __name__ == "__main__":
    unittest.main()
