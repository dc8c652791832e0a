"""Shared pieces of the cluster tests (test_cluster on loopback, test_cluster_partition in
network namespaces): the config of a node, reading GET /cluster views, waiting for the
membership to settle, publishing with retries, and a subscriber that keeps what it got.

A "node" here is whatever the test file runs a cluster member as; the helpers only need
its `name`, `cluster(timeout=...)` (GET /cluster, parsed) and `http()` with the signature
and answer of harness.Server.http, so that post() serves nodes and plain Servers alike.
ClusterNodesTestCase also needs its `servers`: the processes started for it, each what
harness.close_servers() takes (a harness.Server, or alike).
"""

import asyncio
import contextlib
import json
import sys
import time
import unittest

from harness import HOST, LeanWebSocket, close_servers, is_sanitizer_build

TOKEN = "T0KEN-cluster-test"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
ORDERS = "orders"  # publish-only
TICKS = "ticks"    # generator
TOPICS = (ORDERS, TICKS)

SANITIZER = is_sanitizer_build()
SLOW = 2.0 if SANITIZER else 1.0  # timeouts are multiplied by this
# One GET /cluster or publish attempt while polling: a node that is down or silent must
# cost a bounded slice of the caller's overall deadline.
REQUEST_TIMEOUT_S = 2.0 * SLOW


def node_config(name, listen, peers, interval_ms=200, history=5000, http_host=HOST):
    """A node serving ORDERS (publish-only) and TICKS (a generator every interval_ms).
    name None leaves cluster.node out (the name then comes from --node or HAPPY_NODE)."""
    cfg = {
        "server": {"host": http_host, "shutdown_grace_ms": 1000},
        "publish": {"tokens": [TOKEN]},
        "limits": {"history": history},
        "topics": {
            ORDERS: {},
            TICKS: {"generator": {"interval_ms": interval_ms, "distribution": "uniform",
                                  "min": 0, "max": 10}},
        },
        "cluster": {"listen": listen, "peers": list(peers)},
    }
    if name is not None:
        cfg["cluster"]["node"] = name
    return cfg


# -- GET /cluster views ---------------------------------------------------------

def owners_in(view, topics=TOPICS):
    """topic -> [names of the members this view says own it]."""
    out = {t: [] for t in topics}
    for member in view.get("members", []):
        for topic in member.get("owns") or []:
            if topic in out:
                out[topic].append(member.get("node"))
    return out


def owner_of(view, topic):
    names = owners_in(view, (topic,))[topic]
    if len(names) != 1:
        raise AssertionError(f"{topic!r} must have exactly one owner, GET /cluster: {view}")
    return names[0]


def member_named(view, name):
    return next((m for m in view.get("members", []) if m.get("node") == name), None)


def canonical(value):
    """JSON with sorted keys: equal values compare equal as text (and are hashable)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def strictly_increasing_problems(seqs):
    """Descriptions of the places where seqs do not strictly increase (duplicates, reorders)."""
    return [f"{a} then {b} at index {i}" for i, (a, b) in enumerate(zip(seqs, seqs[1:])) if b <= a]


def wait_all_up(nodes, timeout):
    """Until every node's GET /cluster says: itself up, exactly these nodes as members,
    all up, each topic owned by exactly one of them, and the same owners as every
    other node's view. Returns {node name: view}."""
    expected = {n.name for n in nodes}
    deadline = time.monotonic() + timeout
    while True:
        views, problems = {}, []
        for node in nodes:
            try:
                view = views[node.name] = node.cluster(timeout=REQUEST_TIMEOUT_S)
            except (OSError, AssertionError, ValueError) as e:
                problems.append(f"{node.name}: GET /cluster failed: {e!r}")
                continue
            members = view.get("members") or []
            up = {m.get("node") for m in members if m.get("state") == "up"}
            if view.get("state") != "up":
                problems.append(f"{node.name}: state {view.get('state')!r}")
            elif up != expected or len(members) != len(nodes):
                problems.append(f"{node.name}: members {members}")
            elif any(len(o) != 1 for o in owners_in(view).values()):
                problems.append(f"{node.name}: owners {owners_in(view)}")
        if not problems:
            if len({canonical(owners_in(v)) for v in views.values()}) == 1:
                return views
            problems.append("nodes disagree on owners: " + "; ".join(
                f"{name}: {owners_in(v)}" for name, v in views.items()))
        if time.monotonic() >= deadline:
            raise AssertionError(f"not all of {sorted(expected)} up everywhere within {timeout} s: "
                                 + " | ".join(problems) + f"\nlast views: {json.dumps(views)}")
        time.sleep(0.1)


def wait_member_state(observers, name, state, timeout):
    """Until GET /cluster on every observer shows member `name` in `state`."""
    deadline = time.monotonic() + timeout
    while True:
        seen = {}
        for node in observers:
            try:
                member = member_named(node.cluster(timeout=REQUEST_TIMEOUT_S), name)
                seen[node.name] = member and member.get("state")
            except (OSError, AssertionError, ValueError) as e:
                seen[node.name] = repr(e)
        if all(s == state for s in seen.values()):
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"member {name!r} not {state!r} on every node within "
                                 f"{timeout} s: {seen}")
        time.sleep(0.1)


# -- publishing and subscribing -------------------------------------------------

def post(server, topic, value, timeout=5.0):
    """Blocking POST of one JSON value with the publish token: (status, parsed answer,
    or the raw body when it is not JSON). server: a harness.Server or a node."""
    status, _, raw = server.http(f"/topics/{topic}", method="POST", headers=AUTH,
                                 body=json.dumps(value).encode(), timeout=timeout)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def post_until_accepted(node, topic, value, within, attempt_timeout=REQUEST_TIMEOUT_S):
    """POSTs until 202 (retrying failures) for at most `within` s; returns the seq.
    A timed-out attempt may still have been accepted: the value can then appear twice."""
    deadline = time.monotonic() + within
    last = None
    while True:
        try:
            status, answer = post(node, topic, value, timeout=attempt_timeout)
            if status == 202:
                return answer["seq"]
            last = (status, answer)
        except OSError as e:
            last = repr(e)
        if time.monotonic() >= deadline:
            raise AssertionError(f"publishing {value} to {topic} on node {node.name} did not "
                                 f"succeed within {within} s; last answer {last}")
        time.sleep(0.1)


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


async def wait_until(predicate, timeout, interval=0.05):
    """Polls predicate() until true; returns whether it became true within timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)
    return True


class ClusterNodesTestCase(unittest.TestCase):
    """A TestCase whose nodes (self.nodes, each with log_tail()) print the tail of their
    logs when a test fails inside `with self.logs_on_failure():`. After the test every
    node gets SIGTERM and must exit 0 with no sanitizer report in its log."""

    def setUp(self):
        self.nodes = []

    def tearDown(self):
        # Before the cleanups, which SIGKILL whatever is left (and LeakSanitizer never runs).
        close_servers([s for node in self.nodes for s in node.servers])

    @contextlib.contextmanager
    def logs_on_failure(self):
        """On any exception, print the tail of every node's log, then re-raise."""
        try:
            yield
        except BaseException:
            for node in self.nodes:
                with contextlib.suppress(Exception):
                    print(node.log_tail(), file=sys.stderr)
            raise
