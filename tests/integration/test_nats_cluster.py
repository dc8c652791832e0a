"""The three-node nats-server cluster the multi-node tests run on (nats_cluster.py), without
happy-dashboard: it starts on free ports with a meta leader, authenticates, elects a new
stream leader after a SIGKILL of the old one, keeps acknowledging with a follower paused,
comes back after a restart of one node or of all three, survives a port taken while it
starts, and leaves no process and no directory behind. About 20 s, most of it the whole
cluster's restart and the stream's failover.
"""

import os
import socket
import time
import unittest
from unittest import mock

import nats_cluster
from harness import HOST
from nats_cluster import MiniNats, NatsCluster, NatsError

STREAM = "HAPPY_selftest"
SUBJECT = "happy.t.selftest"
FAILOVER_WITHIN_S = 15.0  # measured 4.2-5.5 s for a stream leader's SIGKILL


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True  # stop() reaps what it ends, so a pid that answers is a process


def publish_until_acked(cluster, index, payload, within):
    """Publishes through node `index` until JetStream acks (a failover answers with no
    responders or nothing for a few seconds); returns the ack."""
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        try:
            with cluster.client(index, timeout=2.0) as nc:
                return nc.publish(SUBJECT, payload, timeout=2.0)
        except (NatsError, OSError) as e:
            last = e
            time.sleep(0.1)
    raise AssertionError(f"no ack within {within} s; last error {last!r}\n{cluster.log_tails()}")


class NatsClusterTest(unittest.TestCase):

    def start_cluster(self):
        cluster = NatsCluster()
        self.addCleanup(cluster.stop)
        return cluster

    def add_stream(self, cluster):
        with cluster.client() as nc:
            created = nc.add_stream(STREAM, [SUBJECT], replicas=3, timeout=10)
        self.assertEqual(created["config"]["num_replicas"], 3)

    def test_starts_on_free_ports_with_a_meta_leader_and_password(self):
        cluster = self.start_cluster()
        ports = [p for n in cluster.nodes for p in (n.client_port, n.route_port, n.http_port)]
        self.assertEqual(len(set(ports)), 9)
        self.assertEqual(cluster.names(), ["n1", "n2", "n3"])
        self.assertEqual(cluster.urls(), [f"nats://{HOST}:{n.client_port}" for n in cluster.nodes])
        self.assertIn(cluster.meta_leader(), cluster.names())
        self.assertGreaterEqual(len(cluster.password), 20)
        cfg = cluster.service_config()
        self.assertEqual((cfg["servers"], cfg["replicas"], cfg["user"]),
                         (cluster.urls(), 3, "happy"))
        for node in cluster.nodes:
            self.assertTrue(node.config_path.startswith(cluster.base_dir))
            with self.assertRaises(NatsError) as refused:
                MiniNats(HOST, node.client_port, "happy", "wrong", timeout=3).close()
            self.assertIn("Authorization Violation", str(refused.exception))
        with self.assertRaises(NatsError):
            MiniNats(HOST, cluster.nodes[0].client_port, timeout=3).close()  # no credentials
        with cluster.client(2) as nc:  # JetStream answers for the account the user is in
            self.assertEqual(nc.js_api("INFO")["streams"], 0)

    def test_stream_leader_killed_then_restarted(self):
        cluster = self.start_cluster()
        self.add_stream(cluster)
        first = publish_until_acked(cluster, 0, b"1", within=10)
        self.assertEqual(first["seq"], 1)
        leader = cluster.stream_leader_index(STREAM)
        survivor = (leader + 1) % 3
        killed_at = time.monotonic()
        cluster.kill(leader)
        self.assertFalse(cluster.nodes[leader].running())
        ack = publish_until_acked(cluster, survivor, b"2", within=FAILOVER_WITHIN_S)
        print(f"publish acked again {time.monotonic() - killed_at:.1f} s after the stream "
              f"leader's SIGKILL")
        self.assertEqual(ack["seq"], 2)
        new_leader = cluster.stream_leader(STREAM, timeout=5)
        self.assertIn(new_leader, cluster.names())
        self.assertNotEqual(new_leader, cluster.nodes[leader].name)

        cluster.restart(leader)
        deadline = time.monotonic() + 15
        while True:
            view = cluster.stream_info(STREAM).get(cluster.nodes[leader].name)
            if view and view["state"]["last_seq"] == 2:
                break
            self.assertLess(time.monotonic(), deadline, f"restarted node did not catch up: {view}")
            time.sleep(0.1)

    def test_paused_follower_does_not_stop_acks(self):
        cluster = self.start_cluster()
        self.add_stream(cluster)
        leader = cluster.stream_leader_index(STREAM)
        follower = (leader + 1) % 3
        cluster.pause(follower)
        self.assertTrue(cluster.nodes[follower].paused)
        ack = publish_until_acked(cluster, leader, b"while paused", within=5)
        self.assertEqual(ack["seq"], 1)
        # Monitoring skips the paused node instead of hanging on it.
        started = time.monotonic()
        self.assertEqual(cluster.stream_leader(STREAM), cluster.nodes[leader].name)
        self.assertNotIn(cluster.nodes[follower].name, cluster.stream_info(STREAM))
        self.assertLess(time.monotonic() - started, 3.0)
        cluster.resume(follower)
        self.assertFalse(cluster.nodes[follower].paused)
        publish_until_acked(cluster, follower, b"after", within=10)

    def test_whole_cluster_restarted_keeps_its_streams(self):
        cluster = self.start_cluster()
        self.add_stream(cluster)
        publish_until_acked(cluster, 0, b"kept", within=10)
        cluster.terminate_all()
        self.assertFalse(any(n.running() for n in cluster.nodes))
        with self.assertRaises(OSError):
            cluster.client(0, timeout=1)
        started = time.monotonic()
        cluster.start_all()
        print(f"whole cluster back (meta leader) in {time.monotonic() - started:.1f} s")
        ack = publish_until_acked(cluster, 1, b"again", within=20)
        self.assertEqual(ack["seq"], 2)

    def test_stop_leaves_nothing_behind(self):
        cluster = NatsCluster()
        try:
            pids = [n.proc.pid for n in cluster.nodes]
            cluster.pause(1)  # a stopped process must still end
            cluster.kill(2)
        finally:
            cluster.stop()
        cluster.stop()  # idempotent
        self.assertFalse(os.path.exists(cluster.base_dir))
        self.assertEqual([pid_alive(p) for p in pids], [False] * 3)
        self.assertNotIn(cluster, nats_cluster._live_clusters)

    def test_a_port_taken_while_starting_means_new_ports(self):
        taken = socket.socket()
        taken.bind((HOST, 0))
        taken.listen()
        self.addCleanup(taken.close)
        real = nats_cluster.distinct_free_ports
        calls = []

        def first_one_taken(n):
            ports = real(n)
            if not calls:
                ports[0] = taken.getsockname()[1]  # node n1's client port
            calls.append(ports)
            return ports
        with mock.patch.object(nats_cluster, "distinct_free_ports", first_one_taken):
            cluster = self.start_cluster()
        self.assertEqual(len(calls), 2)
        self.assertNotEqual(cluster.nodes[0].client_port, taken.getsockname()[1])
        self.assertIn(cluster.meta_leader(), cluster.names())

    def test_missing_nats_server_raises(self):
        with mock.patch.object(nats_cluster, "NATS_SERVER", "nats-server-not-installed"):
            with self.assertRaisesRegex(RuntimeError, "install-deps"):
                NatsCluster()


if __name__ == "__main__":
    unittest.main()
