"""Generators on NATS JetStream (issue #25): a generator topic runs on exactly one node of
the cluster, the holder of its lease in the KV bucket "happy_leases"; the lease moves
when its holder is SIGKILLed, and a holder paused past the lease's TTL does not add a
reading when it wakes (its publishes are fenced with ExpectLastSeq). Every node's history
of the topic must then agree seq by seq, without gaps, without a reading twice, and never
hold more readings per second than one generator makes.
"""

import signal
import time

from jetstream_harness import (LEASE_MOVES_WITHIN_S, NODE_NAMES, READ_BACK_WITHIN_S, SLOW, TICK_MS,
                               TICKS, JetStreamTestCase, forget_node_name_from_environment,
                               lease_holders)
from write_checker import analyze, canonical, read_histories


def setUpModule():
    forget_node_name_from_environment()


def max_in_window(timestamps, window_ms):
    """The most readings whose ts fall in any window_ms-long window."""
    ts = sorted(t for t in timestamps if t is not None)
    best, start = 0, 0
    for end in range(len(ts)):
        while ts[end] - ts[start] >= window_ms:
            start += 1
        best = max(best, end - start + 1)
    return best


class JetStreamGeneratorTest(JetStreamTestCase):
    """A generator runs once in the whole cluster, on the node holding its lease."""

    def wait_one_holder(self, servers, within):
        """Until every server names the same live lease holder; returns its name."""
        names = {name for name, s in self.nodes.items() if s in servers}
        deadline = time.monotonic() + within
        while True:
            holders = lease_holders(servers, TICKS)
            agreed = set(holders.values())
            if len(agreed) == 1 and next(iter(agreed)) in names:
                return next(iter(agreed))
            if time.monotonic() >= deadline:
                raise AssertionError(f"no agreed lease holder among {sorted(names)} within "
                                     f"{within} s: {holders}")
            time.sleep(0.2)

    def check_ticks(self, names, expect_at_least):
        """Reads the ticks history of `names` and checks it: no fork, no gap, no reading
        twice (value and ts), never more readings in a second than one generator makes."""
        histories, incomplete = read_histories(self.targets(names), TICKS,
                                               timeout=READ_BACK_WITHIN_S, with_ts=True)
        self.assertEqual(incomplete, [])
        # A reading is its value and ts: a second generator, or a zombie's late publish,
        # would add one the first did not make.
        as_pairs = {n: [(seq, [value, ts]) for seq, value, ts in h] for n, h in histories.items()}
        result = analyze([], as_pairs, known_values=False)
        first = next(iter(histories.values()))
        readings = [canonical([value, ts]) for _, value, ts in first]
        repeated = len(readings) - len(set(readings))
        busiest = max_in_window([ts for _, _, ts in first], 1000)
        print(f"\n{self.id()}: {len(first)} ticks, anomalies {result.anomalies()}, "
              f"repeated readings {repeated}, most in one second {busiest} "
              f"(one generator: {1000 // TICK_MS})")
        self.assertEqual(result.anomalies(), {}, result.summary())
        self.assertEqual(repeated, 0)
        self.assertGreaterEqual(len(first), expect_at_least)
        # Timer jitter allows a little more than 10 per second; two generators make ~20.
        self.assertLessEqual(busiest, 1000 // TICK_MS + 4)

    def test_generator_runs_once_and_moves_when_its_node_is_killed(self):
        with self.logs_on_failure():
            servers = self.start_nodes()
            holder = self.wait_one_holder(servers, 20 * SLOW)
            time.sleep(3.0)
            seq_before = max(s.topic(TICKS)["seq"] for s in servers)
            self.assertGreater(seq_before, 10)

            killed_at = time.monotonic()
            self.nodes[holder].kill()
            survivors = [s for name, s in self.nodes.items() if name != holder]
            new_holder = self.wait_one_holder(survivors, LEASE_MOVES_WITHIN_S)
            survivors[0].wait_for_seq(seq_before + 20, topic=TICKS, timeout=20 * SLOW)
            moved = time.monotonic() - killed_at
            print(f"\nlease of {TICKS} moved from {holder} to {new_holder} and ticks resumed "
                  f"{moved:.1f} s after the SIGKILL")
            self.assertNotEqual(new_holder, holder)
            time.sleep(2.0)
            self.check_ticks([n for n in NODE_NAMES if n != holder], seq_before + 20)

    def test_paused_lease_holder_does_not_publish_after_waking(self):
        """SIGSTOP the holder longer than the lease TTL: the lease moves; after SIGCONT the
        old holder must not add a reading (its publishes are fenced by ExpectLastSeq)."""
        with self.logs_on_failure():
            servers = self.start_nodes()
            holder = self.wait_one_holder(servers, 20 * SLOW)
            time.sleep(2.0)
            paused = self.nodes[holder]
            others = [s for name, s in self.nodes.items() if name != holder]
            paused.proc.send_signal(signal.SIGSTOP)
            try:
                new_holder = self.wait_one_holder(others, LEASE_MOVES_WITHIN_S)
                time.sleep(2.0)
            finally:
                paused.proc.send_signal(signal.SIGCONT)
            self.assertNotEqual(new_holder, holder)
            # The woken node sees it lost the lease and follows the stream again.
            self.assertEqual(self.wait_one_holder(servers, 20 * SLOW), new_holder)
            time.sleep(3.0)
            self.check_ticks(list(NODE_NAMES), 30)


if __name__ == "__main__":
    import unittest
    unittest.main()
