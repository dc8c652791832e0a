"""The container test's cluster client: three happy-dashboard containers as one
cluster, reached through their published ports on 127.0.0.1.

usage: cluster_client.py PORT_A PORT_B PORT_C   (stdin: a line once the owner is killed)

Waits until every node sees all three up, publishes 20 values spread over the
nodes and checks that subscribers on all nodes get them with the same seqs.
Prints "OWNER <node>" and waits for a line on stdin: meanwhile the test kills
that node's container. Then checks that 20 more publishes through the two
survivors reach both, with seqs above the first 20. Exits non-zero on failure.
"""
import asyncio
import json
import sys
import time
import urllib.request

import websockets

ports = dict(zip("abc", map(int, sys.argv[1:4])))
AUTH = {"Authorization": "Bearer container-cluster-token"}


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
        return json.load(r)


def publish(port, value):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/topics/orders",
                                     data=json.dumps(value).encode(), headers=AUTH)
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.load(r)["seq"]


def all_up(nodes, within):
    deadline = time.monotonic() + within
    views = {}
    while True:
        try:
            views = {n: get(ports[n], "/cluster") for n in nodes}
            if all(sorted(m["node"] for m in v["members"] if m["state"] == "up") == sorted(nodes)
                   for v in views.values()):
                return views
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"cluster not up on {nodes} within {within} s: {views}")
        time.sleep(0.5)


async def receive(port, since, count, out):
    async with websockets.connect(f"ws://127.0.0.1:{port}/topics/orders?since={since}",
                                  open_timeout=10) as ws:
        while len(out) < count:
            envelope = json.loads(await asyncio.wait_for(ws.recv(), 15))
            out.append((envelope["seq"], envelope["orders"]))


async def check(publish_on, listen_on, first, count, since):
    got = {n: [] for n in listen_on}
    readers = [asyncio.ensure_future(receive(ports[n], since, count, got[n])) for n in listen_on]
    await asyncio.sleep(1)
    seqs = []
    for k in range(count):
        node = publish_on[k % len(publish_on)]
        seqs.append(await asyncio.to_thread(publish, ports[node], {"k": first + k}))
    await asyncio.wait_for(asyncio.gather(*readers), 30)
    lists = list(got.values())
    assert all(received == lists[0] for received in lists), got
    assert [s for s, _ in lists[0]] == seqs, (seqs, lists[0])
    assert [v for _, v in lists[0]] == [{"k": first + k} for k in range(count)], lists[0]
    return seqs


views = all_up("abc", 90)
owner = next(m["node"] for m in views["a"]["members"] if "orders" in m["owns"])
print(f"all three nodes up; owner of 'orders': {owner}")
seqs = asyncio.run(check("abc", "abc", 0, 20, 0))
print(f"20 publishes spread over a, b, c reached every node with seqs {seqs[0]}..{seqs[-1]}")
print(f"OWNER {owner}", flush=True)
survivors = [n for n in "abc" if n != owner]
sys.stdin.readline()  # the test kills the owner's container meanwhile
all_up(survivors, 30)
after = asyncio.run(check(survivors, survivors, 20, 20, seqs[-1]))
assert after[0] > seqs[-1], (seqs, after)
print(f"owner {owner} killed: 20 more publishes through {' and '.join(survivors)} reached both "
      f"with seqs {after[0]}..{after[-1]}")
