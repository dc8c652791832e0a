"""Clustering under a real network partition: three nodes, each in its own network
namespace, joined by a bridge in the root namespace. The owner of a topic is cut off by
taking its bridge-side veth down (the process keeps running and keeps its connections;
only packets stop), then the link comes back.

What must hold (README, Clustering): the majority side notices the silent node by missed
heartbeats and publishes again through a new owner; the minority node keeps serving its own
side (no quorum: both sides assign seqs, the documented split brain); after the heal all
three nodes are up again and new seqs continue above everything either side assigned.

Needs root (CAP_NET_ADMIN) and iproute2's `ip`; otherwise the class is skipped. Every
namespace, veth and bridge is removed afterwards, also when the setup fails halfway.
The test process talks to the nodes over the bridge (10.213.X.0/24), and to the cut-off
node through a small client run inside its namespace.
"""

import asyncio
import atexit
import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from cluster_harness import (AUTH, ORDERS, REQUEST_TIMEOUT_S, SLOW, ClusterNodesTestCase,
                             LeanSubscriber, member_named, node_config, owner_of, post,
                             post_until_accepted, strictly_increasing_problems, wait_all_up,
                             wait_member_state, wait_until)
from harness import binary_path, port_accepts, run_async, sigterm_bound_s, write_temp

NAMES = ("a", "b", "c")
HTTP_PORT = 8080      # inside each namespace (each has its own port space)
CLUSTER_PORT = 4710

UP_WITHIN_S = 15.0 * SLOW                  # all nodes up after the start
RECOVER_WITHIN_S = 6.0 * SLOW              # majority publishes again after the cut
DOWN_WITHIN_S = 6.0 * SLOW                 # majority shows the victim down after the cut
HEAL_WITHIN_S = 15.0 * SLOW                # all up again after the link comes back
ATTEMPT_TIMEOUT_S = 1.0 * SLOW             # one publish attempt while the owner is silent
PRE_CUT_PUBLISHES = 5
PARTITION_PUBLISHES = 10                   # through the majority side
AFTER_HEAL_PUBLISHES = 10

IP = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")


class NetSetupError(Exception):
    pass


def ip(*args, check=True):
    result = subprocess.run([IP, *args], capture_output=True, text=True, timeout=15,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise NetSetupError(f"`ip {' '.join(args)}` exited {result.returncode}: "
                            f"{result.stderr.strip()}")
    return result


class Network:
    """A bridge in the root namespace (10.213.X.254/24) and one namespace per node, each
    with a veth pair: 10.213.X.k inside, the other end on the bridge. destroy() undoes
    whatever create() got done, in reverse order, and may be called more than once."""

    def __init__(self):
        self.undo = []  # argument lists for `ip`, run in reverse order
        existing_ns = ip("netns", "list").stdout
        for i in range(64):
            tag, x = (os.getpid() + i) % 10000, (os.getpid() + i) % 250 + 1
            prefix = f"hp{tag}"  # at most 6 characters + 2: within the 15 of IFNAMSIZ
            names = [f"{prefix}br"] + [f"{prefix}{side}{n}" for n in NAMES for side in "hn"]
            taken = any(ip("link", "show", "dev", name, check=False).returncode == 0
                        for name in names)
            taken = taken or any(f"{prefix}-{n}" in existing_ns.split() for n in NAMES)
            subnet = f"10.213.{x}.0/24"
            taken = taken or ip("-4", "route", "show", subnet).stdout.strip() != ""
            taken = taken or ip("-4", "addr", "show", "to", subnet).stdout.strip() != ""
            if not taken:
                break
        else:
            raise NetSetupError("no free interface names / 10.213.X.0/24 subnet found")
        self.bridge = f"{prefix}br"
        self.bridge_address = f"10.213.{x}.254"
        self.netns = {n: f"{prefix}-{n}" for n in NAMES}
        self.host_veth = {n: f"{prefix}h{n}" for n in NAMES}   # on the bridge
        self.ns_veth = {n: f"{prefix}n{n}" for n in NAMES}     # inside the namespace
        self.address = {n: f"10.213.{x}.{i + 1}" for i, n in enumerate(NAMES)}

    def create(self):
        ip("link", "add", self.bridge, "type", "bridge")
        self.undo.append(["link", "del", self.bridge])
        ip("addr", "add", f"{self.bridge_address}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for n in NAMES:
            ns = self.netns[n]
            ip("netns", "add", ns)
            self.undo.append(["netns", "del", ns])
            ip("link", "add", self.host_veth[n], "type", "veth", "peer", "name", self.ns_veth[n])
            self.undo.append(["link", "del", self.host_veth[n]])  # deletes the pair
            ip("link", "set", self.ns_veth[n], "netns", ns)
            ip("-n", ns, "addr", "add", f"{self.address[n]}/24", "dev", self.ns_veth[n])
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", ns, "link", "set", self.ns_veth[n], "up")
            ip("link", "set", self.host_veth[n], "master", self.bridge)
            ip("link", "set", self.host_veth[n], "up")

    def destroy(self):
        problems = []
        while self.undo:
            args = self.undo.pop()
            result = ip(*args, check=False)
            if result.returncode != 0 and "Cannot find" not in result.stderr \
                    and "No such" not in result.stderr:
                problems.append(f"ip {' '.join(args)}: {result.stderr.strip()}")
        return problems

    def cut(self, name):
        ip("link", "set", self.host_veth[name], "down")

    def heal(self, name):
        ip("link", "set", self.host_veth[name], "up")


class NsNode:
    """One node running inside its network namespace, reached over the bridge. Ended by
    ClusterNodesTestCase like a harness.Server (harness.close_servers)."""

    def __init__(self, name, netns, address, config):
        self.name, self.netns, self.address = name, netns, address
        self.config_path = write_temp(json.dumps(config, indent=1))
        self.grace_ms = config["server"]["shutdown_grace_ms"]
        self.proc = None
        self.log = tempfile.TemporaryFile(mode="w+b")
        self.stopped_by_test = False  # kill(): its exit status is not checked
        self.closed = False

    def start(self):
        env = dict(os.environ)
        env.pop("PORT", None)
        env.pop("HAPPY_NODE", None)
        # `ip netns exec` execs the command after entering the namespace: proc is the node.
        self.proc = subprocess.Popen(
            [IP, "netns", "exec", self.netns, binary_path(), "--config", self.config_path,
             "--port", str(HTTP_PORT)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 10 * SLOW
        while not port_accepts(HTTP_PORT, host=self.address):
            if self.proc.poll() is not None:
                self.stopped_by_test = True  # failed here: not again in the cleanup
                raise RuntimeError(f"node {self.name} exited with {self.proc.returncode}; "
                                   f"log:\n{self.log_text()}")
            if time.monotonic() >= deadline:
                self.kill()
                raise RuntimeError(f"node {self.name} not listening on {self.address}:"
                                   f"{HTTP_PORT} within {10 * SLOW} s; log:\n{self.log_text()}")
            time.sleep(0.05)
        return self

    # -- what harness.close_servers() needs -------------------------------------------

    @property
    def servers(self):
        return [self] if self.proc is not None else []

    @property
    def label(self):
        return f"node {self.name} (pid {self.proc.pid}, netns {self.netns})"

    def shutdown_bound_s(self):
        return sigterm_bound_s(self.grace_ms)

    def stderr(self):
        return self.log_text()

    def kill(self):
        self.stopped_by_test = True
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        if self.log is not None and (self.proc is None or self.proc.poll() is not None):
            self._log_text = self.log_text()
            self.log.close()
            self.log = None

    def log_text(self):
        if self.log is None:
            return self._log_text
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def log_tail(self, lines=60):
        text = self.log_text().splitlines()
        state = "running" if self.proc and self.proc.poll() is None else \
            f"exit {self.proc and self.proc.returncode}"
        return "\n".join([f"--- node {self.name} ({state}), last {min(lines, len(text))} of "
                          f"{len(text)} log lines:"] + text[-lines:])

    def http(self, path, method="GET", headers=None, body=None, timeout=REQUEST_TIMEOUT_S):
        """Like harness.Server.http (cluster_harness.post uses it), over the bridge:
        (status, headers dict with lower-case keys, body bytes)."""
        conn = http.client.HTTPConnection(self.address, HTTP_PORT, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            body = res.read()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, body
        finally:
            conn.close()

    def cluster(self, timeout=REQUEST_TIMEOUT_S):
        status, _, body = self.http("/cluster", timeout=timeout)
        if status != 200:
            raise AssertionError(f"GET /cluster on {self.name} answered {status}: {body[:300]!r}")
        return json.loads(body)

    def topic_seq(self, topic):
        status, _, body = self.http("/topics")
        if status != 200:
            raise AssertionError(f"GET /topics on {self.name} answered {status}: {body[:300]!r}")
        return next(t["seq"] for t in json.loads(body) if t["name"] == topic)


# Run inside the cut-off node's namespace: POST until 202 (or the deadline), then its view.
NS_CLIENT = r"""
import http.client, json, sys, time
a = json.loads(sys.argv[1])
def req(method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", a["port"], timeout=a["timeout"])
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        c.close()
t0 = time.monotonic()
deadline, tries, result, last = t0 + a["within"], 0, None, None
while True:
    tries += 1
    try:
        status, body = req("POST", "/topics/" + a["topic"], json.dumps(a["value"]), a["headers"])
        last = [status, body[:300]]
        if status == 202:
            result = json.loads(body)
            break
    except Exception as e:
        last = repr(e)
    if time.monotonic() >= deadline:
        break
    time.sleep(0.1)
elapsed = time.monotonic() - t0
try:
    view = json.loads(req("GET", "/cluster")[1])
except Exception as e:
    view = repr(e)
print(json.dumps({"result": result, "tries": tries, "last": last, "elapsed": elapsed,
                  "view": view}))
"""


class ClusterPartitionTest(ClusterNodesTestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (network namespaces, veth, bridge)")
        if IP is None:
            raise unittest.SkipTest("iproute2's `ip` not found")
        try:
            cls.net = Network()
        except (NetSetupError, OSError, subprocess.SubprocessError) as e:
            raise unittest.SkipTest(f"cannot use `ip` here: {e}")
        cls.addClassCleanup(cls.destroy_network)
        atexit.register(cls.net.destroy)  # if the class cleanup never runs (interrupted)
        try:
            cls.net.create()
        except (NetSetupError, OSError, subprocess.SubprocessError) as e:
            cls.net.destroy()
            raise unittest.SkipTest(f"cannot create network namespaces / veth / bridge "
                                    f"(no CAP_NET_ADMIN?): {e}")

    @classmethod
    def destroy_network(cls):
        problems = cls.net.destroy()
        if problems:
            print(f"\ncleanup of the partition test network: {problems}", file=sys.stderr)

    def start_nodes(self):
        net = self.net
        listens = [f"{net.address[n]}:{CLUSTER_PORT}" for n in NAMES]
        for n, listen in zip(NAMES, listens):
            # 0.0.0.0: reached over the bridge, and on 127.0.0.1 by NS_CLIENT.
            config = node_config(n, listen, listens, http_host="0.0.0.0")
            node = NsNode(n, net.netns[n], net.address[n], config)
            self.addCleanup(node.kill)  # test cleanups run before the class's network cleanup
            self.nodes.append(node)
        for node in self.nodes:
            node.start()
        return wait_all_up(self.nodes, UP_WITHIN_S)

    def run_in_netns(self, node, args, timeout):
        """The NS_CLIENT script inside node's namespace, against its 127.0.0.1."""
        result = subprocess.run(
            [IP, "netns", "exec", node.netns, "/usr/bin/python3", "-c", NS_CLIENT,
             json.dumps(args)], capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise AssertionError(f"client in namespace {node.netns} exited {result.returncode}: "
                                 f"{result.stderr}")
        return json.loads(result.stdout)

    def test_partition_and_heal(self):
        """Cut the owner of `orders` off the network: the majority publishes again within
        6 s and both its nodes deliver the same readings; the minority node still answers
        202 on its own (split brain); after the heal all three are up within 15 s and new
        seqs are above everything either side assigned, with the same readings everywhere."""
        with self.logs_on_failure():
            views = self.start_nodes()
            victim_name = owner_of(views["a"], ORDERS)
            victim = next(n for n in self.nodes if n.name == victim_name)
            majority = [n for n in self.nodes if n is not victim]
            net = self.net

            async def main():
                r = {}
                subs = [await LeanSubscriber.open(HTTP_PORT, ORDERS, "?since=0", host=n.address)
                        for n in majority]
                pre = []
                for k in range(PRE_CUT_PUBLISHES):
                    pre.append(await asyncio.to_thread(
                        post_until_accepted, self.nodes[k % 3], ORDERS, {"pre": k}, 5 * SLOW))
                r["pre_max"] = pre_max = max(pre)
                for node in self.nodes:  # replicated everywhere before the cut
                    seq = await asyncio.to_thread(node.topic_seq, ORDERS)
                    deadline = time.monotonic() + 5 * SLOW
                    while seq < pre_max and time.monotonic() < deadline:
                        await asyncio.sleep(0.05)
                        seq = await asyncio.to_thread(node.topic_seq, ORDERS)
                    self.assertGreaterEqual(seq, pre_max, f"{ORDERS} seq on node {node.name} "
                                                          f"before the cut")

                # -- the partition -------------------------------------------------------
                await asyncio.to_thread(net.cut, victim.name)
                t_cut = time.monotonic()

                def recover():
                    """Attempts (1 s each) alternating over the majority until one is 202."""
                    failures, k = [], 0
                    while True:
                        node = majority[k % 2]
                        t0 = time.monotonic()
                        try:
                            status, answer = post(node, ORDERS, {"part": k}, ATTEMPT_TIMEOUT_S)
                            if status == 202:
                                return k, node.name, answer["seq"], time.monotonic(), failures
                            failures.append((node.name, round(t0 - t_cut, 2), status, answer))
                        except OSError as e:
                            failures.append((node.name, round(t0 - t_cut, 2), repr(e)))
                        k += 1
                        if time.monotonic() - t_cut >= RECOVER_WITHIN_S:
                            raise AssertionError(
                                f"publishing {ORDERS} through the majority {[n.name for n in majority]} "
                                f"did not succeed within {RECOVER_WITHIN_S} s of cutting off "
                                f"{victim.name}; last failures {failures[-4:]}")
                        time.sleep(0.1)

                def seen_down():
                    wait_member_state(majority, victim.name, "down", DOWN_WITHIN_S)
                    return time.monotonic() - t_cut

                (k0, via, seq0, t_ok, failures), r["down_s"] = await asyncio.gather(
                    asyncio.to_thread(recover), asyncio.to_thread(seen_down))
                r["recover_s"], r["recover_failures"] = t_ok - t_cut, len(failures)
                acked = {seq0: {"part": k0}}  # seq -> value, majority side
                for k in range(k0 + 1, k0 + PARTITION_PUBLISHES):
                    seq = await asyncio.to_thread(post_until_accepted, majority[k % 2], ORDERS,
                                                  {"part": k}, 5 * SLOW)
                    self.assertNotIn(seq, acked, f"seq {seq} answered twice on the majority side")
                    acked[seq] = {"part": k}
                r["acked"] = acked

                # The minority node, from inside its namespace: it is alone but still serves.
                r["minority"] = await asyncio.to_thread(
                    self.run_in_netns, victim,
                    {"port": HTTP_PORT, "topic": ORDERS, "value": {"minority": 0},
                     "headers": AUTH, "timeout": ATTEMPT_TIMEOUT_S, "within": 8 * SLOW},
                    30 * SLOW)

                top = max(acked)
                await wait_until(lambda: all(s.received and s.received[-1][0] >= top
                                             for s in subs), 5 * SLOW)
                await asyncio.sleep(0.3)  # anything extra (duplicates) would arrive now
                r["during"] = [list(s.received) for s in subs]
                r["majority_views"] = {n.name: await asyncio.to_thread(n.cluster)
                                       for n in majority}

                # -- the heal ------------------------------------------------------------
                await asyncio.to_thread(net.heal, victim.name)
                t_heal = time.monotonic()
                r["healed_views"] = await asyncio.to_thread(wait_all_up, self.nodes,
                                                            HEAL_WITHIN_S)
                r["heal_s"] = time.monotonic() - t_heal

                assigned = {s for s, _ in r["during"][0] + r["during"][1] if s > pre_max}
                minority_seq = (r["minority"]["result"] or {}).get("seq")
                r["partition_max"] = since = max(assigned | set(acked) | {minority_seq or 0})
                fresh = [await LeanSubscriber.open(HTTP_PORT, ORDERS, f"?since={since}",
                                                   host=n.address) for n in self.nodes]
                after = {}
                for k in range(AFTER_HEAL_PUBLISHES):
                    seq = await asyncio.to_thread(post_until_accepted, self.nodes[k % 3], ORDERS,
                                                  {"after": k}, 5 * SLOW)
                    self.assertNotIn(seq, after, f"seq {seq} answered twice after the heal")
                    after[seq] = {"after": k}
                r["after"] = after
                top = max(after)
                await wait_until(lambda: all(s.received and s.received[-1][0] >= top
                                             for s in fresh), 5 * SLOW)
                await asyncio.sleep(0.3)
                r["fresh"] = [list(s.received) for s in fresh]
                r["majority_whole"] = [list(s.received) for s in subs]
                for s in subs + fresh:
                    await s.close()
                return r

            r = run_async(main(), 90 * SLOW)

            # -- report --------------------------------------------------------------------
            pre_max, acked, minority = r["pre_max"], r["acked"], r["minority"]
            minority_seq = (minority["result"] or {}).get("seq")
            majority_seqs = sorted({s for s, _ in r["during"][0] + r["during"][1] if s > pre_max}
                                   | set(acked))
            minority_seqs = [minority_seq] if minority_seq is not None else []
            overlap = sorted(set(majority_seqs) & set(minority_seqs))
            view = minority["view"] if isinstance(minority["view"], dict) else {}
            minority_view = ", ".join(f"{m.get('node')} {m.get('state')}"
                                      for m in view.get("members", []) if not m.get("self"))
            print(f"\npartition of {ORDERS} owner {victim.name}: majority publishes again after "
                  f"{r['recover_s']:.2f} s ({r['recover_failures']} failed attempts), victim seen "
                  f"down after {r['down_s']:.2f} s, all up {r['heal_s']:.2f} s after the heal; "
                  f"seqs during the partition: majority {majority_seqs}, minority {minority_seqs} "
                  f"(after {minority['elapsed']:.2f} s, {minority['tries']} tries; it sees "
                  f"{minority_view or minority['view']}); assigned on "
                  f"both sides: {len(overlap)} {overlap}; after the heal: {sorted(r['after'])}",
                  file=sys.stderr)

            # -- (1) the majority publishes again and sees the victim down ----------------
            self.assertLess(r["recover_s"], RECOVER_WITHIN_S)
            self.assertLess(r["down_s"], DOWN_WITHIN_S)
            for name, view in r["majority_views"].items():
                self.assertEqual(member_named(view, victim.name).get("state"), "down",
                                 f"view of {name} during the partition: {view}")
                self.assertIn(owner_of(view, ORDERS), {n.name for n in majority}, view)
            self.assertGreater(min(acked), pre_max, "seq went backwards on the majority side")

            # -- (2) both majority nodes deliver the same readings -------------------------
            for node, received in zip(majority, r["during"]):
                problems = strictly_increasing_problems([s for s, _ in received])
                self.assertFalse(problems, f"subscriber on {node.name}: seqs not strictly "
                                           f"increasing: {problems[:5]}")
                have = dict(received)
                for seq, value in acked.items():
                    self.assertEqual(have.get(seq), value,
                                     f"subscriber on {node.name}: seq {seq} answered 202")
            partition_part = [[(s, v) for s, v in received if s > pre_max]
                              for received in r["during"]]
            self.assertEqual(partition_part[0], partition_part[1],
                             f"majority nodes {majority[0].name} and {majority[1].name} delivered "
                             f"different readings during the partition")

            # -- (3) the minority node still serves its side (split brain) -----------------
            self.assertIsNotNone(minority_seq, f"the cut-off node {victim.name} did not answer "
                                               f"202 from inside its namespace: {minority}")
            self.assertGreater(minority_seq, pre_max, minority)

            # -- the heal: seqs never go backwards, every node delivers the same ----------
            before_heal = max(majority_seqs + minority_seqs)
            self.assertGreater(min(r["after"]), before_heal,
                               f"a seq answered after the heal ({sorted(r['after'])}) is not above "
                               f"every seq assigned during the partition (up to {before_heal})")
            for node, received in zip(self.nodes, r["fresh"]):
                problems = strictly_increasing_problems([s for s, _ in received])
                self.assertFalse(problems, f"fresh subscriber on {node.name}: {problems[:5]}")
                have = dict(received)
                for seq, value in r["after"].items():
                    self.assertEqual(have.get(seq), value, f"fresh subscriber on {node.name} "
                                                           f"(?since={r['partition_max']}): "
                                                           f"seq {seq}; got {received}")
                self.assertEqual(received, r["fresh"][0],
                                 f"nodes {self.nodes[0].name} and {node.name} delivered "
                                 f"different readings after the heal")

            for node, received in zip(majority, r["majority_whole"]):
                problems = strictly_increasing_problems([s for s, _ in received])
                self.assertFalse(problems, f"subscriber on {node.name} (open from before the cut "
                                           f"to after the heal): seqs not strictly increasing: "
                                           f"{problems[:5]}")


if __name__ == "__main__":
    unittest.main()
