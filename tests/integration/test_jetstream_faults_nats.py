"""The acknowledged-write checker (write_checker.py) on NATS JetStream (issue #25) under a
fault in the NATS cluster: SIGKILL of the stream leader, SIGSTOP of a NATS node for 10 s.
Eight writers post unique values through all three service nodes; after healing, every
node's history must hold every acknowledged value exactly once at its acknowledged seq,
no seq may name two values, and a publish that timed out may be stored at most once.
Each run prints the checker's counts.
"""

import time

from jetstream_harness import (ORDERS, JetStreamTestCase, forget_node_name_from_environment,
                               stream_name)


def setUpModule():
    forget_node_name_from_environment()


class NatsFaultTest(JetStreamTestCase):
    """The acknowledged-write checker under one fault of the NATS cluster per test."""

    def test_sigkill_of_the_nats_stream_leader(self):
        with self.logs_on_failure():
            self.start_nodes()

            def fault():
                leader = self.nats.stream_leader_index(stream_name(ORDERS))
                print(f"\nSIGKILL of NATS {self.nats.nodes[leader].name}, leader of "
                      f"{stream_name(ORDERS)}")
                self.nats.kill(leader)
                time.sleep(8.0)  # the election takes ~5 s; keep writing through it
                self.nats.start_node(leader)
            self.run_checker(fault)

    def test_sigstop_of_a_nats_node_for_10_s(self):
        with self.logs_on_failure():
            self.start_nodes()

            def fault():
                # The stream leader: its pause costs an election, a follower's costs nothing.
                leader = self.nats.stream_leader_index(stream_name(ORDERS))
                print(f"\nSIGSTOP of NATS {self.nats.nodes[leader].name} for 10 s")
                self.nats.pause(leader)
                try:
                    time.sleep(10.0)
                finally:
                    self.nats.resume(leader)
            self.run_checker(fault)


if __name__ == "__main__":
    import unittest
    unittest.main()
