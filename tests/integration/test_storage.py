"""Durable history (README "Storage"): seqs and history survive restarts and
crashes, publishes are acknowledged only once stored, retention bounds the
file, GET /topics/<name>/history buckets it, and disk trouble is an error the
service recovers from. The history file is read back with Python's own sqlite3."""

import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import tempfile
import time
import unittest

import websockets

from harness import (ServerTestCase, get_metrics, metric_value, now_ms, run_async, run_cli,
                     wait_for_metric, wait_for_stderr, write_config, write_temp)

TOKEN = "storage-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def stored_config(path, **storage):
    cfg = {"publish": {"tokens": [TOKEN]}, "limits": {"history": 100000},
           "storage": {"path": path, **storage}, "topics": {"orders": {}}}
    return cfg


def stored_readings(path, topic):
    """(seq, value) pairs in the file, read by another SQLite client."""
    # closing() closes the connection; sqlite3's own context manager only commits.
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT r.seq, r.value FROM readings r JOIN topics t ON t.id = r.topic_id "
                          "WHERE t.name = ? ORDER BY r.seq", (topic,)).fetchall()


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


async def recv_json(ws, timeout=5.0):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


class StorageTestCase(ServerTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="happy-storage-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "history.db")

    def publish(self, server, topic, value):
        status, _, body = server.http(f"/topics/{topic}", "POST", AUTH, json.dumps(value))
        return status, json.loads(body)


class RestartTest(StorageTestCase):
    def test_seq_history_and_published_topics_continue_after_a_restart(self):
        server = self.start_server(stored_config(self.path))
        seqs = [self.publish(server, "orders", {"n": n})[1]["seq"] for n in range(1, 11)]
        self.assertEqual(seqs, list(range(1, 11)))
        self.assertEqual(self.publish(server, "made-by-publish", 5)[0], 202)
        self.assertEqual(server.stop(), 0)
        self.assertIn("readings back in history", server.stderr())

        server = self.start_server(stored_config(self.path))
        self.assertNotIn("did not stop cleanly", server.stderr())
        names = [t["name"] for t in server.topics()]
        self.assertIn("made-by-publish", names)
        self.assertEqual(server.topic("orders")["seq"], 10)
        self.assertEqual(self.publish(server, "orders", {"n": 11})[1]["seq"], 11)

        # A dashboard that saw seq 7 before the restart resumes without a gap.
        async def resume():
            async with websockets.connect(server.ws_url("/topics/orders?since=7")) as ws:
                return [await recv_json(ws) for _ in range(4)]
        got = run_async(resume(), 10)
        self.assertEqual([e["seq"] for e in got], [8, 9, 10, 11])
        self.assertEqual([e["orders"]["n"] for e in got], [8, 9, 10, 11])

    def test_a_topic_removed_by_reload_is_forgotten_by_the_file(self):
        cfg = stored_config(self.path)
        cfg["topics"]["gone"] = {"generator": {"interval_ms": 20}}
        server = self.start_server(cfg)
        server.wait_for_seq(5, topic="gone")
        del cfg["topics"]["gone"]
        write_config(server.config_path, cfg)
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, "topic 'gone' removed")
        self.assertEqual(server.stop(), 0)
        self.assertEqual(stored_readings(self.path, "gone"), [])
        server = self.start_server(cfg)
        self.assertNotIn("gone", [t["name"] for t in server.topics()])

    def test_acknowledged_readings_survive_sigkill_and_no_seq_is_reused(self):
        server = self.start_server(stored_config(self.path))
        acked = {}  # seq -> value
        seen_live = []

        async def flood():
            url = server.ws_url(f"/topics/orders/publish?token={TOKEN}&ack=1")
            async with websockets.connect(server.ws_url("/topics/orders")) as sub, \
                    websockets.connect(url) as pub:
                async def watch():
                    try:
                        while True:
                            seen_live.append(json.loads(await sub.recv())["seq"])
                    except websockets.ConnectionClosed:
                        pass
                watcher = asyncio.ensure_future(watch())
                await asyncio.sleep(0.1)
                kill_at = time.monotonic() + random.uniform(0.3, 1.2)
                n, window = 0, []
                try:
                    while True:
                        while len(window) < 16:  # 16 publishes in flight, like the bench's W3
                            n += 1
                            await pub.send(json.dumps({"n": n}))
                            window.append(n)
                        ack = await recv_json(pub)
                        acked[ack["seq"]] = window.pop(0)
                        if time.monotonic() >= kill_at and server.proc.poll() is None:
                            server.proc.send_signal(signal.SIGKILL)
                except (websockets.ConnectionClosed, asyncio.TimeoutError, OSError):
                    pass
                watcher.cancel()
        run_async(flood(), 30)
        server.proc.wait(5)
        self.assertEqual(server.proc.returncode, -signal.SIGKILL)
        self.assertGreater(len(acked), 50, "the flood should have been acknowledged a while")

        server = self.start_server(stored_config(self.path))
        self.assertIn("did not stop cleanly", server.stderr())
        stored = dict(stored_readings(self.path, "orders"))
        missing = [seq for seq in acked if seq not in stored]
        self.assertEqual(missing, [], "acknowledged readings lost by the crash")
        for seq, n in acked.items():
            self.assertEqual(json.loads(stored[seq]), {"n": n})
        # Seqs continue past everything anyone saw: none is used twice.
        next_seq = self.publish(server, "orders", {"n": "after"})[1]["seq"]
        self.assertGreater(next_seq, max(list(acked) + seen_live))
        self.assertEqual(len(stored), len(set(stored)))


class HistoryEndpointTest(StorageTestCase):
    def test_buckets_of_numbers_and_objects_and_bad_parameters(self):
        server = self.start_server(stored_config(self.path))
        start = now_ms()
        for n in range(1, 21):
            self.assertEqual(self.publish(server, "orders", n)[0], 202)
            self.assertEqual(self.publish(server, "host", {"cpu": n, "mem": 2 * n, "name": "a"})[0], 202)
        end = now_ms() + 1
        status, headers, body = server.http(f"/topics/orders/history?from={start}&to={end}&points=1")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"].split(";")[0], "application/json")
        series = json.loads(body)
        self.assertEqual(len(series["buckets"]), 1)
        bucket = series["buckets"][0]
        self.assertEqual((bucket["count"], bucket["min"], bucket["max"], bucket["avg"]), (20, 1, 20, 10.5))
        self.assertTrue(start <= bucket["time"] <= end)

        series = json.loads(server.http(f"/topics/host/history?from={start}&to={end}&points=2000")[2])
        self.assertEqual(sum(b["count"] for b in series["buckets"]), 20)
        fields = series["buckets"][-1]["fields"]
        self.assertEqual(sorted(fields), ["cpu", "mem"])

        for query, why in [("points=0", "points"), ("points=2001", "points"),
                           ("from=abc", "from"), (f"from={end}&to={start}", "before")]:
            status, _, body = server.http(f"/topics/orders/history?{query}")
            self.assertEqual(status, 400, query)
            self.assertIn(why, json.loads(body)["error"])

    def test_without_storage_the_history_endpoint_says_so(self):
        server = self.start_server({"topics": {"orders": {}}})
        status, _, body = server.http("/topics/orders/history")
        self.assertEqual(status, 404)
        self.assertIn("storage.path", json.loads(body)["error"])


class RetentionTest(StorageTestCase):
    def test_the_file_stops_growing_once_retention_deletes(self):
        keep = 200
        server = self.start_server(stored_config(
            self.path, retention={"max_readings_per_topic": keep, "max_age": "1h"}))

        async def publish(count):
            url = server.ws_url(f"/topics/orders/publish?token={TOKEN}&ack=1")
            async with websockets.connect(url) as pub:
                for n in range(count):
                    await pub.send(json.dumps({"n": n, "pad": "x" * 200}))
                for _ in range(count):
                    await recv_json(pub)

        sizes = []
        for _ in range(6):
            run_async(publish(3000), 60)
            # Retention runs every 2 s in the background.
            deadline = time.monotonic() + 10
            while len(stored_readings(self.path, "orders")) > keep and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(len(stored_readings(self.path, "orders")), keep)
            sizes.append((os.path.getsize(self.path), os.path.getsize(self.path + "-wal")))
        # Deleted pages are reused: after the first round the file does not grow.
        # Deleted pages are reused: once retention has caught up, three more rounds
        # (each 3,000 readings of ~260 bytes, ~800 KB) grow the file by less than a
        # third of one round; the write-ahead log stays near its checkpoint size.
        main_sizes = [main for main, _ in sizes]
        self.assertLess(main_sizes[-1] - main_sizes[2], 270 * 1000, f"(file, log) per round: {sizes}")
        self.assertLessEqual(max(wal for _, wal in sizes), 8 * 1024 * 1024, f"(file, log) per round: {sizes}")
        self.assertGreaterEqual(metric_value(get_metrics(server), "happy_storage_readings_deleted_total"),
                                6 * 3000 - keep)


class StartupRefusalTest(StorageTestCase):
    def refused(self, path):
        result = run_cli("--config", write_temp(json.dumps(stored_config(path))), "--port", "0")
        self.assertEqual(result.returncode, 2, result.stderr)
        return result.stderr

    def test_a_path_that_cannot_be_created_exits_2(self):
        err = self.refused(os.path.join(self.dir, "no-such-dir", "history.db"))
        self.assertIn("cannot be opened", err)
        self.assertIn("is a directory", self.refused(self.dir))
        blocker = os.path.join(self.dir, "a-file")
        open(blocker, "w").close()
        self.assertIn("cannot be opened", self.refused(os.path.join(blocker, "history.db")))

    def test_a_file_that_is_not_ours_is_refused_and_left_alone(self):
        notes = os.path.join(self.dir, "notes.txt")
        with open(notes, "w") as f:
            f.write("meeting notes\n" * 200)
        before = read_bytes(notes)
        self.assertIn("is not a SQLite database", self.refused(notes))
        self.assertEqual(read_bytes(notes), before)

        other = os.path.join(self.dir, "app.db")
        with sqlite3.connect(other) as db:
            db.execute("CREATE TABLE invoices (id INTEGER)")
        before = read_bytes(other)
        self.assertIn("another application", self.refused(other))
        self.assertEqual(read_bytes(other), before)


class DiskFullTest(StorageTestCase):
    def test_a_full_disk_refuses_publishes_keeps_fan_out_and_recovers(self):
        # A file size limit stands in for a full disk: writes beyond it fail with EFBIG.
        limit = 512 * 1024

        def small_files():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

        server = self.start_server(stored_config(self.path), preexec=small_files)
        pad = "y" * 1000

        async def run():
            async with websockets.connect(server.ws_url("/topics/orders")) as sub:
                await asyncio.sleep(0.1)
                status, n = 202, 0
                while status == 202 and n < 5000:
                    n += 1
                    status, _ = await asyncio.get_running_loop().run_in_executor(
                        None, self.publish, server, "orders", {"n": n, "pad": pad})
                self.assertEqual(status, 503, "the file never filled up")
                # What was accepted before still reaches the subscriber, which stays connected.
                got = []
                while True:
                    try:
                        got.append(await recv_json(sub, timeout=1.0))
                    except asyncio.TimeoutError:
                        break
                self.assertGreaterEqual(len(got), n - 2)
                return sub.open
        self.assertTrue(run_async(run(), 120))
        status, body = self.publish(server, "orders", {"n": "while full"})
        self.assertEqual(status, 503)
        self.assertIn("cannot be written", body["error"])
        self.assertEqual(server.http("/readyz")[0], 503)

        async def socket_publish():
            url = server.ws_url(f"/topics/orders/publish?token={TOKEN}&ack=1")
            async with websockets.connect(url) as pub:
                await pub.send(json.dumps({"n": "socket while full"}))
                try:
                    await asyncio.wait_for(pub.recv(), 5)
                except websockets.ConnectionClosed:
                    pass
                return pub.close_code, pub.close_reason
        code, reason = run_async(socket_publish(), 10)
        self.assertEqual(code, 1013, reason)
        self.assertIn("storage", reason)
        samples = get_metrics(server)
        self.assertGreaterEqual(metric_value(samples, "happy_storage_write_errors_total"), 1)
        self.assertEqual(metric_value(samples, "happy_storage_writable"), 0)
        self.assertEqual(server.stderr().count("storage: cannot write"), 1, "one log line a minute")

        # Room again: the service recovers by itself.
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        wait_for_metric(server, "happy_storage_writable", lambda v: v == 1, timeout=10)
        self.assertEqual(server.http("/readyz")[0], 200)
        status, body = self.publish(server, "orders", {"n": "after"})
        self.assertEqual(status, 202)
        wait_for_stderr(server, "writing to .* again")


if __name__ == "__main__":
    unittest.main()
