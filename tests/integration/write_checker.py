"""An acknowledged-write checker in the spirit of Jepsen, for the multi-node tests.

Publisher threads POST unique values to a topic through every service node and log each
attempt's outcome. After the fault has healed, every node's history of the topic is read
back (long-poll, since=0 and onwards) and the two are compared:

    checker = WriteChecker([Target("a", port_a), Target("b", port_b)], "orders", TOKEN)
    checker.start(); ...inject a fault...; checker.stop()
    result = checker.check(timeout=30)
    print(result.summary())
    self.assertEqual(result.anomalies(), {})

Outcome kinds. Only "acked" and "refused" are definite; the service may still have stored
a "failed" or "timeout" value (JetStream can apply a publish after the node gave up on
its ack), so each of those may appear once but never twice:
    acked    202 with a seq
    refused  4xx, or the connection was refused before anything was sent
    failed   5xx (e.g. 503: no quorum in time)
    timeout  no answer: the client timed out, or the connection dropped after sending

Anomalies counted by analyze() (all must be 0 for a correct cluster):
    lost          acked values missing from at least one node's history
    wrong_seq     acked values stored at a seq other than the acknowledged one
    acked_twice   values acknowledged with two different seqs (retries of one value)
    seq_reused    seqs acknowledged for two different values
    duplicated    values at two or more seqs in one node's history
    forked        seqs that hold different values on different nodes
    refused_present  definitely refused values that were stored anyway
    unexpected    values in a history that no publisher sent
    gaps          (node, seq) pairs missing between 1 and the highest seq any node has
    disorder      places where a node's history does not strictly increase in seq
duplicated_indeterminate (timed-out or failed values stored more than once) is the part of
`duplicated` the brief names separately; indeterminate_stored counts those stored once.
"""

import dataclasses
import http.client
import json
import secrets
import socket
import threading
import time

from harness import HOST
from netns import http_connection

ACKED, REFUSED, FAILED, TIMEOUT = "acked", "refused", "failed", "timeout"
INDETERMINATE = (FAILED, TIMEOUT)
EXAMPLES = 10  # per anomaly, in CheckResult.details


def canonical(value):
    """JSON with sorted keys: a value's identity, equal for equal values."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclasses.dataclass
class Target:
    """A service node as the checker reaches it. The port stays the node's across restarts
    (start its harness.Server with port=<the same>). netns: the network namespace the
    node runs in (netns.py); connections to it are then opened from inside it."""
    name: str
    port: int
    host: str = HOST
    netns: str = None

    @classmethod
    def of(cls, server, name):
        return cls(name, server.port, getattr(server, "host", HOST),
                   getattr(server, "netns", None))

    def connection(self, timeout):
        return http_connection(self.host, self.port, timeout, self.netns)


@dataclasses.dataclass
class Outcome:
    """One publish attempt."""
    value: object
    node: str
    kind: str
    seq: int = None
    status: int = None
    detail: str = ""
    started: float = 0.0   # seconds since the checker started
    finished: float = 0.0
    key: str = None        # the Idempotency-Key sent, if any
    duplicate: bool = False  # the answer said the key was seen before

    @property
    def value_id(self):
        return canonical(self.value)


@dataclasses.dataclass
class CheckResult:
    attempts: int = 0
    values: int = 0
    acked: int = 0
    refused: int = 0
    indeterminate: int = 0       # values whose every attempt failed or timed out
    indeterminate_stored: int = 0
    nodes_read: int = 0
    max_seq: int = 0
    incomplete_nodes: tuple = ()  # nodes whose read-back did not reach max_seq in time
    longest_ack_gap_s: float = 0.0  # the longest stretch with no ack, while publishing
    lost: int = 0
    wrong_seq: int = 0
    acked_twice: int = 0
    seq_reused: int = 0
    duplicated: int = 0
    duplicated_indeterminate: int = 0
    forked: int = 0
    refused_present: int = 0
    unexpected: int = 0
    gaps: int = 0
    disorder: int = 0
    kinds_by_node: dict = dataclasses.field(default_factory=dict)
    details: dict = dataclasses.field(default_factory=dict)

    ANOMALIES = ("lost", "wrong_seq", "acked_twice", "seq_reused", "duplicated",
                 "duplicated_indeterminate", "forked", "refused_present", "unexpected", "gaps",
                 "disorder")

    def anomalies(self):
        """{name: count} of the anomalies that occurred; {} when the run was clean."""
        return {name: getattr(self, name) for name in self.ANOMALIES if getattr(self, name)}

    @property
    def ok(self):
        return not self.anomalies() and not self.incomplete_nodes

    def summary(self):
        lines = [f"write checker: {self.attempts} attempts, {self.values} values: "
                 f"{self.acked} acked, {self.refused} refused, {self.indeterminate} indeterminate "
                 f"({self.indeterminate_stored} of them stored once); {self.nodes_read} nodes read "
                 f"up to seq {self.max_seq}; longest stretch without an ack "
                 f"{self.longest_ack_gap_s:.2f} s",
                 "  anomalies: " + ", ".join(f"{n} {getattr(self, n)}" for n in self.ANOMALIES)]
        if self.incomplete_nodes:
            lines.append(f"  read-back incomplete on: {', '.join(self.incomplete_nodes)}")
        for node, kinds in sorted(self.kinds_by_node.items()):
            counts = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
            lines.append(f"  via {node}: {counts}")
        for name, examples in self.details.items():
            if examples:
                lines.append(f"  e.g. {name}: {examples}")
        return "\n".join(lines)


def _add_example(details, name, example):
    examples = details.setdefault(name, [])
    if len(examples) < EXAMPLES:
        examples.append(example)


def analyze(outcomes, histories, incomplete=(), first_seq=1, known_values=True):
    """Compares publish outcomes with what each node holds.

    outcomes: Outcome objects (several per value when a value was retried).
    histories: {node name: [(seq, value), ...]} in the order the node answered.
    incomplete: names of nodes whose read-back stopped short (reported, and their missing
    tail counts as gaps). first_seq: the lowest seq every history should still hold.
    known_values False: the topic also holds values no publisher here sent (a generator
    topic), so `unexpected` and the value checks are skipped; seqs are still checked."""
    r = CheckResult(attempts=len(outcomes), nodes_read=len(histories),
                    incomplete_nodes=tuple(sorted(incomplete)))
    details = r.details

    by_value = {}
    for o in outcomes:
        by_value.setdefault(o.value_id, []).append(o)
        kinds = r.kinds_by_node.setdefault(o.node, {})
        kinds[o.kind] = kinds.get(o.kind, 0) + 1
    r.values = len(by_value)

    acked_seq = {}          # value id -> the seq it was acknowledged with
    acked_value_at = {}     # seq -> value id acknowledged there
    refused_ids, indeterminate_ids = set(), set()
    for vid, outs in by_value.items():
        seqs = sorted({o.seq for o in outs if o.kind == ACKED})
        if seqs:
            acked_seq[vid] = seqs[0]
            if len(seqs) > 1:
                r.acked_twice += 1
                _add_example(details, "acked_twice", (vid, seqs))
            for seq in seqs:
                other = acked_value_at.setdefault(seq, vid)
                if other != vid:
                    r.seq_reused += 1
                    _add_example(details, "seq_reused", (seq, other, vid))
        elif all(o.kind == REFUSED for o in outs):
            refused_ids.add(vid)
        else:
            indeterminate_ids.add(vid)
    r.acked, r.refused, r.indeterminate = len(acked_seq), len(refused_ids), len(indeterminate_ids)

    # Each node's history as seq -> value id, and value id -> seqs.
    seq_maps, value_seqs = {}, {}
    for node, history in histories.items():
        seq_map, where = {}, {}
        previous = None
        for seq, value in history:
            if previous is not None and seq <= previous:
                r.disorder += 1
                _add_example(details, "disorder", (node, previous, seq))
            previous = seq
            vid = canonical(value)
            if seq in seq_map and seq_map[seq] != vid:
                # The same seq twice in one node's answer, with two values: a fork inside it.
                r.forked += 1
                _add_example(details, "forked", (seq, {node: [seq_map[seq], vid]}))
            seq_map[seq] = vid
            where.setdefault(vid, set()).add(seq)
        seq_maps[node], value_seqs[node] = seq_map, where

    r.max_seq = max([s for m in seq_maps.values() for s in m] + list(acked_seq.values()) + [0])

    for node, seq_map in seq_maps.items():
        missing = [s for s in range(first_seq, r.max_seq + 1) if s not in seq_map]
        r.gaps += len(missing)
        if missing:
            _add_example(details, "gaps", (node, _ranges(missing)[:5]))

    all_seqs = sorted({s for m in seq_maps.values() for s in m})
    for seq in all_seqs:
        held = {node: m[seq] for node, m in seq_maps.items() if seq in m}
        if len(set(held.values())) > 1:
            r.forked += 1
            _add_example(details, "forked", (seq, held))

    if not known_values:
        r.details = {k: v for k, v in details.items() if v}
        return r

    for vid, seq in acked_seq.items():
        missing_on = [node for node, where in value_seqs.items() if vid not in where]
        if missing_on:
            r.lost += 1
            _add_example(details, "lost", (vid, seq, missing_on))
        elsewhere = {node: sorted(where[vid]) for node, where in value_seqs.items()
                     if vid in where and where[vid] != {seq}}
        if elsewhere:
            r.wrong_seq += 1
            _add_example(details, "wrong_seq", (vid, seq, elsewhere))

    stored_ids = set()
    for node, where in value_seqs.items():
        stored_ids.update(where)
    duplicated_ids = {vid for where in value_seqs.values() for vid, seqs in where.items()
                      if len(seqs) > 1}
    r.duplicated = len(duplicated_ids)
    r.duplicated_indeterminate = len(duplicated_ids & indeterminate_ids)
    for vid in sorted(duplicated_ids)[:EXAMPLES]:
        _add_example(details, "duplicated",
                     (vid, {n: sorted(w[vid]) for n, w in value_seqs.items() if vid in w}))
    r.indeterminate_stored = len((stored_ids & indeterminate_ids) - duplicated_ids)
    present_refused = stored_ids & refused_ids
    r.refused_present = len(present_refused)
    for vid in sorted(present_refused)[:EXAMPLES]:
        _add_example(details, "refused_present", vid)
    unexpected = stored_ids - set(by_value)
    r.unexpected = len(unexpected)
    for vid in sorted(unexpected)[:EXAMPLES]:
        _add_example(details, "unexpected", vid)

    ack_times = sorted(o.finished for o in outcomes if o.kind == ACKED)
    if outcomes:
        start = min(o.started for o in outcomes)
        end = max(o.finished for o in outcomes)
        edges = [start] + ack_times + [end]
        r.longest_ack_gap_s = max(b - a for a, b in zip(edges, edges[1:]))
    r.details = {k: v for k, v in details.items() if v}
    return r


def _ranges(seqs):
    """[3, 4, 5, 9] -> ["3-5", "9"]: gaps printed readably."""
    out, start, prev = [], None, None
    for s in seqs:
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = s
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return out


# -- talking to the service ------------------------------------------------------------

def post_value(target, topic, value, token, timeout, key=None):
    """One POST /topics/<topic>; returns (kind, seq, status, detail, duplicate)."""
    body = json.dumps(value).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    conn = target.connection(timeout)
    try:
        try:
            conn.connect()
        except OSError as e:
            # Nothing was sent: the value cannot have been stored.
            return REFUSED, None, None, f"connect: {e!r}", False
        try:
            conn.request("POST", f"/topics/{topic}", body=body, headers=headers)
            res = conn.getresponse()
            raw = res.read()
        except (socket.timeout, TimeoutError) as e:
            return TIMEOUT, None, None, f"no answer: {e!r}", False
        except (OSError, http.client.HTTPException) as e:
            # Sent, then the connection broke: the node may have stored it.
            return TIMEOUT, None, None, f"connection lost: {e!r}", False
    finally:
        conn.close()
    text = raw[:200].decode("utf-8", "replace")
    if res.status == 202:
        try:
            answer = json.loads(raw)
            return ACKED, int(answer["seq"]), 202, "", bool(answer.get("duplicate"))
        except (ValueError, KeyError, TypeError):
            return FAILED, None, 202, f"202 without a seq: {text}", False
    if 400 <= res.status < 500:
        return REFUSED, None, res.status, text, False
    return FAILED, None, res.status, text, False


def read_history(target, topic, until_seq, deadline, headers=None, request_timeout=5.0,
                 with_ts=False):
    """The node's history of the topic as [(seq, value)] ((seq, value, ts) with_ts), read
    with long-polls from since=0 until it holds until_seq or the deadline passes:
    (history, complete)."""
    history, since = [], 0
    while True:
        try:
            batch = _poll(target, topic, since, headers, request_timeout)
        except (OSError, http.client.HTTPException, ValueError, AssertionError):
            batch = None  # node down or busy: retry until the deadline
        # A since beyond the node's seq replays from its oldest envelope: nothing in that
        # answer is new, and we wait for the node to catch up.
        fresh = [(env["seq"], env[topic], env.get("ts")) if with_ts else (env["seq"], env[topic])
                 for env in batch or [] if env["seq"] > since]
        history.extend(fresh)
        if fresh:
            since = fresh[-1][0]
        if since >= until_seq:
            return history, True
        if time.monotonic() >= deadline:
            return history, False
        if not fresh:
            time.sleep(0.1)


def _poll(target, topic, since, headers, timeout):
    conn = target.connection(timeout)
    try:
        conn.request("GET", f"/topics/{topic}?poll=1&since={since}&timeout=0",
                     headers=headers or {})
        res = conn.getresponse()
        raw = res.read()
    finally:
        conn.close()
    if res.status != 200:
        raise AssertionError(f"long-poll on {target.name} answered {res.status}: {raw[:200]!r}")
    return json.loads(raw)


def topic_seq(target, topic, timeout=3.0):
    """The topic's seq in the node's GET /topics, or None (node down, topic unknown)."""
    conn = target.connection(timeout)
    try:
        conn.request("GET", "/topics")
        res = conn.getresponse()
        raw = res.read()
        if res.status != 200:
            return None
        return next((t["seq"] for t in json.loads(raw) if t.get("name") == topic), None)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()


def read_histories(targets, topic, until_seq=0, timeout=30.0, headers=None, with_ts=False):
    """Every target's history up to the highest seq any of them (or until_seq) named when
    the read began: ({node: history}, [nodes that did not get there in time]). Histories
    are cut at that seq, so a topic that keeps growing (a generator) compares fairly."""
    deadline = time.monotonic() + timeout
    seqs = [topic_seq(t, topic) for t in targets]
    until = max([s for s in seqs if s is not None] + [until_seq])
    histories, incomplete = {}, []
    for target in targets:
        history, complete = read_history(target, topic, until, deadline, headers,
                                         with_ts=with_ts)
        histories[target.name] = [entry for entry in history if entry[0] <= until]
        if not complete:
            incomplete.append(target.name)
    return histories, incomplete


class WriteChecker:
    """Publisher threads and the read-back. Writer w posts {"writer": w, "n": i} (i = 0, 1,
    ...) to targets[w % len(targets)], so every node gets writers. With retries, a value
    that failed, timed out or found its node unreachable goes to the next node with the
    same Idempotency-Key (at most `retries` more times)."""

    def __init__(self, targets, topic, token, writers=8, request_timeout=5.0, interval_s=0.0,
                 idempotency_keys=True, retries=0):
        if retries and not idempotency_keys:
            raise ValueError("retries without an Idempotency-Key may store a value twice")
        self.targets = list(targets)
        self.topic = topic
        self.token = token
        self.writers = writers
        self.request_timeout = request_timeout
        self.interval_s = interval_s
        self.idempotency_keys = idempotency_keys
        self.retries = retries
        self.run_id = secrets.token_hex(4)  # keys unique across runs on one stream
        self.outcomes = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._t0 = None

    def start(self):
        self._t0 = time.monotonic()
        self._threads = [threading.Thread(target=self._writer, args=(w,), daemon=True,
                                          name=f"writer-{w}") for w in range(self.writers)]
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        """Ends the writers after their current attempt (bounded by the request timeout)."""
        self._stop.set()
        bound = time.monotonic() + self.request_timeout * (self.retries + 1) * 2 + 5
        for t in self._threads:
            t.join(timeout=max(0.0, bound - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise AssertionError(f"writers still running after stop(): {alive}")

    def elapsed(self):
        return time.monotonic() - self._t0

    def _writer(self, w):
        n = 0
        while not self._stop.is_set():
            value = {"writer": w, "n": n}
            key = f"{self.run_id}-{w}-{n}" if self.idempotency_keys else None
            for attempt in range(self.retries + 1):
                target = self.targets[(w + attempt) % len(self.targets)]
                started = self.elapsed()
                kind, seq, status, detail, duplicate = post_value(
                    target, self.topic, value, self.token, self.request_timeout, key)
                with self._lock:
                    self.outcomes.append(Outcome(value, target.name, kind, seq, status, detail,
                                                 started, self.elapsed(), key, duplicate))
                unreachable = kind == REFUSED and status is None  # nothing sent: try the next
                if kind not in INDETERMINATE and not unreachable:
                    break  # retries of this value continue after stop(): they are bounded
            n += 1
            if kind == REFUSED and status is None:
                self._stop.wait(0.05)  # node down: do not spin on connection refused
            elif self.interval_s:
                self._stop.wait(self.interval_s)

    def acked_count(self):
        with self._lock:
            return sum(1 for o in self.outcomes if o.kind == ACKED)

    def wait_acked(self, count, timeout):
        """Until at least `count` acks in total (bounded); returns whether it got there."""
        deadline = time.monotonic() + timeout
        while self.acked_count() < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def check(self, read_targets=None, timeout=30.0, headers=None):
        """Reads every node's history back (after stop()) and analyzes it."""
        with self._lock:
            outcomes = list(self.outcomes)
        max_acked = max([o.seq for o in outcomes if o.kind == ACKED] + [0])
        histories, incomplete = read_histories(read_targets or self.targets, self.topic,
                                               max_acked, timeout, headers)
        return analyze(outcomes, histories, incomplete)
