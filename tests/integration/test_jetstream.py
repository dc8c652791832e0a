"""Multi-node mode on NATS JetStream (config key `nats`, issue #25): three service nodes
against a real three-node nats-server cluster on loopback (nats_cluster.py, set up by
jetstream_harness.JetStreamTestCase).

Every node publishes into and follows the same per-topic streams, so: a publish through
any node is acknowledged with the stream's seq, and every subscriber on every node gets
every reading once, in order, without gaps; GET /cluster agrees with NATS about the
stream; a topic made on one node shows up on the others; an Idempotency-Key is stored
once cluster-wide; /readyz follows the NATS connection; bad NATS credentials stop a node
at start (exit 2). The generator and the fault tests are in test_jetstream_*.py.
"""

import asyncio
import json
import threading
import time

from harness import HttpStream, free_port, run_async, run_cli, write_temp
from jetstream_harness import (NODE_NAMES, ORDERS, PUBLISH_TIMEOUT_MS, SLOW, JetStreamTestCase,
                               LeanSubscriber, cluster_topic, forget_node_name_from_environment,
                               get_json, node_config, post, post_until_acked, stream_name,
                               wait_http, wait_until)
from write_checker import read_histories


def setUpModule():
    forget_node_name_from_environment()


class JetStreamBasicsTest(JetStreamTestCase):

    def test_publishes_through_every_node_reach_every_subscriber_in_one_order(self):
        count = 300
        with self.logs_on_failure():
            servers = self.start_nodes()

            async def main():
                subscribers = [await LeanSubscriber.open(s.port, ORDERS, "?since=0")
                               for s in servers]
                ndjson = await HttpStream.open(servers[1].port, f"/topics/{ORDERS}?since=0",
                                               timeout=10 * SLOW)
                try:
                    acked = {}  # seq -> value
                    lock = threading.Lock()

                    def publish_through(i):
                        for n in range(i, count, len(servers)):
                            value = {"n": n}
                            # A retried try that was stored after all must not count twice.
                            answer = post_until_acked(servers[i], ORDERS, value, 20 * SLOW,
                                                      {"Idempotency-Key": f"fanout-{n}"})
                            with lock:
                                self.assertNotIn(answer["seq"], acked,
                                                 f"seq {answer['seq']} acked twice")
                                acked[answer["seq"]] = value
                    await asyncio.gather(*(asyncio.to_thread(publish_through, i)
                                           for i in range(len(servers))))
                    self.assertEqual(sorted(acked), list(range(1, count + 1)))
                    streamed = await ndjson.read_envelopes(count, timeout=20 * SLOW)
                    await wait_until(lambda: all(len(s.received) >= count for s in subscribers),
                                     20 * SLOW)
                    return acked, subscribers, streamed
                finally:
                    ndjson.close()
                    for s in subscribers:
                        await s.close()

            acked, subscribers, streamed = run_async(main(), 80 * SLOW)
            expected = [(seq, acked[seq]) for seq in sorted(acked)]
            for name, sub in zip(NODE_NAMES, subscribers):
                self.assertEqual(sub.received, expected,
                                 f"WebSocket on {name}: {len(sub.received)} readings")
            self.assertEqual([(e["seq"], e[ORDERS]) for e in streamed], expected, "NDJSON on s2")

            # GET /cluster agrees with NATS's own monitoring about the stream.
            nats_leader = self.nats.stream_leader(stream_name(ORDERS), timeout=5)
            for name, server in zip(NODE_NAMES, servers):
                status, view = get_json(server, "/cluster")
                self.assertEqual(status, 200)
                self.assertEqual((view["enabled"], view["engine"], view["node"]),
                                 (True, "jetstream", name), view)
                self.assertTrue(view["nats"]["connected"], view)
                self.assertIn(view["nats"]["url"], self.nats.urls())
                entry = cluster_topic(view, ORDERS)
                self.assertIsNotNone(entry, view)
                self.assertEqual((entry["stream"], entry["last_seq"]),
                                 (stream_name(ORDERS), count), entry)
                self.assertEqual(entry["leader"], nats_leader, entry)
                self.assertEqual(len(entry["replicas"]), 2, entry)  # R3: two besides the leader
                self.assertEqual(server.topic(ORDERS)["seq"], count)
            # Every NATS node holds a replica with all of it (followers apply just after the ack).
            deadline = time.monotonic() + 10 * SLOW
            while True:
                held = {n: v and v["state"]["last_seq"]
                        for n, v in self.nats.stream_info(stream_name(ORDERS)).items()}
                if held == {n: count for n in self.nats.names()} or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(held, {n: count for n in self.nats.names()})

    def test_topic_created_on_one_node_appears_on_the_others(self):
        topic = "created_later"
        with self.logs_on_failure():
            s1, s2, s3 = self.start_nodes()
            self.assertNotIn(topic, [t["name"] for t in s3.topics()])
            answer = post_until_acked(s1, topic, {"hello": 1}, 10 * SLOW,
                                      {"Idempotency-Key": "hello-1"})
            self.assertEqual(answer["seq"], 1)
            for server in (s2, s3):
                server.wait_for(lambda ts: any(t["name"] == topic and t["seq"] == 1 for t in ts),
                                timeout=10 * SLOW, what=f"{topic} on port {server.port}")
            histories, incomplete = read_histories(self.targets(), topic, 1, timeout=10 * SLOW)
            self.assertEqual(incomplete, [])
            self.assertEqual(histories, {n: [(1, {"hello": 1})] for n in NODE_NAMES})
            self.assertIsNotNone(self.nats.stream_leader(stream_name(topic), timeout=5))

    def test_idempotency_key_is_stored_once_across_nodes(self):
        with self.logs_on_failure():
            s1, s2, s3 = self.start_nodes()
            key = {"Idempotency-Key": "order-42"}
            status, first = post(s1, ORDERS, {"order": 42}, key)
            self.assertEqual(status, 202, first)
            # The same key through another node: stored once, answered with the first seq.
            status, again = post(s2, ORDERS, {"order": 42}, key)
            self.assertEqual((status, again["seq"]), (202, first["seq"]), again)
            status, other = post(s3, ORDERS, {"order": 43}, {"Idempotency-Key": "order-43"})
            self.assertEqual((status, other["seq"]), (202, first["seq"] + 1), other)
            status, plain = post(s3, ORDERS, {"order": 44})
            self.assertEqual((status, plain["seq"]), (202, first["seq"] + 2), plain)
            histories, incomplete = read_histories(self.targets(), ORDERS, plain["seq"],
                                                   timeout=10 * SLOW)
            self.assertEqual(incomplete, [])
            for name, history in histories.items():
                self.assertEqual([v for _, v in history],
                                 [{"order": 42}, {"order": 43}, {"order": 44}], name)
            # 1..128 printable ASCII; anything else is refused before it reaches NATS.
            for bad in ("x" * 129, "tab\there", "caf\u00e9"):
                status, answer = post(s1, ORDERS, {"bad": True},
                                      {"Idempotency-Key": bad.encode("utf-8").decode("latin-1")})
                self.assertEqual(status, 400, (bad, answer))

    def test_readyz_follows_the_nats_connection(self):
        with self.logs_on_failure():
            servers = self.start_nodes()
            before = post_until_acked(servers[0], ORDERS, {"before": 1}, 10 * SLOW)["seq"]
            self.nats.terminate_all()
            for server in servers:
                status, body = wait_http(server, "/readyz", lambda st, _: st == 503, 15 * SLOW,
                                         "/readyz 503 with NATS down")
                self.assertEqual(body.get("status"), "nats unavailable", body)
            started = time.monotonic()
            status, answer = post(servers[1], ORDERS, {"while down": 1})
            took = time.monotonic() - started
            self.assertEqual(status, 503, answer)
            self.assertTrue(answer.get("error"), answer)
            self.assertLess(took, PUBLISH_TIMEOUT_MS / 1000 + 3.0 * SLOW)
            self.assertEqual(get_json(servers[2], "/healthz")[0], 200)  # alive, just not ready

            self.nats.start_all()
            for server in servers:
                self.wait_ready(server, within=40 * SLOW)
            after = post_until_acked(servers[2], ORDERS, {"after": 1}, 20 * SLOW,
                                     {"Idempotency-Key": "after-outage"})["seq"]
            # The stream outlived the outage (file store). A 503 is not an ack, but the
            # client library may still deliver a publish it buffered while reconnecting:
            # the value answered 503 may be stored, once at most.
            histories, incomplete = read_histories(self.targets(), ORDERS, after,
                                                   timeout=10 * SLOW)
            self.assertEqual(incomplete, [])
            for name, history in histories.items():
                since_outage = [value for seq, value in history if seq > before]
                self.assertIn(since_outage, ([{"after": 1}], [{"while down": 1}, {"after": 1}]),
                              f"{name}: {history[-5:]}")
            print(f"\nthe publish answered 503 during the outage was "
                  f"{'stored later' if after == before + 2 else 'not stored'}")

    def test_wrong_or_missing_nats_credentials_exit_2_at_start(self):
        cases = {"wrong password": self.nats_section(password="not-the-password"),
                 "no credentials": {"servers": self.nats.urls(), "replicas": 3}}
        for case, section in cases.items():
            with self.subTest(case):
                path = write_temp(json.dumps(node_config(section)))
                result = run_cli("--config", path, "--port", str(free_port()), "--node", "s1",
                                 timeout=30 * SLOW)
                self.assertEqual(result.returncode, 2, result.stderr[-2000:])
                self.assertRegex(result.stderr, r"(?i)authori[sz]ation|authentication",
                                 result.stderr[-2000:])
                self.assertTrue(any(url.split("//")[1] in result.stderr
                                    for url in self.nats.urls()),
                                f"no NATS server named in: {result.stderr[-2000:]}")


if __name__ == "__main__":
    import unittest
    unittest.main()
