"""The acknowledged-write checker (write_checker.py) itself, without happy-dashboard.

analyze() gets fabricated outcomes and histories, one anomaly each, and must count exactly
that anomaly. The publisher and the read-back run against a tiny fake service on loopback
(http.server) that stores every POST in one shared log, and can be told to answer a value
with a 503 or not at all after storing it, to refuse it, or to store it twice. Runs in
about a second.
"""

import http.server
import json
import re
import threading
import time
import unittest

from write_checker import (ACKED, FAILED, REFUSED, TIMEOUT, Outcome, Target, WriteChecker,
                           analyze, canonical, post_value, read_histories)

TOPIC = "orders"
TOKEN = "T0KEN-checker"


def v(n, writer=0):
    return {"writer": writer, "n": n}


def acked(n, seq, node="a"):
    return Outcome(v(n), node, ACKED, seq=seq, status=202, started=n, finished=n + 0.01)


def clean_run(count=5, nodes=("a", "b", "c")):
    """count values acked at seqs 1..count, every node holding all of them."""
    outcomes = [acked(n, n + 1) for n in range(count)]
    history = [(n + 1, v(n)) for n in range(count)]
    return outcomes, {node: list(history) for node in nodes}


class AnalyzeTest(unittest.TestCase):

    def assertOnly(self, result, **expected):
        """The result's anomalies are exactly `expected`."""
        self.assertEqual(result.anomalies(), expected, result.summary())

    def test_clean_run_has_no_anomaly(self):
        outcomes, histories = clean_run()
        r = analyze(outcomes, histories)
        self.assertOnly(r)
        self.assertTrue(r.ok)
        self.assertEqual((r.values, r.acked, r.max_seq, r.nodes_read), (5, 5, 5, 3))
        self.assertIn("lost 0", r.summary())

    def test_acked_value_missing_on_one_node_is_lost(self):
        outcomes, histories = clean_run()
        del histories["b"][2]  # seq 3 never reached b
        r = analyze(outcomes, histories)
        self.assertOnly(r, lost=1, gaps=1)
        self.assertEqual(r.details["lost"][0][2], ["b"])

    def test_acked_value_missing_everywhere_is_lost_once(self):
        outcomes, histories = clean_run()
        for h in histories.values():
            del h[4]  # the last ack's seq held by nobody: the read-back still expects it
        r = analyze(outcomes, histories)
        self.assertOnly(r, lost=1, gaps=3)

    def test_acked_value_at_another_seq(self):
        outcomes, histories = clean_run(3)
        outcomes.append(Outcome(v(99), "a", TIMEOUT))
        # Everyone holds value 1 at seq 4 (acked 2) and the timed-out value at seq 2.
        for node in histories:
            histories[node] = [(1, v(0)), (2, v(99)), (3, v(2)), (4, v(1))]
        r = analyze(outcomes, histories)
        self.assertOnly(r, wrong_seq=1)
        self.assertEqual(r.indeterminate_stored, 1)

    def test_timed_out_value_stored_once_is_fine_twice_is_not(self):
        outcomes, histories = clean_run(2)
        outcomes += [Outcome(v(7), "b", TIMEOUT), Outcome(v(8), "c", FAILED, status=503)]
        for h in histories.values():
            h += [(3, v(7)), (4, v(8)), (5, v(8))]
        r = analyze(outcomes, histories)
        self.assertOnly(r, duplicated=1, duplicated_indeterminate=1)
        self.assertEqual((r.indeterminate, r.indeterminate_stored), (2, 1))

    def test_acked_value_stored_twice(self):
        outcomes, histories = clean_run(2)
        for h in histories.values():
            h.append((3, v(1)))
        r = analyze(outcomes, histories)
        self.assertOnly(r, duplicated=1, wrong_seq=1)

    def test_seq_naming_two_values_on_two_nodes_is_a_fork(self):
        outcomes, histories = clean_run(3)
        outcomes.append(Outcome(v(50), "c", TIMEOUT))
        outcomes.append(Outcome(v(51), "c", TIMEOUT))
        histories["a"].append((4, v(50)))
        histories["b"].append((4, v(50)))
        histories["c"].append((4, v(51)))
        r = analyze(outcomes, histories)
        self.assertOnly(r, forked=1)
        self.assertEqual(r.details["forked"][0][0], 4)

    def test_gaps_are_counted_per_node_and_seq(self):
        outcomes, histories = clean_run(3)
        outcomes += [Outcome(v(n), "a", TIMEOUT) for n in (10, 11, 12)]
        for h in histories.values():
            h += [(4, v(10)), (5, v(11)), (6, v(12))]
        histories["c"] = [e for e in histories["c"] if e[0] not in (4, 5)]
        r = analyze(outcomes, histories)
        self.assertOnly(r, gaps=2)
        self.assertEqual(r.details["gaps"], [("c", ["4-5"])])

    def test_incomplete_read_back_is_not_ok(self):
        outcomes, histories = clean_run()
        r = analyze(outcomes, histories, incomplete=["b"])
        self.assertOnly(r)
        self.assertFalse(r.ok)
        self.assertIn("incomplete on: b", r.summary())

    def test_refused_value_stored_anyway(self):
        outcomes, histories = clean_run(2)
        outcomes.append(Outcome(v(5), "b", REFUSED, status=400))
        for h in histories.values():
            h.append((3, v(5)))
        r = analyze(outcomes, histories)
        self.assertOnly(r, refused_present=1)
        self.assertEqual(r.refused, 1)

    def test_value_nobody_sent(self):
        outcomes, histories = clean_run(2)
        for h in histories.values():
            h.append((3, {"someone": "else"}))
        self.assertOnly(analyze(outcomes, histories), unexpected=1)

    def test_one_value_acked_at_two_seqs(self):
        outcomes, histories = clean_run(2)
        outcomes.append(acked(1, 3, node="b"))  # a retry answered with a new seq
        for h in histories.values():
            h.append((3, v(1)))
        r = analyze(outcomes, histories)
        self.assertOnly(r, acked_twice=1, duplicated=1, wrong_seq=1)

    def test_one_seq_acked_for_two_values(self):
        outcomes, histories = clean_run(2)
        outcomes.append(Outcome(v(9), "c", ACKED, seq=2))
        r = analyze(outcomes, histories)
        # v(9) acked at 2 but stored nowhere: also lost.
        self.assertOnly(r, seq_reused=1, lost=1)

    def test_retry_with_the_same_key_answered_with_the_first_seq_is_fine(self):
        outcomes, histories = clean_run(2)
        outcomes.insert(0, Outcome(v(1), "a", TIMEOUT, key="k1"))
        outcomes.append(Outcome(v(1), "b", ACKED, seq=2, key="k1", duplicate=True))
        r = analyze(outcomes, histories)
        self.assertOnly(r)
        self.assertEqual((r.values, r.acked, r.indeterminate), (2, 2, 0))

    def test_history_out_of_order(self):
        outcomes, histories = clean_run(3)
        histories["a"] = [histories["a"][i] for i in (0, 2, 1)]
        self.assertOnly(analyze(outcomes, histories), disorder=1)

    def test_generator_topic_checks_seqs_only(self):
        histories = {"a": [(1, 3), (2, 3), (3, 7)], "b": [(1, 3), (2, 3), (3, 8)],
                     "c": [(1, 3), (3, 7)]}
        r = analyze([], histories, known_values=False)
        self.assertOnly(r, forked=1, gaps=1)

    def test_longest_stretch_without_an_ack(self):
        outcomes = [Outcome(v(0), "a", ACKED, seq=1, started=0.0, finished=0.1),
                    Outcome(v(1), "a", TIMEOUT, started=0.1, finished=3.1),
                    Outcome(v(2), "a", ACKED, seq=2, started=3.1, finished=4.6),
                    Outcome(v(3), "a", ACKED, seq=3, started=4.6, finished=4.7)]
        r = analyze(outcomes, {"a": [(1, v(0)), (2, v(2)), (3, v(3))]})
        self.assertAlmostEqual(r.longest_ack_gap_s, 4.5)


class FakeService:
    """A stand-in for a cluster of service nodes: every node (its own HTTP port) appends
    to one shared log, like nodes in front of one stream. behaviour(value) picks what a
    POST does: "ok", "503" (store, answer 503), "hang" (store, answer after the client
    gave up), "400" (refuse), "twice" (store twice, ack the first). Idempotency-Key dedups."""

    def __init__(self, nodes=3, behaviour=None, hang_s=1.0):
        self.log = []
        self.keys = {}
        self.lock = threading.Lock()
        self.behaviour = behaviour or (lambda value: "ok")
        self.hang_s = hang_s
        self.released = threading.Event()
        self.servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
                        for _ in range(nodes)]
        for s in self.servers:
            s.daemon_threads = True
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True).start()

    def targets(self):
        return [Target(f"n{i + 1}", s.server_address[1]) for i, s in enumerate(self.servers)]

    def close(self):
        self.released.set()
        for s in self.servers:
            s.shutdown()
            s.server_close()

    def _store(self, value, key):
        with self.lock:
            if key is not None and key in self.keys:
                return self.keys[key], True
            self.log.append(value)
            seq = len(self.log)
            if key is not None:
                self.keys[key] = seq
            return seq, False

    def _handler(self):
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client gave up on a "hang" answer

            def do_POST(self):
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self.answer(401, {"error": "token"})
                value = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key")
                what = service.behaviour(value)
                if what == "400":
                    return self.answer(400, {"error": "no"})
                seq, duplicate = service._store(value, key)
                if what == "twice":
                    service._store(value, None)
                if what == "503":
                    return self.answer(503, {"error": "no quorum"})
                if what == "hang":
                    service.released.wait(service.hang_s)
                body = {"topic": TOPIC, "seq": seq}
                if duplicate:
                    body["duplicate"] = True
                self.answer(202, body)

            def do_GET(self):
                if self.path == "/topics":
                    return self.answer(200, [{"name": TOPIC, "seq": len(service.log)}])
                m = re.fullmatch(rf"/topics/{TOPIC}\?poll=1&since=(\d+)&timeout=0", self.path)
                if not m:
                    return self.answer(404, {"error": self.path})
                since = int(m.group(1))
                with service.lock:
                    envs = [{TOPIC: val, "topic": TOPIC, "seq": i + 1, "ts": 0}
                            for i, val in enumerate(service.log) if i + 1 > since]
                self.answer(200, envs)

        return Handler


class PublishAndReadBackTest(unittest.TestCase):

    def service(self, **kwargs):
        service = FakeService(**kwargs)
        self.addCleanup(service.close)
        return service

    def test_outcome_kinds(self):
        behaviours = {0: "ok", 1: "503", 2: "400", 3: "hang"}
        service = self.service(behaviour=lambda value: behaviours[value["n"]], hang_s=1.0)
        target = service.targets()[0]
        kinds = [post_value(target, TOPIC, v(n), TOKEN, timeout=0.3)[0] for n in range(4)]
        self.assertEqual(kinds, [ACKED, FAILED, REFUSED, TIMEOUT])
        self.assertEqual(post_value(target, TOPIC, v(9), "wrong", timeout=0.3)[:3],
                         (REFUSED, None, 401))
        service.close()  # nothing listens any more: refused before sending
        kind, _, status, detail, _ = post_value(target, TOPIC, v(10), TOKEN, timeout=0.3)
        self.assertEqual((kind, status), (REFUSED, None), detail)

    def test_clean_service_passes(self):
        service = self.service()
        checker = WriteChecker(service.targets(), TOPIC, TOKEN, writers=6, request_timeout=1.0)
        checker.start()
        self.assertTrue(checker.wait_acked(120, timeout=10))
        checker.stop()
        r = checker.check(timeout=5)
        print(r.summary())
        self.assertTrue(r.ok, r.summary())
        self.assertEqual(r.acked, r.attempts)
        self.assertEqual(set(r.kinds_by_node), {"n1", "n2", "n3"})

    def test_duplicating_service_is_caught(self):
        # Every 10th value of writer 0 is stored twice; writer 1's are answered 503 after
        # being stored (fine, once each).
        def behaviour(value):
            if value["writer"] == 0 and value["n"] % 10 == 0:
                return "twice"
            return "503" if value["writer"] == 1 else "ok"
        service = self.service(behaviour=behaviour)
        checker = WriteChecker(service.targets(), TOPIC, TOKEN, writers=3, request_timeout=1.0)
        checker.start()
        self.assertTrue(checker.wait_acked(60, timeout=10))
        checker.stop()
        r = checker.check(timeout=5)
        self.assertGreater(r.duplicated, 0, r.summary())
        self.assertEqual(r.duplicated_indeterminate, 0, r.summary())
        self.assertGreater(r.indeterminate_stored, 0, r.summary())
        self.assertEqual(r.anomalies(), {"duplicated": r.duplicated,
                                         "wrong_seq": r.wrong_seq}, r.summary())

    def test_retries_with_the_same_key_store_once(self):
        # The first attempt of each even value hangs (stored, no answer in time); the retry
        # goes to the next node with the same key and is answered with the first seq.
        attempts = {}

        def behaviour(value):
            k = canonical(value)
            attempts[k] = attempts.get(k, 0) + 1
            return "hang" if value["n"] % 2 == 0 and attempts[k] == 1 else "ok"
        service = self.service(behaviour=behaviour, hang_s=0.5)
        checker = WriteChecker(service.targets(), TOPIC, TOKEN, writers=3, request_timeout=0.2,
                               retries=2)
        checker.start()
        self.assertTrue(checker.wait_acked(30, timeout=10))
        checker.stop()
        r = checker.check(timeout=5)
        self.assertTrue(r.ok, r.summary())
        self.assertGreater(sum(1 for o in checker.outcomes if o.duplicate), 0)
        self.assertEqual(r.indeterminate, 0, r.summary())

    def test_read_back_waits_for_a_node_to_catch_up_and_gives_up_in_time(self):
        service = self.service(nodes=1)
        target = service.targets()[0]
        for n in range(3):
            post_value(target, TOPIC, v(n), TOKEN, timeout=1.0)
        timer = threading.Timer(0.3, post_value, (target, TOPIC, v(3), TOKEN, 1.0))
        timer.start()
        self.addCleanup(timer.cancel)
        histories, incomplete = read_histories([target], TOPIC, until_seq=4, timeout=3)
        self.assertEqual((len(histories["n1"]), incomplete), (4, []))
        started = time.monotonic()
        histories, incomplete = read_histories([target], TOPIC, until_seq=6, timeout=0.5)
        self.assertLess(time.monotonic() - started, 2.0)
        self.assertEqual(incomplete, ["n1"])


if __name__ == "__main__":
    unittest.main()
