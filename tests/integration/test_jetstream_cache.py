"""A history file on a JetStream node (README "Storage" and "On NATS JetStream"): with a
`nats` section a node may keep a history file too, and that file is a cache fed from the
topic's stream. The real binary against a real standalone nats-server with JetStream
(nats_cluster.NatsServer, so `replicas` 1), one per test; two service nodes, each with its
own file, where the test needs them.

- Readings published through node A reach node B's file, and B's GET /topics/<name>/history
  (also over the 6 h and 24 h windows of the page) buckets them like A's.
- A node restarted with its file follows the stream on from just after the file's last seq;
  one whose file was deleted refills it from the stream's first seq.
- The stream keeps what the file keeps (storage.retention's max_readings_per_topic and
  max_age, even when limits.history is smaller): a new node's file is filled whole.
- A file holding seqs beyond the stream's end belongs to another stream (here: the stream was
  deleted and made again): the node says so in its log, drops the file's readings of the
  topic and refills it from the stream; its subscribers get the stream's seqs only, also a
  dashboard that connected while NATS was down and the node could not check its file yet
  (its seqs must not go back on that connection).
- A WebSocket publisher with ?keyed=1 sends {"idempotency_key","value"} frames: with
  JetStream the same key through any node is stored once and acked with the first seq;
  frames of another shape, or with a bad key, close the socket with 1007. Without JetStream
  the key is ignored and the value published.
- GET /cluster on a node without `nats` is {"enabled":false,"engine":"embedded"}.

The history files are read back with Python's own sqlite3, as test_storage.py does.
"""

import asyncio
import json
import os
import shutil
import sqlite3
import tempfile
import time
import unittest

import websockets
from websockets.exceptions import ConnectionClosed

from harness import (HOST, LeanWebSocket, ServerTestCase, get_metrics, metric_value, now_ms,
                     run_async, wait_for_stderr)
from jetstream_harness import (ORDERS, SLOW, TOKEN, forget_node_name_from_environment,
                               get_json, node_config, post, post_until_acked, stream_name,
                               wait_http)
from nats_cluster import MiniNats, NatsServer

NATS_USER = "happy"
NATS_PASSWORD = "cache-test-password"
PUBLISH_TIMEOUT_MS = 5000
READY_WITHIN_S = 20.0 * SLOW    # /readyz 200 after start (the stream set up too)
ARRIVES_WITHIN_S = 10.0 * SLOW  # a published reading in another node's file / history
HOUR_MS = 3600 * 1000
KEY_RULE = "idempotency_key must be 1 to 128 printable ASCII characters without spaces"
KEYED_SHAPE = '{"idempotency_key":"<key>","value":<JSON>}'


def setUpModule():
    forget_node_name_from_environment()


def password_auth():
    return f'authorization {{\n  user: "{NATS_USER}"\n  password: "{NATS_PASSWORD}"\n}}'


def nats_section(nats):
    return {"servers": [nats.url()], "replicas": 1, "user": NATS_USER,
            "password": NATS_PASSWORD, "publish_timeout_ms": PUBLISH_TIMEOUT_MS}


def cached_config(nats, path):
    """A JetStream node with a history file at path; topic ORDERS is publish-only."""
    cfg = node_config(nats_section(nats), topics={ORDERS: {}})
    cfg["storage"] = {"path": path, "retention": {"max_age": "24h",
                                                  "max_readings_per_topic": 1000}}
    return cfg


def file_readings(path, topic):
    """[(seq, value)] of the topic in the history file, read by another SQLite client."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT r.seq, r.value FROM readings r JOIN topics t "
                          "ON t.id = r.topic_id WHERE t.name = ? ORDER BY r.seq",
                          (topic,)).fetchall()
    return [(seq, json.loads(value)) for seq, value in rows]


def remove_history_file(path):
    for p in (path, path + "-wal", path + "-shm"):
        if os.path.exists(p):
            os.unlink(p)


def history(server, topic, from_ms, to_ms, points):
    status, body = get_json(server, f"/topics/{topic}/history?from={from_ms}&to={to_ms}"
                                    f"&points={points}")
    if status != 200:
        raise AssertionError(f"GET /topics/{topic}/history on port {server.port} answered "
                             f"{status}: {body}")
    return body


def bucket_count(series):
    return sum(b["count"] for b in series["buckets"])


def wait_file(path, topic, expected, within=ARRIVES_WITHIN_S):
    """Until the file holds exactly `expected` ([(seq, value)]) for topic; returns it."""
    deadline = time.monotonic() + within
    while True:
        got = file_readings(path, topic) if os.path.exists(path) else None
        if got == expected or time.monotonic() >= deadline:
            return got
        time.sleep(0.1)


def followed(server):
    return metric_value(get_metrics(server), "happy_jetstream_readings_followed_total")


class Subscriber:
    """A WebSocket subscriber (harness.LeanWebSocket) keeping (seq, value) of each envelope."""

    def __init__(self, topic):
        self.topic = topic
        self.received = []
        self.ws = None

    @classmethod
    async def open(cls, server, topic, query=""):
        self = cls(topic)
        self.ws = await LeanWebSocket.open(server.port, f"/topics/{topic}{query}",
                                           on_text=self._on_text, timeout=10 * SLOW)
        return self

    def _on_text(self, payload):
        envelope = json.loads(payload)
        self.received.append((envelope["seq"], envelope[self.topic]))

    async def wait_count(self, n, within=ARRIVES_WITHIN_S):
        deadline = time.monotonic() + within
        while len(self.received) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return list(self.received)

    def closed(self):
        """Whether the connection is gone (the server closed it)."""
        return self.ws.done.done()

    async def wait_for(self, predicate, within=ARRIVES_WITHIN_S):
        """Until predicate(received) or the connection is gone; returns what arrived."""
        deadline = time.monotonic() + within
        while not predicate(self.received) and not self.closed() \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return list(self.received)

    def close(self):
        if self.ws is not None:
            self.ws.abort()


def wait_subscribers(server, topic, count):
    server.wait_for(lambda ts: any(t["name"] == topic and t["subscribers"] >= count for t in ts),
                    timeout=5 * SLOW, what=f"{count} subscriber(s) of {topic}")


async def recv_json(ws, timeout=5.0 * SLOW):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def closed_by_server(ws, timeout=5.0 * SLOW):
    """Reads until the server's close frame; returns (code, reason, messages before it)."""
    before = []
    try:
        while True:
            before.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except ConnectionClosed:
        pass
    return ws.close_code, ws.close_reason, before


def keyed_url(server, topic=ORDERS, ack=True):
    return server.ws_url(f"/topics/{topic}/publish?token={TOKEN}&keyed=1" +
                         ("&ack=1" if ack else ""))


def keyed(key, value):
    return json.dumps({"idempotency_key": key, "value": value})


class JetStreamNodeTestCase(ServerTestCase):
    """A standalone nats-server per test; nodes with --node names; every node's log
    printed when the test fails. Cleanups: the nodes (SIGTERM, exit 0) first, while NATS
    is still up, then NATS, then the temporary directory."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="happy-js-cache-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.nats = NatsServer(auth=password_auth())
        self.addCleanup(self.nats.stop)
        self.nats_log = ""
        self.addCleanup(self.keep_nats_log)  # before NATS stops (and its directory goes)
        self.servers = []

    def keep_nats_log(self):
        self.nats_log = self.nats.log_tail(20)

    def run(self, result=None):
        # Each node's log when the test failed: what the binary said is the report.
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > failures:
            for server in self.servers:
                text = server.stderr().splitlines()
                print(f"\n--- {server.label}, last {min(40, len(text))} of {len(text)} lines:\n"
                      + "\n".join(text[-40:]))
            print(self.nats_log)
        return out

    def file(self, name):
        return os.path.join(self.dir, f"{name}.db")

    def start_node(self, name, config):
        server = self.start_server(config, args=("--node", name), start_timeout=20.0 * SLOW)
        self.servers.append(server)
        wait_http(server, "/readyz", lambda status, _: status == 200, READY_WITHIN_S,
                  f"/readyz 200 on node {name}")
        return server

    def start_cached(self, name):
        return self.start_node(name, cached_config(self.nats, self.file(name)))

    def stop(self, server):
        self.assertEqual(server.stop(timeout=15 * SLOW), 0, server.stderr()[-2000:])

    def publish_all(self, server, values, topic=ORDERS):
        """POSTs each value through server; returns their seqs (each must be acked)."""
        seqs = []
        for value in values:
            status, answer = post(server, topic, value)
            self.assertEqual(status, 202, answer)
            seqs.append(answer["seq"])
        return seqs

    def wait_history_count(self, server, count, from_ms, to_ms, topic=ORDERS):
        """Until the history endpoint counts `count` readings in [from_ms, to_ms)."""
        deadline = time.monotonic() + ARRIVES_WITHIN_S
        while True:
            series = history(server, topic, from_ms, to_ms, 1)
            if bucket_count(series) == count or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        self.assertEqual(bucket_count(series), count,
                         f"history of {topic} on port {server.port}: {series}")
        return series

    def delete_stream(self, topic):
        with MiniNats(HOST, self.nats.client_port, NATS_USER, NATS_PASSWORD,
                      timeout=5 * SLOW) as nats:
            answer = nats.js_api(f"STREAM.DELETE.{stream_name(topic)}")
            self.assertTrue(answer.get("success"), answer)
            info = nats.request(f"$JS.API.STREAM.INFO.{stream_name(topic)}")[1]
            self.assertIn("not found", json.loads(info)["error"]["description"])


class HistoryCacheTest(JetStreamNodeTestCase):

    def test_readings_published_through_one_node_fill_the_other_nodes_history(self):
        a, b = self.start_cached("a"), self.start_cached("b")
        start = now_ms()
        values = list(range(1, 21))
        self.assertEqual(self.publish_all(a, values), list(range(1, 21)))
        expected = list(zip(range(1, 21), values))

        # Node B's file holds every reading with the stream's seqs, and so does A's.
        self.assertEqual(wait_file(self.file("b"), ORDERS, expected), expected)
        self.assertEqual(wait_file(self.file("a"), ORDERS, expected), expected)
        end = now_ms() + 1
        series = self.wait_history_count(b, 20, start - 1000, end + 1000)
        bucket = series["buckets"][0]
        self.assertEqual((bucket["count"], bucket["min"], bucket["max"], bucket["avg"]),
                         (20, 1, 20, 10.5), series)
        self.assertTrue(start <= bucket["time"] <= end, (start, bucket, end))
        # Fine buckets too: the same as A's (the reading's ts is the stream's), each
        # bucket's values within the ones published.
        fine_b = history(b, ORDERS, start - 1000, end + 1000, 2000)
        fine_a = history(a, ORDERS, start - 1000, end + 1000, 2000)
        self.assertEqual(fine_b, fine_a)
        self.assertEqual(bucket_count(fine_b), 20)
        self.assertEqual(sum(bk["avg"] * bk["count"] for bk in fine_b["buckets"]), sum(values))
        # The page's windows: the last 6 h and 24 h (from the file, not the stream).
        now = now_ms() + 1
        for hours in (6, 24):
            with self.subTest(window=f"{hours}h"):
                series = history(b, ORDERS, now - hours * HOUR_MS, now, 360)
                self.assertEqual(bucket_count(series), 20, series)
                self.assertEqual(min(bk["min"] for bk in series["buckets"]), 1)
                self.assertEqual(max(bk["max"] for bk in series["buckets"]), 20)
        # Objects: per-member fields, as without JetStream.
        self.publish_all(a, [{"cpu": n, "mem": 2 * n, "host": "x"} for n in range(1, 5)],
                         topic="hosts")
        deadline = time.monotonic() + ARRIVES_WITHIN_S
        while True:
            status, series = get_json(b, f"/topics/hosts/history?from={start - 1000}"
                                         f"&to={now_ms() + 1000}&points=1")
            if (status == 200 and bucket_count(series) == 4) or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        self.assertEqual(status, 200, series)
        fields = series["buckets"][0]["fields"]
        self.assertEqual(sorted(fields), ["cpu", "mem"], series)
        self.assertEqual((fields["cpu"]["min"], fields["cpu"]["max"], fields["mem"]["avg"]),
                         (1, 4, 5), series)
        # GET /topics says how far back the history reaches (the file's max_age, 24 h).
        self.assertEqual(b.topic(ORDERS)["retention_ms"], 24 * HOUR_MS)

    def test_a_node_restarted_with_its_file_follows_on_from_the_files_last_seq(self):
        a, b = self.start_cached("a"), self.start_cached("b")
        start = now_ms()
        self.publish_all(a, range(1, 11))
        self.assertEqual(len(wait_file(self.file("b"), ORDERS, list(zip(range(1, 11),
                                                                          range(1, 11))))), 10)
        self.stop(b)
        self.publish_all(a, range(11, 16))

        b = self.start_cached("b")
        expected = list(zip(range(1, 16), range(1, 16)))
        self.assertEqual(wait_file(self.file("b"), ORDERS, expected), expected)
        self.wait_history_count(b, 15, start - 1000, now_ms() + 1000)
        # It took only what the file lacked from the stream.
        self.assertEqual(followed(b), 5)
        self.assertNotIn("another stream", b.stderr())

    def test_a_deleted_file_is_refilled_from_the_stream(self):
        a, b = self.start_cached("a"), self.start_cached("b")
        start = now_ms()
        self.assertEqual(self.publish_all(a, range(1, 11)), list(range(1, 11)))
        self.assertEqual(len(wait_file(self.file("b"), ORDERS, list(zip(range(1, 11),
                                                                          range(1, 11))))), 10)
        self.stop(b)
        remove_history_file(self.file("b"))
        self.assertEqual(self.publish_all(a, range(11, 21)), list(range(11, 21)))

        b = self.start_cached("b")
        expected = list(zip(range(1, 21), range(1, 21)))
        self.assertEqual(wait_file(self.file("b"), ORDERS, expected), expected)
        series = self.wait_history_count(b, 20, start - 1000, now_ms() + 1000)
        bucket = series["buckets"][0]
        self.assertEqual((bucket["min"], bucket["max"], bucket["avg"]), (1, 20, 10.5), series)
        self.assertEqual(followed(b), 20)
        self.assertEqual(b.topic(ORDERS)["seq"], 20)

        # And a dashboard on B replays all of it, then gets what comes next.
        async def replay():
            sub = await Subscriber.open(b, ORDERS, "?since=0")
            try:
                await sub.wait_count(20)
                self.assertEqual(self.publish_all(a, [21]), [21])
                return await sub.wait_count(21)
            finally:
                sub.close()
        self.assertEqual(run_async(replay(), 30 * SLOW), list(zip(range(1, 22), range(1, 22))))

    def test_a_file_from_another_stream_is_dropped_and_refilled(self):
        a, b = self.start_cached("a"), self.start_cached("b")
        old = [{"old": n} for n in range(1, 21)]
        self.publish_all(a, old)
        self.assertEqual(len(wait_file(self.file("b"), ORDERS, list(zip(range(1, 21), old)))),
                         20)
        self.stop(b)
        self.stop(a)
        # The stream goes (deleted by an operator); a node makes it anew.
        self.delete_stream(ORDERS)
        a = self.start_node("a", cached_config(self.nats, self.file("a")))
        new = [{"new": n} for n in range(1, 4)]
        self.assertEqual(self.publish_all(a, new), [1, 2, 3])

        b = self.start_cached("b")
        wait_for_stderr(b, r"topic 'orders': the history file holds seq 20 but the stream "
                           r"ends at 3", timeout=ARRIVES_WITHIN_S)
        expected = list(zip(range(1, 4), new))
        self.assertEqual(wait_file(self.file("b"), ORDERS, expected), expected)
        series = self.wait_history_count(b, 3, now_ms() - HOUR_MS, now_ms() + 1000)
        fields = series["buckets"][0]["fields"]
        self.assertEqual(fields, {"new": {"min": 1, "avg": 2, "max": 3, "count": 3}}, series)
        self.assertEqual(b.topic(ORDERS)["seq"], 3)

        # Subscribers on B get the stream's seqs only: a replay of 1..3, then 4 and 5 live.
        async def watch():
            replay = await Subscriber.open(b, ORDERS, "?since=0")
            last = await Subscriber.open(b, ORDERS, "?last=100")
            live = await Subscriber.open(b, ORDERS)
            try:
                await asyncio.to_thread(wait_subscribers, b, ORDERS, 3)
                more = [{"new": 4}, {"new": 5}]
                self.assertEqual(await asyncio.to_thread(self.publish_all, a, more), [4, 5])
                return [await s.wait_count(n) for s, n in ((replay, 5), (last, 5), (live, 2))]
            finally:
                for s in (replay, last, live):
                    s.close()
        replayed, last, live = run_async(watch(), 30 * SLOW)
        stream = list(zip(range(1, 6), new + [{"new": 4}, {"new": 5}]))
        self.assertEqual(replayed, stream)
        self.assertEqual(last, stream)
        self.assertEqual(live, stream[3:])
        # Node A's own file was from the old stream too: the same warning, the same refill.
        self.assertIn("the history file holds seq 20 but the stream ends at 0", a.stderr())
        self.assertEqual(wait_file(self.file("a"), ORDERS, stream), stream)

    def test_the_stream_keeps_what_the_file_keeps(self):
        # The ring holds 5, the file 50 for 2 h: the stream keeps 50 for 2 h, so a new node
        # fills its file whole, and the file drops what the stream drops.
        def config(name):
            cfg = cached_config(self.nats, self.file(name))
            cfg["limits"]["history"] = 5
            cfg["storage"]["retention"] = {"max_age": "2h", "max_readings_per_topic": 50}
            return cfg
        a = self.start_node("a", config("a"))
        with MiniNats(HOST, self.nats.client_port, NATS_USER, NATS_PASSWORD) as nats:
            limits = nats.stream_info(stream_name(ORDERS))["config"]
        self.assertEqual((limits["max_msgs"], limits["max_age"]), (50, 2 * HOUR_MS * 10**6),
                         limits)
        start = now_ms()
        self.publish_all(a, range(1, 31))
        b = self.start_node("b", config("b"))
        expected = list(zip(range(1, 31), range(1, 31)))
        self.assertEqual(wait_file(self.file("b"), ORDERS, expected), expected)
        self.wait_history_count(b, 30, start - 1000, now_ms() + 1000)
        self.assertEqual(b.topic(ORDERS)["history"], 5)  # the ring: limits.history

        self.publish_all(a, range(31, 61))
        expected = list(zip(range(11, 61), range(11, 61)))  # retention runs every 2 s
        self.assertEqual(wait_file(self.file("b"), ORDERS, expected), expected)
        with MiniNats(HOST, self.nats.client_port, NATS_USER, NATS_PASSWORD) as nats:
            state = nats.stream_info(stream_name(ORDERS))["state"]
        self.assertEqual((state["first_seq"], state["last_seq"]), (11, 60), state)

    def test_a_subscriber_that_came_while_nats_was_down_never_sees_a_seq_go_back(self):
        # Node B starts while NATS is down, so it cannot tell yet that its file is from
        # another stream; a dashboard connects to it meanwhile. Once NATS is back and B
        # refills its file, that dashboard's connection must not go on with seqs it had
        # already seen for other readings (it would drop them as repeats): it gets the
        # stream's readings after what it saw, or is closed to resume.
        a, b = self.start_cached("a"), self.start_cached("b")
        self.publish_all(a, [{"old": n} for n in range(1, 21)])
        self.assertEqual(len(wait_file(self.file("b"), ORDERS,
                                       [(n, {"old": n}) for n in range(1, 21)])), 20)
        self.stop(b)
        self.stop(a)
        self.delete_stream(ORDERS)
        a = self.start_cached("a")
        new = [{"new": n} for n in range(1, 4)]
        self.assertEqual(self.publish_all(a, new), [1, 2, 3])
        self.nats.terminate()

        b = self.start_server(cached_config(self.nats, self.file("b")), args=("--node", "b"),
                              start_timeout=20.0 * SLOW)
        self.servers.append(b)
        self.assertEqual(get_json(b, "/readyz")[0], 503)  # listening, NATS not there

        async def main():
            early = await Subscriber.open(b, ORDERS, "?since=0")
            try:
                await asyncio.to_thread(wait_subscribers, b, ORDERS, 1)
                # From this (the main) thread: the kernel ends it with the test process.
                self.nats.restart()
                await asyncio.to_thread(
                    wait_for_stderr, b, r"history file holds seq 20 but the stream ends at 3",
                    ARRIVES_WITHIN_S)
                for server in (a, b):
                    await asyncio.to_thread(wait_http, server, "/readyz",
                                            lambda status, _: status == 200, READY_WITHIN_S,
                                            "/readyz 200 once NATS is back")
                for n in (4, 5):
                    answer = await asyncio.to_thread(post_until_acked, a, ORDERS, {"new": n},
                                                     10 * SLOW, {"Idempotency-Key": f"new-{n}"})
                    self.assertEqual(answer["seq"], n)
                got = await early.wait_for(lambda r: (5, {"new": 5}) in r)
                after = await Subscriber.open(b, ORDERS, "?since=0")
                try:
                    return got, early.closed(), await after.wait_count(5)
                finally:
                    after.close()
            finally:
                early.close()

        got, closed, after = run_async(main(), 90 * SLOW)
        seqs = [seq for seq, _ in got]
        self.assertTrue(all(x < y for x, y in zip(seqs, seqs[1:])),
                        f"seqs on one connection went back (closed by the server: {closed}): "
                        f"{got}")
        self.assertTrue(closed or got[-2:] == [(4, {"new": 4}), (5, {"new": 5})], got)
        self.assertEqual(after, list(zip(range(1, 6), new + [{"new": 4}, {"new": 5}])))


class KeyedPublisherTest(JetStreamNodeTestCase):

    def test_the_same_key_through_two_nodes_is_one_reading_with_one_seq(self):
        a = self.start_node("a", node_config(nats_section(self.nats), topics={ORDERS: {}}))
        b = self.start_node("b", node_config(nats_section(self.nats), topics={ORDERS: {}}))

        async def main():
            subs = [await Subscriber.open(a, ORDERS), await Subscriber.open(b, ORDERS)]
            try:
                for server in (a, b):
                    await asyncio.to_thread(wait_subscribers, server, ORDERS, 1)
                async with websockets.connect(keyed_url(a), open_timeout=5 * SLOW) as pub_a, \
                        websockets.connect(keyed_url(b), open_timeout=5 * SLOW) as pub_b:
                    await pub_a.send(keyed("order-42", {"order": 42}))
                    first = await recv_json(pub_a)
                    # A retry of the same reading, through the other node.
                    await pub_b.send(keyed("order-42", {"order": 42}))
                    again = await recv_json(pub_b)
                    await pub_b.send(keyed("order-43", {"order": 43}))
                    other = await recv_json(pub_b)
                return first, again, other, [await s.wait_count(2) for s in subs]
            finally:
                for s in subs:
                    s.close()

        first, again, other, seen = run_async(main(), 30 * SLOW)
        self.assertEqual(first, {"seq": 1})
        self.assertEqual(again, first, "the same key is answered with the first seq")
        self.assertEqual(other, {"seq": 2})
        # Seq 2 arrived after the retry was answered: a second copy would have come first.
        for name, got in zip("ab", seen):
            self.assertEqual(got, [(1, {"order": 42}), (2, {"order": 43})], f"node {name}")
        with MiniNats(HOST, self.nats.client_port, NATS_USER, NATS_PASSWORD) as nats:
            state = nats.stream_info(stream_name(ORDERS))["state"]
        self.assertEqual((state["messages"], state["last_seq"]), (2, 2), state)

    def test_frames_of_another_shape_or_with_a_bad_key_close_1007(self):
        a = self.start_node("a", node_config(nats_section(self.nats), topics={ORDERS: {}}))
        cases = {
            "no value": (json.dumps({"idempotency_key": "k-1"}), KEYED_SHAPE),
            "no key": (json.dumps({"value": 1}), KEYED_SHAPE),
            "not an object": ("42", KEYED_SHAPE),
            "another member": (json.dumps({"idempotency_key": "k-1", "value": 1, "x": 2}),
                               KEYED_SHAPE),
            "a space in the key": (keyed("has space", 1), KEY_RULE),
            "an empty key": (keyed("", 1), KEY_RULE),
            "129 characters": (keyed("k" * 129, 1), KEY_RULE),
            "a key that is a number": (json.dumps({"idempotency_key": 7, "value": 1}), KEY_RULE),
        }
        for n, (case, (frame, reason_part)) in enumerate(cases.items()):
            with self.subTest(case):
                async def main():
                    async with websockets.connect(keyed_url(a), open_timeout=5 * SLOW) as pub:
                        await pub.send(keyed(f"good-{n}", {"good": n}))
                        await pub.send(frame)
                        return await closed_by_server(pub)
                code, reason, before = run_async(main(), 20 * SLOW)
                self.assertEqual(code, 1007, reason)
                self.assertIn(reason_part, reason)
                # The good frame before it was published and acked; the bad one was not.
                self.assertEqual(before, [{"seq": n + 1}])
                self.assertEqual(a.topic(ORDERS)["seq"], n + 1)
        # 128 printable characters are a key.
        async def longest():
            async with websockets.connect(keyed_url(a), open_timeout=5 * SLOW) as pub:
                await pub.send(keyed("~" * 128, "longest"))
                return await recv_json(pub)
        self.assertEqual(run_async(longest(), 20 * SLOW), {"seq": len(cases) + 1})


class WithoutJetStreamTest(ServerTestCase):

    def plain_node(self):
        return self.start_server({"publish": {"tokens": [TOKEN]}, "topics": {ORDERS: {}}})

    def test_keyed_frames_publish_their_value(self):
        server = self.plain_node()

        async def main():
            sub = await Subscriber.open(server, ORDERS)
            try:
                await asyncio.to_thread(wait_subscribers, server, ORDERS, 1)
                async with websockets.connect(keyed_url(server), open_timeout=5) as pub:
                    # The embedded log has no dedup window: the same key twice is two readings.
                    for frame in (keyed("k-1", {"a": 1}), keyed("k-1", {"a": 1}),
                                  keyed("k-2", [1, "two"])):
                        await pub.send(frame)
                    acks = [await recv_json(pub) for _ in range(3)]
                    await pub.send(keyed("bad key", 1))
                    code, reason, _ = await closed_by_server(pub)
                return acks, await sub.wait_count(3, 5), (code, reason)
            finally:
                sub.close()

        acks, got, (code, reason) = run_async(main(), 20)
        self.assertEqual(acks, [{"seq": 1}, {"seq": 2}, {"seq": 3}])
        self.assertEqual(got, [(1, {"a": 1}), (2, {"a": 1}), (3, [1, "two"])])
        self.assertEqual((code, reason), (1007, KEY_RULE))
        self.assertEqual(server.topic(ORDERS)["seq"], 3)

    def test_cluster_says_embedded(self):
        server = self.plain_node()
        status, headers, body = server.http("/cluster")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["content-type"].split(";")[0], "application/json")
        self.assertEqual(json.loads(body), {"enabled": False, "engine": "embedded"})


if __name__ == "__main__":
    unittest.main()
