"""The container test's cluster client: the service nodes and NATS servers of
docker/compose.cluster.yaml, running as containers (tests/container/compose_plan.py
wrote PLAN: container names, the service nodes' published ports on 127.0.0.1, their
environment). Kills containers itself with `podman kill` (SIGKILL).

usage: cluster_client.py PLAN

1. Waits until every node is ready and sees topic 'orders' as a stream with three
   replicas, all current.
2. Fan-out: 20 publishes spread over all nodes reach subscribers on every node,
   in order, with the seqs their 202 answers gave.
3. Resume: a dashboard (WebSocket) on the first node receives readings that a
   publisher posts through the other nodes; its node's container is killed; the
   dashboard reconnects to the next node with since=<last seq seen> and ends up
   with every acknowledged reading, each seq once, no gap.
4. NATS: the container of the stream leader of 'orders' is killed; 20 publishes
   through the surviving nodes are acknowledged (R3: two of three servers are a
   quorum) and reach subscribers on them, and the dashboard, with contiguous seqs;
   another server leads the stream.
Every publish carries an Idempotency-Key and is sent again on 503 (README
"Clustering"). Prints what it saw; exits non-zero on failure.
"""
import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import websockets

T0 = time.monotonic()
plan = json.load(open(sys.argv[1]))
nodes = [n for n in plan["order"] if plan["services"][n]["role"] == "service"]
servers = [n for n in plan["order"] if plan["services"][n]["role"] == "nats"]
port = {n: plan["services"][n]["ports"]["8080"]["test"] for n in nodes}
token = plan["services"][nodes[0]]["environment"]["HAPPY_PUBLISH_TOKENS"].split(",")[0]
# A NATS server's name is its host name (docker/nats/entrypoint.sh); map it to its service.
server_of_name = {plan["services"][n]["environment"].get("NATS_SERVER_NAME", plan["services"][n]["hostname"]): n
                  for n in servers}
TOPIC = "orders"


def log(message):
    print(f"[{time.monotonic() - T0:5.1f} s] {message}", flush=True)


def fail(message):
    log(f"FAIL: {message}")
    sys.exit(1)


def get(node, path, timeout=3):
    with urllib.request.urlopen(f"http://127.0.0.1:{port[node]}{path}", timeout=timeout) as r:
        return json.load(r)


def kill(service):
    container = plan["services"][service]["container"]
    result = subprocess.run(["podman", "kill", container], capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"podman kill {container}: {result.stderr.strip()}")


def stream_view(node):
    cluster = get(node, "/cluster")
    topic = next((t for t in cluster.get("topics", []) if t["name"] == TOPIC), None)
    return cluster, topic


def wait_ready(on, within, servers_up):
    """Until every node in `on` is ready, connected to NATS, and sees the stream led by
    one of `servers_up` with the others as current replicas."""
    deadline, last = time.monotonic() + within, None
    while True:
        try:
            views = {}
            for node in on:
                get(node, "/readyz")
                cluster, topic = stream_view(node)
                views[node] = (cluster.get("nats"), topic)
            if all(nats and nats.get("connected") and topic and topic.get("leader") in server_of_name
                   and server_of_name[topic["leader"]] in servers_up
                   and sorted([server_of_name.get(r["name"], r["name"]) for r in topic["replicas"] if r["current"]]
                              + [server_of_name[topic["leader"]]]) == sorted(servers_up)
                   for nats, topic in views.values()):
                return views
            last = views
        except (OSError, ValueError) as e:
            last = repr(e)
        if time.monotonic() > deadline:
            fail(f"not ready on {on} within {within} s (want stream {TOPIC} on {servers_up}): {last}")
        time.sleep(0.5)


def publish(node, value, key, within=30):
    """POST value to TOPIC on node with Idempotency-Key key; sent again (same key) on 503
    or a lost answer. Returns (seq, tries, seconds)."""
    start, tries = time.monotonic(), 0
    request = urllib.request.Request(f"http://127.0.0.1:{port[node]}/topics/{TOPIC}", data=json.dumps(value).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})
    while True:
        tries += 1
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                if r.status != 202:
                    fail(f"publish to {node}: {r.status}")
                return json.load(r)["seq"], tries, time.monotonic() - start
        except urllib.error.HTTPError as e:
            if e.code != 503:
                fail(f"publish to {node}: {e.code} {e.read()[:200]!r}")
            problem = f"503 {e.read()[:100]!r}"
        except OSError as e:
            problem = repr(e)
        if time.monotonic() - start > within:
            fail(f"publish to {node} not acknowledged within {within} s ({tries} tries, last: {problem})")
        time.sleep(0.3)


class Reader:
    """A WebSocket subscriber to TOPIC from `since`, moving to the next node of `nodes`
    (with since=<last seq seen>) when its node goes away."""

    def __init__(self, nodes, since):
        self.nodes, self.since, self.got, self.moves = list(nodes), since, [], []
        self.task = asyncio.ensure_future(self.run())

    async def run(self):
        while True:
            node = self.nodes[0]
            since = self.got[-1][0] if self.got else self.since
            try:
                async with websockets.connect(f"ws://127.0.0.1:{port[node]}/topics/{TOPIC}?since={since}",
                                              open_timeout=10, ping_interval=2, ping_timeout=4) as ws:
                    async for message in ws:
                        envelope = json.loads(message)
                        self.got.append((envelope["seq"], envelope[TOPIC], node))
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as e:
                reason = repr(e)
            else:
                reason = "closed"
            if len(self.nodes) == 1:
                fail(f"reader on {node} lost its connection ({reason}) with no node left")
            resume = self.got[-1][0] if self.got else self.since
            self.moves.append((time.monotonic(), node, self.nodes[1], resume, reason))
            self.nodes.pop(0)

    async def until(self, seq, within):
        deadline = time.monotonic() + within
        while not self.got or self.got[-1][0] < seq:
            if self.task.done():
                self.task.result()
            if time.monotonic() > deadline:
                fail(f"reader on {self.nodes[0]}: up to seq {self.got[-1][0] if self.got else None} "
                     f"within {within} s, want {seq}")
            await asyncio.sleep(0.05)

    def check(self, acked, first, last, who):
        """Exactly the acknowledged readings first..last, each seq once."""
        seqs = [s for s, _, _ in self.got if first <= s <= last]
        if seqs != list(range(first, last + 1)):
            missing = sorted(set(range(first, last + 1)) - set(seqs))
            twice = sorted({s for s in seqs if seqs.count(s) > 1})
            fail(f"{who}: seqs {first}..{last} not each once in order: missing {missing[:20]}, twice {twice[:20]}, "
                 f"got {seqs[:10]}...{seqs[-10:]}")
        for s, value, node in self.got:
            if first <= s <= last and acked.get(s) != value:
                fail(f"{who}: seq {s} is {value} on {node}, its publish was answered for {acked.get(s)}")
        if any(s > last for s, _, _ in self.got) or any(b <= a for (a, _, _), (b, _, _) in zip(self.got, self.got[1:])):
            fail(f"{who}: seqs not strictly increasing: {[s for s, _, _ in self.got][-30:]}")

    def stop(self):
        self.task.cancel()


def topic_seq(node):
    return next(t["seq"] for t in get(node, "/topics") if t["name"] == TOPIC)


async def publish_all(values, through, run):
    """Publishes values round-robin through `through`; returns {seq: value} and the slowest."""
    acked, slowest = {}, (0, 0, None)
    for k, value in enumerate(values):
        node = through[k % len(through)]
        seq, tries, secs = await asyncio.to_thread(publish, node, value, f"{run}-{k}")
        if seq in acked:
            fail(f"seq {seq} answered twice: {acked[seq]} and {value}")
        acked[seq] = value
        slowest = max(slowest, (secs, tries, node))
    return acked, slowest


async def main():
    run = uuid.uuid4().hex[:8]
    views = await asyncio.to_thread(wait_ready, nodes, 120, servers)
    leader = views[nodes[0]][1]["leader"]
    log(f"nodes {', '.join(nodes)} ready; stream HAPPY_{TOPIC} on {', '.join(servers)}, leader {leader}")

    # 2. Fan-out through every node to every node.
    since = topic_seq(nodes[0])
    readers = {n: Reader([n], since) for n in nodes}
    acked, _ = await publish_all([{"k": k} for k in range(20)], nodes, run + "-fan")
    seqs = sorted(acked)
    if seqs != list(range(since + 1, since + 21)):
        fail(f"20 publishes answered with seqs {seqs}, want {since + 1}..{since + 20}")
    for n, reader in readers.items():
        await reader.until(seqs[-1], 15)
        reader.check(acked, seqs[0], seqs[-1], f"subscriber on {n}")
        reader.stop()
    log(f"20 publishes spread over {', '.join(nodes)} reached every node with seqs {seqs[0]}..{seqs[-1]}")

    # 3. A dashboard's node dies: it resumes on the next one with since= and misses nothing.
    victim, survivors = nodes[0], nodes[1:]
    since = seqs[-1]
    dashboard = Reader(nodes, since)
    all_acked = dict(acked)
    stop = asyncio.Event()

    async def publisher(name, through, pause):
        k = 0
        while not stop.is_set():
            seq, tries, secs = await asyncio.to_thread(publish, through[k % len(through)],
                                                       {"p": name, "k": k}, f"{run}-{name}-{k}")
            if seq in all_acked:
                fail(f"seq {seq} answered twice: {all_acked[seq]} and {name} {k}")
            all_acked[seq] = {"p": name, "k": k}
            k += 1
            await asyncio.sleep(pause)
        return k

    pub = asyncio.ensure_future(publisher("resume", survivors, 0.05))
    while len(dashboard.got) < 10:
        if pub.done():
            pub.result()
        await asyncio.sleep(0.05)
        if time.monotonic() - T0 > 200:
            fail("the dashboard got no readings")
    kill(victim)
    killed_at, seen_before = time.monotonic(), len(dashboard.got)
    log(f"dashboard on {victim} had {seen_before} readings (up to seq {dashboard.got[-1][0]}); "
        f"killed {plan['services'][victim]['container']} (SIGKILL)")
    while not dashboard.moves:
        if dashboard.task.done():
            dashboard.task.result()
        if time.monotonic() - killed_at > 20:
            fail(f"the dashboard did not notice within 20 s that {victim} is gone")
        await asyncio.sleep(0.05)
    await asyncio.sleep(2)  # keeps publishing while the dashboard is on its new node
    stop.set()
    count = await asyncio.wait_for(pub, 40)
    last = max(all_acked)
    await dashboard.until(last, 20)
    dashboard.check(all_acked, since + 1, last, "dashboard")
    moved_at, old, new, resumed_since, reason = dashboard.moves[0]
    on_old = sum(1 for _, _, n in dashboard.got if n == old)
    log(f"dashboard noticed after {moved_at - killed_at:.2f} s ({reason}), reconnected to {new} with "
        f"since={resumed_since}: {len(dashboard.got)} readings, seqs {since + 1}..{last} each once, "
        f"{on_old} from {old}, {len(dashboard.got) - on_old} from {new}; {count} publishes through "
        f"{' and '.join(survivors)} meanwhile, none refused")
    await asyncio.to_thread(wait_ready, survivors, 30, servers)

    # 4. The stream leader's NATS server dies: two of three still make a quorum.
    _, topic = stream_view(survivors[0])
    leader = server_of_name[topic["leader"]]
    kill(leader)
    log(f"killed NATS server {leader} ({plan['services'][leader]['container']}), the leader of HAPPY_{TOPIC}")
    since = last
    readers = {n: Reader([n], since) for n in survivors}
    acked, (slow_secs, slow_tries, slow_node) = await publish_all([{"after": k} for k in range(20)], survivors,
                                                                  run + "-r3")
    all_acked.update(acked)
    seqs = sorted(acked)
    if seqs != list(range(since + 1, since + 21)):
        fail(f"20 publishes after the NATS kill answered with seqs {seqs}, want {since + 1}..{since + 20}")
    for n, reader in readers.items():
        await reader.until(seqs[-1], 20)
        reader.check(acked, seqs[0], seqs[-1], f"subscriber on {n}")
        reader.stop()
    await dashboard.until(seqs[-1], 20)
    dashboard.check(all_acked, dashboard.since + 1, seqs[-1], "dashboard")
    dashboard.stop()
    rest = [s for s in servers if s != leader]
    views = await asyncio.to_thread(wait_ready, survivors, 30, rest)
    log(f"20 publishes through {' and '.join(survivors)} acknowledged with seqs {seqs[0]}..{seqs[-1]} "
        f"(slowest {slow_secs:.2f} s, {slow_tries} tries, through {slow_node}: the election), reached "
        f"{', '.join(survivors)} and the dashboard; HAPPY_{TOPIC} now led by "
        f"{views[survivors[0]][1]['leader']} with {len(rest)} of 3 replicas current")


asyncio.run(asyncio.wait_for(main(), 300))
