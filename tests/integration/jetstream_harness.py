"""Shared pieces of the JetStream tests (test_jetstream*.py, issue #25): the config of a
service node against the NATS cluster of nats_cluster.py, small HTTP helpers, and
JetStreamTestCase, which gives every test its own three-node NATS cluster, starts the
service nodes s1..s3 against it, prints every log when a test fails, and runs the
acknowledged-write checker (write_checker.py) around one fault. Subclasses may place the
NATS cluster and the service nodes elsewhere (make_nats(), node_netns(): the partition
test runs them in network namespaces).

Service nodes end with SIGTERM and must exit 0 (harness.ServerTestCase); the ones a test
kills on purpose are marked so by Server.kill(). The NATS cluster is stopped after them.
"""

import asyncio
import contextlib
import json
import os
import sys
import time

from harness import (HOST, LeanWebSocket, ServerTestCase, die_with_parent, is_sanitizer_build,
                     signal_name)
from nats_cluster import NatsCluster
from write_checker import ACKED, Target, WriteChecker

SLOW = 2.0 if is_sanitizer_build() else 1.0  # timeouts are multiplied by this

TOKEN = "T0KEN-jetstream-test"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
ORDERS = "orders"   # publish-only
TICKS = "ticks"     # generator, every TICK_MS
TICK_MS = 100
NODE_NAMES = ("s1", "s2", "s3")  # service nodes; the NATS nodes are n1..n3
HISTORY = 200000    # limits.history: the read-back needs every reading of a run

PUBLISH_TIMEOUT_MS = 5000                 # nats.publish_timeout_ms in these tests
REQUEST_TIMEOUT_S = 8.0 * SLOW            # the checker's client timeout: above the publish timeout
READY_WITHIN_S = 30.0 * SLOW              # /readyz 200 after start (first stream creation included)
READ_BACK_WITHIN_S = 30.0 * SLOW
LEASE_TTL_S = 15.0                        # the contract's KV lease TTL
LEASE_MOVES_WITHIN_S = LEASE_TTL_S + 15.0 * SLOW
WRITERS = 8
WARM_UP_ACKS = 100


def forget_node_name_from_environment():
    """setUpModule of every JetStream test: HAPPY_NODE in the environment running the
    tests would name every node alike (--node wins, but a node started without it would
    not)."""
    os.environ.pop("HAPPY_NODE", None)


def stream_name(topic):
    return f"HAPPY_{topic}"


def node_config(nats_section, topics=None, interval_ms=TICK_MS):
    return {
        "server": {"host": "127.0.0.1", "shutdown_grace_ms": 1000},
        "publish": {"tokens": [TOKEN]},
        "limits": {"history": HISTORY},
        "topics": topics if topics is not None else {
            ORDERS: {},
            TICKS: {"generator": {"interval_ms": interval_ms, "distribution": "uniform",
                                  "min": 0, "max": 10}},
        },
        "nats": nats_section,
    }


def get_json(server, path, timeout=3.0 * SLOW):
    status, _, body = server.http(path, timeout=timeout)
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body


def post(server, topic, value, headers=None, timeout=REQUEST_TIMEOUT_S):
    """(status, parsed answer) of one POST with the publish token."""
    all_headers = dict(AUTH)
    all_headers.update(headers or {})
    status, _, raw = server.http(f"/topics/{topic}", method="POST", headers=all_headers,
                                 body=json.dumps(value).encode(), timeout=timeout)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def post_until_acked(server, topic, value, within, headers=None):
    """POSTs until 202 for at most `within` s (a timed-out try may still be stored: use an
    Idempotency-Key when that matters); returns the answer."""
    deadline = time.monotonic() + within
    last = None
    while True:
        try:
            status, answer = post(server, topic, value, headers, timeout=REQUEST_TIMEOUT_S)
            if status == 202:
                return answer
            last = (status, answer)
        except OSError as e:
            last = repr(e)
        if time.monotonic() >= deadline:
            raise AssertionError(f"POST {value} to {topic} on port {server.port} not acked "
                                 f"within {within} s; last answer {last}")
        time.sleep(0.2)


def wait_http(server, path, predicate, within, what):
    """Polls GET path until predicate(status, parsed body); returns them."""
    deadline = time.monotonic() + within
    last = None
    while True:
        try:
            last = get_json(server, path)
            if predicate(*last):
                return last
        except OSError as e:
            last = repr(e)
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {within} s on port {server.port}; "
                                 f"last GET {path}: {last}")
        time.sleep(0.1)


async def wait_until(predicate, timeout, interval=0.05):
    """Polls predicate() until true; returns whether it became true within timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
    return True


class LeanSubscriber:
    """A LeanWebSocket (harness) on one topic that keeps (seq, value) of every envelope
    in `received`, and the whole envelopes too when keep_envelopes is set."""

    def __init__(self, topic, keep_envelopes=False):
        self.topic = topic
        self.keep_envelopes = keep_envelopes
        self.received = []
        self.envelopes = []
        self.ws = None

    @classmethod
    async def open(cls, port, topic, query="", keep_envelopes=False, host=HOST):
        self = cls(topic, keep_envelopes)
        self.ws = await LeanWebSocket.open(port, f"/topics/{topic}{query}", on_text=self._on_text,
                                           timeout=10 * SLOW, host=host)
        return self

    def _on_text(self, payload):
        env = json.loads(payload)
        self.received.append((env["seq"], env[self.topic]))
        if self.keep_envelopes:
            self.envelopes.append(env)

    def seqs(self):
        return [s for s, _ in self.received]

    async def close(self):
        # A coroutine like the other subscribers' close(), so tests close any of them alike.
        if self.ws is not None:
            self.ws.abort()


def cluster_topic(view, topic):
    return next((t for t in (view or {}).get("topics") or [] if t.get("name") == topic), None)


def lease_holders(servers, topic):
    """{port: lease_holder} from each server's GET /cluster (None: no holder or no answer)."""
    out = {}
    for server in servers:
        try:
            status, view = get_json(server, "/cluster", timeout=2.0)
            entry = cluster_topic(view, topic) if status == 200 else None
            out[server.port] = entry and entry.get("lease_holder")
        except OSError:
            out[server.port] = None
    return out


class JetStreamTestCase(ServerTestCase):
    """A NATS cluster per test, and helpers to run service nodes against it."""

    def setUp(self):
        self.nats = self.make_nats()
        # Cleanups run last-in first-out: the service nodes (added later) get their SIGTERM
        # while NATS is still up; the NATS cluster goes after them.
        self.addCleanup(self.nats.stop)
        self.nodes = {}     # name -> current harness.Server
        self.servers = []   # every process started, for the logs

    def make_nats(self):
        """The NATS cluster of a test (setUp)."""
        return NatsCluster()

    def node_netns(self, name):
        """The network namespace service node `name` runs in (None: this one)."""
        return None

    @contextlib.contextmanager
    def logs_on_failure(self):
        try:
            yield
        except BaseException:
            for server in self.servers:
                with contextlib.suppress(Exception):
                    text = server.stderr().splitlines()
                    print(f"--- {server.label} ({process_state(server)}), last "
                          f"{min(40, len(text))} of {len(text)} lines:\n" + "\n".join(text[-40:]),
                          file=sys.stderr)
            with contextlib.suppress(Exception):
                print(self.nats.log_tails(), file=sys.stderr)
            raise

    def nats_section(self, **extra):
        return self.nats.service_config(replicas=3, publish_timeout_ms=PUBLISH_TIMEOUT_MS, **extra)

    def start_node(self, name, config=None, port="free", wait_ready=True):
        config = config or node_config(self.nats_section())
        namespace = self.node_netns(name)
        server = self.start_server(config, port=port, args=("--node", name),
                                   start_timeout=20.0 * SLOW, netns=namespace,
                                   preexec=die_with_parent if namespace else None)
        self.nodes[name] = server
        self.servers.append(server)
        if wait_ready:
            self.wait_ready(server)
        return server

    def start_nodes(self, config=None):
        # Start all, then wait: each node's first stream creation overlaps the others'.
        servers = [self.start_node(name, config, wait_ready=False) for name in NODE_NAMES]
        for server in servers:
            self.wait_ready(server)
        return servers

    def restart_node(self, name, config=None):
        """A node killed by the test, started again on the same port."""
        return self.start_node(name, config, port=self.nodes[name].port)

    def wait_ready(self, server, within=READY_WITHIN_S):
        wait_http(server, "/readyz", lambda status, _: status == 200, within, "/readyz 200")

    def targets(self, names=NODE_NAMES):
        return [Target.of(self.nodes[name], name) for name in names]

    def drive_writers(self, fault, retries=1):
        """Writers on every node; after WARM_UP_ACKS acks, fault() (which returns once the
        fault has healed), then writing until 50 more acks after healing and at least 3 s.
        Returns (checker, fault_at, healed_at), times in seconds of checker.elapsed()."""
        checker = WriteChecker(self.targets(), ORDERS, TOKEN, writers=WRITERS,
                               request_timeout=REQUEST_TIMEOUT_S, retries=retries)
        self.checker = checker  # fault() may watch the outcomes as they come
        checker.start()
        try:
            self.assertTrue(checker.wait_acked(WARM_UP_ACKS, 20 * SLOW),
                            f"not {WARM_UP_ACKS} acks before the fault: "
                            f"{checker.acked_count()}")
            fault_at = checker.elapsed()
            fault()
            healed_at = checker.elapsed()
            acked_when_healed = checker.acked_count()
            self.assertTrue(checker.wait_acked(acked_when_healed + 50, 30 * SLOW),
                            "publishing did not recover after the fault healed")
            time.sleep(max(0.0, healed_at + 3.0 - checker.elapsed()))
        finally:
            checker.stop()
        return checker, fault_at, healed_at

    def run_checker(self, fault, read_names=NODE_NAMES, retries=1):
        """drive_writers(fault), then the read-back of read_names, which must show no
        anomaly. Returns (result, checker, healed_at)."""
        checker, fault_at, healed_at = self.drive_writers(fault, retries)
        result = checker.check(self.targets(read_names), timeout=READ_BACK_WITHIN_S)
        acked_after = sum(1 for o in checker.outcomes if o.kind == ACKED and o.started > healed_at)
        print(f"\n{self.id()}: fault at {fault_at:.1f} s, healed at {healed_at:.1f} s, "
              f"{acked_after} acked after healing\n{result.summary()}")
        self.assertEqual(result.anomalies(), {}, result.summary())
        self.assertEqual(result.incomplete_nodes, (), result.summary())
        self.assertGreater(acked_after, 0)
        return result, checker, healed_at


def process_state(server):
    code = server.proc.poll()
    return "running" if code is None else f"exit {signal_name(code)}"
