"""Several service nodes on NATS JetStream (config key `nats`, issue #25) as a user and an
operator see them: what the peer cluster's tests (test_cluster.py, removed with it) checked
and test_jetstream*.py did not yet. Three service nodes against a real three-node
nats-server cluster on loopback (jetstream_harness.JetStreamTestCase):

- a dashboard that resumes on another node (WebSocket `?since=`, SSE `Last-Event-ID`) gets
  every reading once: no gap, no duplicate;
- a service node killed and started again catches up, and a dashboard on it that comes back
  with `?since=` sees every seq once;
- a command source runs on one node of the cluster and moves when that node is killed;
- the whole cluster (NATS servers and service nodes) stopped and started again from its
  files continues every seq;
- `limits.max_topics` holds on every node; the node name comes from --node, then HAPPY_NODE,
  then the host name;
- an invalid `nats` section is a config error naming where (exit 2), and a config that still
  has the removed `cluster` section is refused at start (exit 2) with a message naming
  "/cluster" and "nats".
"""

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import (HttpStream, LeanWebSocket, free_port, long_poll, port_accepts, run_async,
                     run_cli, write_temp)
from jetstream_harness import (LEASE_MOVES_WITHIN_S, NODE_NAMES, ORDERS, READ_BACK_WITHIN_S,
                               REQUEST_TIMEOUT_S, SLOW, TICKS, JetStreamTestCase, LeanSubscriber,
                               forget_node_name_from_environment, get_json, lease_holders,
                               node_config, post, post_until_acked, stream_name, wait_until)
from nats_cluster import NatsError
from write_checker import analyze, read_histories

PUBLISH_WITHIN_S = 20.0 * SLOW   # post_until_acked: a publish acknowledged within this
CATCH_UP_WITHIN_S = 20.0 * SLOW  # a subscriber has every acknowledged seq within this


def setUpModule():
    forget_node_name_from_environment()


class Publisher:
    """A thread posting {"n": i} to ORDERS through the given servers in turn, each value
    acknowledged once: a failed try goes to the next server with the same Idempotency-Key,
    until 202 (at most PUBLISH_WITHIN_S). `acked` maps seq -> value. `servers` may be
    replaced while it runs."""

    def __init__(self, servers, interval_s=0.01):
        self.servers = list(servers)
        self.interval_s = interval_s
        self.acked = {}
        self.error = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._key = os.urandom(4).hex()
        self._thread = threading.Thread(target=self._run, daemon=True, name="publisher")

    def start(self):
        self._thread.start()
        return self

    def _publish(self, n, value):
        key = {"Idempotency-Key": f"{self._key}-{n}"}
        deadline = time.monotonic() + PUBLISH_WITHIN_S
        attempt, last = 0, None
        while True:
            servers = self.servers
            try:
                status, answer = post(servers[(n + attempt) % len(servers)], ORDERS, value, key,
                                      timeout=REQUEST_TIMEOUT_S)
                if status == 202:
                    return answer
                last = (status, answer)
            except OSError as e:
                last = repr(e)
            if time.monotonic() >= deadline:
                raise AssertionError(f"{value} not acknowledged within {PUBLISH_WITHIN_S} s; "
                                     f"last answer {last}")
            attempt += 1
            time.sleep(0.05)

    def _run(self):
        n = 0
        try:
            while not self._stop.is_set():
                value = {"n": n}
                answer = self._publish(n, value)
                with self._lock:
                    if answer["seq"] in self.acked:
                        raise AssertionError(f"seq {answer['seq']} acknowledged for "
                                             f"{self.acked[answer['seq']]} and {value}")
                    self.acked[answer["seq"]] = value
                n += 1
                self._stop.wait(self.interval_s)
        except BaseException as e:  # reported by stop()
            self.error = e

    def count(self):
        with self._lock:
            return len(self.acked)

    def top(self):
        with self._lock:
            return max(self.acked, default=0)

    def halt(self):
        """Stops it without a verdict (a cleanup)."""
        self._stop.set()
        self._thread.join(timeout=2 * PUBLISH_WITHIN_S)

    def stop(self):
        """Stops it; returns `acked`, or raises what went wrong."""
        self._stop.set()
        self._thread.join(timeout=2 * PUBLISH_WITHIN_S)
        if self._thread.is_alive():
            raise AssertionError("the publisher did not stop")
        if self.error:
            raise AssertionError(f"the publisher failed: {self.error!r}") from self.error
        return dict(self.acked)


class Follower:
    """A dashboard's WebSocket on ORDERS at one port that, whenever its connection drops,
    comes back to the same port with ?since=<the last seq it saw> (every 0.2 s until a
    connection is accepted); `received` spans all its connections."""

    def __init__(self, port):
        self.port = port
        self.received = []
        self.reconnects = 0
        self._stopping = False
        self.ws = None
        self.task = None

    async def start(self, since=0):
        self.ws = await self._open(since)
        self.task = asyncio.ensure_future(self._keep())
        return self

    async def _open(self, since):
        return await LeanWebSocket.open(self.port, f"/topics/{ORDERS}?since={since}",
                                        on_text=self._on_text, timeout=5 * SLOW)

    def _on_text(self, payload):
        env = json.loads(payload)
        self.received.append((env["seq"], env[ORDERS]))

    async def _keep(self):
        while not self._stopping:
            await asyncio.shield(self.ws.done)
            while not self._stopping:
                await asyncio.sleep(0.2)
                try:
                    self.ws = await self._open(self.received[-1][0] if self.received else 0)
                    self.reconnects += 1
                    break
                except (OSError, AssertionError, asyncio.TimeoutError):
                    continue

    def last_seq(self):
        return self.received[-1][0] if self.received else 0

    async def close(self):
        self._stopping = True
        if self.ws is not None:
            self.ws.abort()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


def once_each_in_order(test, received, acked, what):
    """received (seq, value) pairs are exactly seqs 1..max(acked), each once, each with the
    value acknowledged with that seq."""
    seqs = [seq for seq, _ in received]
    top = max(acked)
    repeated = sorted({s for s in seqs if seqs.count(s) > 1})
    missing = sorted(set(range(1, top + 1)) - set(seqs))
    test.assertEqual((repeated[:10], missing[:10]), ([], []),
                     f"{what}: {len(received)} readings, seqs seen twice {repeated[:10]}, "
                     f"missing {missing[:10]}")
    test.assertEqual(seqs, list(range(1, top + 1)), f"{what}: seqs out of order")
    wrong = [(seq, value, acked.get(seq)) for seq, value in received if acked.get(seq) != value]
    test.assertEqual(wrong[:5], [], f"{what}: values other than acknowledged at those seqs")


class JetStreamClusterTest(JetStreamTestCase):

    def test_dashboard_resuming_on_another_node_gets_no_gap_and_no_duplicate(self):
        """A dashboard reads on s1, drops, resumes at once on s2 (?since=), drops, resumes
        later on s3 with SSE (Last-Event-ID) and at last long-polls s1 again, while
        readings are published through all three nodes: it sees 1..N once each."""
        with self.logs_on_failure():
            s1, s2, s3 = self.start_nodes()
            publisher = Publisher([s1, s2, s3]).start()
            self.addCleanup(publisher.halt)

            async def main():
                got = []

                async def websocket_leg(server, since, count):
                    query = f"?since={since}" if since is not None else "?since=0"
                    ws = await LeanSubscriber.open(server.port, ORDERS, query)
                    try:
                        reached = await wait_until(lambda: len(ws.received) >= count,
                                                   CATCH_UP_WITHIN_S)
                        self.assertTrue(reached, f"{len(ws.received)} readings on port "
                                                 f"{server.port}, wanted {count}")
                    finally:
                        await ws.close()  # drops the connection, no close handshake
                    return list(ws.received)

                got += await websocket_leg(s1, None, 60)
                # At once on another node: it may not have got that far yet itself.
                got += await websocket_leg(s2, got[-1][0], 60)
                # Readings go on while the dashboard is away.
                away_from = publisher.count()
                self.assertTrue(await wait_until(lambda: publisher.count() >= away_from + 40,
                                                 PUBLISH_WITHIN_S))
                sse = await HttpStream.open(s3.port, f"/topics/{ORDERS}", timeout=10 * SLOW,
                                            headers={"Accept": "text/event-stream",
                                                     "Last-Event-ID": str(got[-1][0])})
                try:
                    self.assertEqual(sse.status, 200)
                    envs = await sse.read_envelopes(80, timeout=CATCH_UP_WITHIN_S)
                finally:
                    sse.close()
                got += [(env["seq"], env[ORDERS]) for env in envs]
                return got

            got = run_async(main(), 120 * SLOW)
            acked = publisher.stop()
            # The rest by long-poll on s1, up to the last acknowledged seq.
            deadline = time.monotonic() + CATCH_UP_WITHIN_S
            while got[-1][0] < max(acked) and time.monotonic() < deadline:
                status, _, envs = run_async(long_poll(s1.port, f"/topics/{ORDERS}",
                                                      since=got[-1][0], timeout_s=2,
                                                      client_timeout=10 * SLOW), 15 * SLOW)
                self.assertEqual(status, 200)
                got += [(env["seq"], env[ORDERS]) for env in envs]
            print(f"\n{len(got)} readings over four connections to three nodes "
                  f"({len(acked)} published)")
            once_each_in_order(self, got, acked, "the dashboard")

    def test_restarted_node_catches_up_and_its_dashboards_see_every_seq(self):
        """s3 is SIGKILLed while readings are published through s1 and s2, then started
        again: a dashboard that was on s3 comes back to it with ?since= and sees every
        seq once; a new one on s3 replays the same history as s1; the generator's seq went
        on (it never starts from 1 again)."""
        with self.logs_on_failure():
            s1, s2, s3 = self.start_nodes()

            async def main():
                # A dashboard that has been open a while: over 100 readings, more than a
                # node's follower can lag behind another's.
                follower = await Follower(s3.port).start(since=0)
                publisher = Publisher([s1, s2, s3], interval_s=0.005).start()
                self.addCleanup(publisher.halt)
                try:
                    self.assertTrue(await wait_until(lambda: follower.last_seq() >= 150,
                                                     CATCH_UP_WITHIN_S))
                    ticks_before = s3.topic(TICKS)["seq"]
                    await asyncio.to_thread(s3.kill)
                    publisher.servers = [s1, s2]
                    down_from = publisher.count()
                    self.assertTrue(await wait_until(lambda: publisher.count() >= down_from + 150,
                                                     PUBLISH_WITHIN_S))
                    restarted = await asyncio.to_thread(self.restart_node, "s3")
                    publisher.servers = [s1, s2, restarted]
                    back_from = publisher.count()
                    self.assertTrue(await wait_until(lambda: publisher.count() >= back_from + 150,
                                                     PUBLISH_WITHIN_S))
                finally:
                    acked = await asyncio.to_thread(publisher.stop)
                try:
                    caught_up = await wait_until(lambda: follower.last_seq() >= max(acked),
                                                 CATCH_UP_WITHIN_S)
                    await asyncio.sleep(0.3)  # anything repeated would arrive now
                finally:
                    await follower.close()
                self.assertTrue(caught_up, f"the dashboard on s3 stopped at seq "
                                           f"{follower.last_seq()} of {max(acked)}")
                fresh = [await LeanSubscriber.open(s.port, ORDERS, "?since=0")
                         for s in (s1, restarted)]
                try:
                    await wait_until(lambda: all(f.received and f.received[-1][0] >= max(acked)
                                                 for f in fresh), CATCH_UP_WITHIN_S)
                finally:
                    for f in fresh:
                        await f.close()
                return follower, acked, fresh, ticks_before, restarted

            follower, acked, fresh, ticks_before, restarted = run_async(main(), 150 * SLOW)
            print(f"\nthe dashboard on s3 saw {len(follower.received)} readings over "
                  f"{follower.reconnects + 1} connections ({len(acked)} published)")
            self.assertGreaterEqual(follower.reconnects, 1)
            once_each_in_order(self, follower.received, acked, "the dashboard that was on s3")
            once_each_in_order(self, fresh[1].received, acked, "a new dashboard on s3")
            self.assertEqual(fresh[1].received, fresh[0].received)
            restarted.wait_for_seq(ticks_before + 1, topic=TICKS, timeout=10 * SLOW)

    def test_command_source_runs_once_and_moves_when_its_node_is_killed(self):
        """A command source (every 200 ms) on all three nodes runs only on the holder of
        its topic's lease: each node's command notes its runs in a file of its own. Once
        that node is SIGKILLed, one survivor runs it from then on, and every node's
        history of the topic agrees seq by seq."""
        interval_ms = 200
        runs_dir = tempfile.mkdtemp(prefix="happy-jetstream-source-")
        self.addCleanup(shutil.rmtree, runs_dir, True)

        def runs():
            out = {}
            for name in NODE_NAMES:
                try:
                    with open(os.path.join(runs_dir, name)) as f:
                        out[name] = len(f.read().split())
                except FileNotFoundError:
                    out[name] = 0
            return out

        def runs_while(node, at_least):
            """Until `node` ran the source `at_least` more times: (runs of every node in
            that window, seconds it took)."""
            before, started = runs(), time.monotonic()
            deadline = started + 10 * SLOW + at_least * interval_ms / 1000 * 3
            while runs()[node] < before[node] + at_least:
                self.assertLess(time.monotonic(), deadline,
                                f"{node} ran the source {runs()[node] - before[node]} times")
                time.sleep(0.05)
            after = runs()
            return {n: after[n] - before[n] for n in after}, time.monotonic() - started

        with self.logs_on_failure():
            servers = []
            for name in NODE_NAMES:
                # The same command on every node; only the file it notes its runs in differs.
                script = f'echo run >> "{runs_dir}/$NODE"; date +%s%N | cut -c1-13'
                topics = {"probe": {"source": {"command": ["/bin/sh", "-c", script],
                                               "env": {"NODE": name},
                                               "interval_ms": interval_ms}}}
                servers.append(self.start_node(name, node_config(self.nats_section(), topics),
                                               wait_ready=False))
            for server in servers:
                self.wait_ready(server)
            holder = self.one_lease_holder(servers, "probe", 20 * SLOW)
            grown, took = runs_while(holder, 10)
            print(f"\nprobe on {holder}: runs per node in {took:.2f} s: {grown}")
            self.assertEqual([n for n, g in grown.items() if g], [holder],
                             f"only the lease holder runs the source: {grown}")
            self.assertLessEqual(grown[holder], took * 1000 / interval_ms + 2)

            self.nodes[holder].kill()
            killed_at = time.monotonic()
            survivors = [s for n, s in self.nodes.items() if n != holder]
            new_holder = self.one_lease_holder(survivors, "probe", LEASE_MOVES_WITHIN_S)
            moved_s = time.monotonic() - killed_at
            grown, took = runs_while(new_holder, 10)
            print(f"probe moved to {new_holder} {moved_s:.1f} s after the SIGKILL of {holder}; "
                  f"runs per node in {took:.2f} s: {grown}")
            self.assertNotEqual(new_holder, holder)
            self.assertEqual([n for n, g in grown.items() if g], [new_holder],
                             f"after the move only {new_holder} runs it: {grown}")
            self.assertLessEqual(grown[new_holder], took * 1000 / interval_ms + 2)

            names = [n for n in NODE_NAMES if n != holder]
            histories, incomplete = read_histories(self.targets(names), "probe",
                                                   timeout=READ_BACK_WITHIN_S, with_ts=True)
            pairs = {n: [(seq, [value, ts]) for seq, value, ts in h] for n, h in histories.items()}
            result = analyze([], pairs, incomplete, known_values=False)
            self.assertEqual(incomplete, [])
            self.assertEqual(result.anomalies(), {}, result.summary())
            self.assertGreaterEqual(result.max_seq, 20)

    def test_whole_cluster_stopped_and_started_again_continues_every_seq(self):
        """Every service node stopped (SIGTERM), then every NATS server; all started again
        from their files: publishing continues at the next seq, the generator's seq goes
        on, and a dashboard resuming from seq 5 gets 6.. from every node."""
        with self.logs_on_failure():
            servers = self.start_nodes()
            acked = {}
            for k in range(10):
                answer = post_until_acked(servers[k % 3], ORDERS, {"k": k}, PUBLISH_WITHIN_S,
                                          {"Idempotency-Key": f"before-{k}"})
                acked[answer["seq"]] = {"k": k}
            self.assertEqual(sorted(acked), list(range(1, 11)))
            for server in servers:  # every node has followed them before the stop
                server.wait_for_seq(10, topic=ORDERS, timeout=10 * SLOW)
            ticks_before = max(s.topic(TICKS)["seq"] for s in servers)

            for server in servers:
                self.assertEqual(server.stop(timeout=server.shutdown_bound_s()), 0,
                                 server.stderr()[-2000:])
            self.nats.terminate_all()
            self.nats.start_all()
            servers = [self.restart_node(name) for name in NODE_NAMES]

            answer = post_until_acked(servers[1], ORDERS, {"k": "after"}, PUBLISH_WITHIN_S,
                                      {"Idempotency-Key": "after-restart"})
            acked[answer["seq"]] = {"k": "after"}
            self.assertEqual(answer["seq"], 11, "the cluster continues the stored seq")
            # The generator needs its lease, and the lease bucket's stream needs a
            # leader: nats-server 2.9.10 sometimes leaves it "NO quorum, stalled"
            # for 20 s and more after all three restart (the topic streams are fine).
            restarted = time.monotonic()
            for server in servers:
                server.wait_for_seq(ticks_before + 5, topic=TICKS, timeout=90 * SLOW)
            print(f"the generator went on {time.monotonic() - restarted:.1f} s after the restart")
            for server in servers:
                status, _, envs = run_async(long_poll(server.port, f"/topics/{ORDERS}", since=5,
                                                      timeout_s=1, client_timeout=10 * SLOW),
                                            15 * SLOW)
                self.assertEqual(status, 200, envs)
                self.assertEqual([(e["seq"], e[ORDERS]) for e in envs],
                                 [(seq, acked[seq]) for seq in range(6, 12)],
                                 f"port {server.port}")
            histories, incomplete = read_histories(self.targets(), TICKS,
                                                   timeout=READ_BACK_WITHIN_S, with_ts=True)
            pairs = {n: [(seq, [value, ts]) for seq, value, ts in h] for n, h in histories.items()}
            result = analyze([], pairs, incomplete, known_values=False)
            self.assertEqual(incomplete, [])
            self.assertEqual(result.anomalies(), {}, result.summary())

    def test_full_topic_table_is_429_from_every_node(self):
        """limits.max_topics holds on every node: a publish that would create a topic
        beyond it is answered 429 at once, and no stream is made for it."""
        with self.logs_on_failure():
            config = node_config(self.nats_section())
            config["limits"]["max_topics"] = 2  # ORDERS and TICKS
            servers = self.start_nodes(config)
            for i, server in enumerate(servers):
                topic = f"extra-{i}"
                started = time.monotonic()
                status, answer = post(server, topic, 1)
                self.assertEqual(status, 429, answer)
                self.assertLess(time.monotonic() - started, 2.0 * SLOW)
                with self.nats.client() as nc, self.assertRaises(NatsError):
                    nc.stream_info(stream_name(topic))
                for other in servers:
                    self.assertNotIn(topic, [t["name"] for t in other.topics()])

    def test_node_name_comes_from_the_node_flag_then_happy_node_then_the_host_name(self):
        cases = [  # (HAPPY_NODE, --node, expected name)
            ("from-env", "from-flag", "from-flag"),
            ("from-env", None, "from-env"),
            (None, None, socket.gethostname()),
        ]
        for env_name, flag_name, expected in cases:
            with self.subTest(expected=expected), self.logs_on_failure():
                server = self.start_server(node_config(self.nats_section()),
                                           env={"HAPPY_NODE": env_name} if env_name else None,
                                           args=("--node", flag_name) if flag_name else (),
                                           start_timeout=20.0 * SLOW)
                self.servers.append(server)
                self.wait_ready(server)
                status, view = get_json(server, "/cluster")
                self.assertEqual((status, view.get("node")), (200, expected), view)
                # Right after a start the stream may still be electing a leader: a 503 with
                # "try again" is the documented answer then, so the publish is retried.
                post_until_acked(server, ORDERS, {"from": expected}, PUBLISH_WITHIN_S)
                self.assertEqual(server.stop(timeout=server.shutdown_bound_s()), 0)

    def one_lease_holder(self, servers, topic, within):
        """Until every server names the same lease holder for topic, one of them; its name."""
        names = {name for name, s in self.nodes.items() if s in servers}
        deadline = time.monotonic() + within
        while True:
            holders = lease_holders(servers, topic)
            agreed = set(holders.values())
            if len(agreed) == 1 and next(iter(agreed)) in names:
                return next(iter(agreed))
            if time.monotonic() >= deadline:
                raise AssertionError(f"no agreed lease holder of {topic} among {sorted(names)} "
                                     f"within {within} s: {holders}")
            time.sleep(0.2)


def nats_config(**nats):
    return {"topics": {ORDERS: {}}, "nats": nats}


SERVERS = ["nats://n1:4222", "nats://n2:4222", "tls://n3:4222"]


class NatsConfigTest(unittest.TestCase):
    """The `nats` section is checked like the rest of the config: --check-config and a start
    exit 2 with the file and the JSON Pointer of what is wrong (test_config_cli.py)."""

    def assert_invalid(self, cfg, *fragments, env=None):
        path = write_temp(json.dumps(cfg, indent=2))
        result = run_cli("--check-config", path, env=env)
        self.assertEqual(result.returncode, 2, f"stdout={result.stdout!r} stderr={result.stderr!r}")
        self.assertIn(path, result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        return result.stderr

    def test_invalid_nats_section_is_a_located_config_error(self):
        missing_file = "/nonexistent/happy-dashboard/nats.pem"
        user = {"user": "happy", "password": "secret"}
        cases = [
            ("servers missing", nats_config(replicas=3), ("/nats", "servers")),
            ("servers not an array", nats_config(servers="nats://n1:4222"), ("/nats/servers",)),
            ("no server", nats_config(servers=[]), ("/nats/servers",)),
            ("server not a string", nats_config(servers=[4222]), ("/nats/servers/0",)),
            ("server not a NATS URL", nats_config(servers=["nats://n1:4222", "http://n2:4222"]),
             ("/nats/servers/1", "http://n2:4222")),
            ("server without a scheme", nats_config(servers=["n1:4222"]),
             ("/nats/servers/0", "n1:4222")),
            ("replicas 0", nats_config(servers=SERVERS, replicas=0), ("/nats/replicas", "0")),
            ("replicas 6", nats_config(servers=SERVERS, replicas=6), ("/nats/replicas", "6")),
            ("publish timeout too short", nats_config(servers=SERVERS, publish_timeout_ms=50),
             ("/nats/publish_timeout_ms", "50")),
            ("unknown key", nats_config(servers=SERVERS, replica=3), ("/nats", "'replica'")),
            ("user without a password", nats_config(servers=SERVERS, user="happy"),
             ("/nats", "password")),
            ("password twice", nats_config(servers=SERVERS, user="happy", password="secret",
                                           password_env="HAPPY_TEST_NATS_PASSWORD"),
             ("/nats", "password_env")),
            ("password variable unset",
             nats_config(servers=SERVERS, user="happy",
                         password_env="HAPPY_TEST_NATS_PASSWORD_UNSET"),
             ("/nats/password_env", "HAPPY_TEST_NATS_PASSWORD_UNSET")),
            ("user and token", nats_config(servers=SERVERS, token="t0ken", **user),
             ("/nats", "token")),
            ("credentials file unreadable",
             nats_config(servers=SERVERS, credentials_file=missing_file),
             ("/nats/credentials_file", missing_file)),
            ("CA file unreadable", nats_config(servers=SERVERS, tls={"ca_file": missing_file},
                                               **user),
             ("/nats/tls/ca_file", missing_file)),
            ("tls without ca_file", nats_config(servers=SERVERS, tls={}, **user), ("/nats/tls",)),
        ]
        for what, cfg, fragments in cases:
            with self.subTest(what):
                self.assert_invalid(cfg, *fragments)

        # The same shapes, valid.
        good = write_temp(json.dumps(nats_config(servers=SERVERS, replicas=5,
                                                 publish_timeout_ms=100, user="happy",
                                                 password_env="HAPPY_TEST_NATS_PASSWORD")))
        result = run_cli("--check-config", good, env={"HAPPY_TEST_NATS_PASSWORD": "secret"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), f"{good}: valid")

    def test_invalid_nats_section_stops_the_start(self):
        """The server refuses it too, before it listens (it does not wait for a server
        that can never answer)."""
        path = write_temp(json.dumps(nats_config(servers=["http://127.0.0.1:4222"],
                                                 user="happy", password="secret")))
        port = free_port()
        result = run_server_expecting_exit("--config", path, "--port", str(port))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(path, result.stderr)
        self.assertIn("/nats/servers/0", result.stderr)
        self.assertFalse(port_accepts(port), "a server is listening despite the bad config")

    def test_old_cluster_section_is_refused_at_start(self):
        """A config written for the removed peer cluster does not start a lone node by
        mistake: exit 2, and the message says where ("/cluster") and what to use ("nats")."""
        cfg = {"topics": {ORDERS: {}},
               "cluster": {"node": "a", "listen": "127.0.0.1:47101",
                           "peers": ["127.0.0.1:47102", "127.0.0.1:47103"]}}
        path = write_temp(json.dumps(cfg, indent=2))
        port = free_port()
        result = run_server_expecting_exit("--config", path, "--port", str(port))
        self.assertEqual(result.returncode, 2, f"stdout={result.stdout!r} stderr={result.stderr!r}")
        self.assertIn(path, result.stderr)
        self.assertIn("/cluster", result.stderr)
        self.assertIn("nats", result.stderr)
        self.assertFalse(port_accepts(port), "a server is listening despite the old section")
        checked = run_cli("--check-config", path)
        self.assertEqual(checked.returncode, 2, checked.stdout + checked.stderr)
        self.assertIn("/cluster", checked.stderr)
        self.assertIn("nats", checked.stderr)


def run_server_expecting_exit(*args, timeout=10):
    """Starts the server; it must exit by itself (killed after timeout)."""
    try:
        return run_cli(*args, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"happy-dashboard {' '.join(args)} kept running for {timeout} s; "
                             f"expected it to refuse the config and exit") from None


if __name__ == "__main__":
    unittest.main()
