"""Real faults of the history file while the service runs (README "Storage", "Disk trouble"):
the file turns read-only, and another process locks the database. No mocks: the
fault is made on the real file, with the real tools, and taken away again.

What a user notices is checked for each fault, while it lasts: publishes are answered
503 with a JSON error (never 202, never later than the publish timeout), /readyz is 503
and names storage, happy_storage_write_errors_total counts, the log has one error line
naming the file, and a WebSocket subscriber stays connected and gets every reading that
was accepted. After the fault is taken away: the service recovers by itself (202 and
/readyz 200 again), never exited, and the file (read back with Python's sqlite3 once the
server has stopped) holds every acknowledged reading and every reading shown live, each
seq with the value it was shown with: nothing acknowledged is lost, no seq is reused.

How each fault is made (the tests run as root, which file permissions do not stop):

- Read-only: `chattr +i` (immutable) on the database file and its -wal. An immutable
  inode refuses writes even through descriptors opened before (EPERM, which SQLite
  reports as a disk I/O error); root cannot override it without clearing the flag.
  chmod 0444 does nothing here (root, and the file is already open), and remounting the
  filesystem read-only is refused (EBUSY) while the service holds the file open for
  writing; a read-only bind mount does not affect descriptors already open. The -shm
  file is left alone on purpose: SQLite maps it into memory, and a store into a mapped
  page of an immutable file is a SIGBUS, which would crash the service. If the test's
  own temporary folder does not support the flag, a small ext4 image is loop-mounted in
  it; the test is skipped only if neither works (not root, no loop devices).
- Locked: the sqlite3 command-line shell opens the same file and holds BEGIN EXCLUSIVE.
  The service waits its busy timeout (5 s) on the lock, then counts a failed write.
"""

import asyncio
import contextlib
import gc
import json
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import unittest

import websockets

from harness import (assert_consecutive, get_metrics, metric_value, run_async, wait_for_metric)
from test_storage import AUTH, TOKEN, StorageTestCase, stored_config, stored_readings

# README "Acknowledgements": without JetStream a publish waits at most 5 s for its commit.
PUBLISH_TIMEOUT_S = 5.0
# SQLite's busy timeout of the service's connection (storage/history_db.cpp).
BUSY_TIMEOUT_S = 5.0
# Slack for a loaded machine on top of the service's own bounds.
MARGIN_S = 2.0
TEST_BOUND_S = 60


def run_tool(*argv, timeout=30):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def set_immutable(paths, on):
    result = run_tool("chattr", "+i" if on else "-i", *paths)
    if result.returncode != 0:
        raise OSError(f"chattr {'+i' if on else '-i'} {paths}: {result.stderr.strip()}")


def immutable_flag_works(folder):
    """Whether chattr +i works in folder and makes an already open descriptor's writes fail."""
    if not shutil.which("chattr"):
        return False
    probe = os.path.join(folder, "immutable-probe")
    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b"before", 0)
        try:
            set_immutable([probe], True)
        except OSError:
            return False
        try:
            os.pwrite(fd, b"after", 0)
            return False  # the flag is there but does not stop writes
        except OSError:
            return True
        finally:
            set_immutable([probe], False)
    finally:
        os.close(fd)
        os.unlink(probe)


class LockingShell:
    """The sqlite3 command-line shell holding BEGIN EXCLUSIVE on a database file.
    Its stdin stays open: the lock lasts until release() (or close() kills the shell)."""

    def __init__(self, path):
        # -bail: a failed BEGIN ends the shell, so "locked" is printed only with the lock held.
        self.proc = subprocess.Popen(["sqlite3", "-bail", path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.proc.stdin.write(".timeout 5000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n")
        self.proc.stdin.flush()
        answer = []
        reader = threading.Thread(target=lambda: answer.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(10)
        if not answer or answer[0].strip() != "locked":
            self.close()
            raise AssertionError(f"sqlite3 did not take the lock of {path} within 10 s "
                                 f"(it printed {answer}, exit {self.proc.returncode})")

    def release(self):
        self.proc.stdin.write("ROLLBACK;\n.quit\n")
        self.proc.stdin.close()
        self.proc.wait(10)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                try:
                    f.close()
                except OSError:
                    pass


class StorageFaultTest(StorageTestCase):
    topic = "orders"

    # -- blocking helpers, run off the event loop --------------------------------

    def timed_publish(self, server, value):
        """POST /topics/<topic>: (status, parsed JSON body, content type, seconds taken).
        The client waits well past the publish timeout, so a hang is measured, not cut."""
        started = time.monotonic()
        status, headers, body = server.http(f"/topics/{self.topic}", "POST", AUTH,
                                            json.dumps(value), timeout=PUBLISH_TIMEOUT_S + 15)
        elapsed = time.monotonic() - started
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {"unparsable body": body.decode("utf-8", "replace")}
        return status, parsed, headers.get("content-type", ""), elapsed

    def assert_refused(self, answer, what, names_history_file=True):
        status, body, content_type, elapsed = answer
        self.assertEqual(status, 503, f"{what}: {body}")
        self.assertEqual(content_type.split(";")[0], "application/json", what)
        self.assertIsInstance(body.get("error"), str, f"{what}: {body}")
        self.assertLess(elapsed, PUBLISH_TIMEOUT_S + MARGIN_S,
                        f"{what} answered after {elapsed:.1f} s, past the publish timeout")
        if names_history_file:
            self.assertIn("history file", body["error"], what)

    def readyz(self, server):
        status, _, body = server.http("/readyz")
        return status, json.loads(body)

    def wait_readyz(self, server, want, timeout):
        deadline = time.monotonic() + timeout
        while True:
            status, body = self.readyz(server)
            if status == want:
                return body
            if time.monotonic() >= deadline:
                self.fail(f"/readyz still {status} {body} after {timeout} s (wanted {want});"
                          f"\nstderr:\n{server.stderr()}")
            time.sleep(0.05)

    def error_lines(self, server):
        """The log's error lines about the file. The store logs one a minute for all its
        failed statements together; usually it is "cannot write <path>", but a retention
        delete that fails first ("cannot apply retention to <path>", every 2 s) takes the
        minute's line, so either is accepted here."""
        return [line for line in server.stderr().splitlines()
                if re.search(r"\berror storage: cannot (write|apply retention to) "
                             + re.escape(self.path) + ": ", line)]

    # -- the scenario both faults share -----------------------------------------

    def run_fault(self, start_fault, end_fault, log_reason, fault_blocks_commits):
        """start_fault()/end_fault() make and take away the fault (blocking calls).
        log_reason: a regex the error line must show after the file name.
        fault_blocks_commits: the fault makes a commit wait (the lock) rather than fail at
        once: the first publish in it is then answered only at the publish timeout, and
        its reading must reach the subscriber long before that answer."""
        server = self.start_server(stored_config(self.path))
        live = []      # (seq, value, monotonic time received), in order
        acked = {}     # seq -> value, answered 202
        fault_started = fault_ended = False

        async def blocking(fn, *args):
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

        async def wait_live(seq, timeout):
            deadline = time.monotonic() + timeout
            while not any(s == seq for s, _, _ in live):
                if time.monotonic() >= deadline:
                    self.fail(f"seq {seq} never reached the subscriber; it got "
                              f"{[s for s, _, _ in live]}")
                await asyncio.sleep(0.02)
            return next(t for s, _, t in live if s == seq)

        async def publish_acked(value):
            status, body, _, elapsed = await blocking(self.timed_publish, server, value)
            self.assertEqual(status, 202, f"{value}: {body}")
            self.assertNotIn(body["seq"], acked, "a seq acknowledged twice")
            acked[body["seq"]] = value
            return body["seq"]

        async def socket_publish_while_failing():
            url = server.ws_url(f"/topics/{self.topic}/publish?token={TOKEN}&ack=1")
            async with websockets.connect(url) as pub:
                await pub.send(json.dumps({"n": "socket during fault"}))
                try:
                    reply = await asyncio.wait_for(pub.recv(), PUBLISH_TIMEOUT_S + MARGIN_S)
                    self.fail(f"a publisher socket got {reply!r} while the file cannot be written")
                except websockets.ConnectionClosed:
                    pass
                return pub.close_code, pub.close_reason

        async def scenario():
            nonlocal fault_started, fault_ended
            async with websockets.connect(server.ws_url(f"/topics/{self.topic}?since=0")) as sub:
                async def watch():
                    try:
                        while True:
                            envelope = json.loads(await sub.recv())
                            live.append((envelope["seq"], envelope[self.topic], time.monotonic()))
                    except websockets.ConnectionClosed:
                        pass
                watcher = asyncio.ensure_future(watch())

                # Before: acknowledged and shown live.
                for n in range(1, 6):
                    await publish_acked({"n": n, "phase": "before"})
                await wait_live(max(acked), 5)
                errors_before = metric_value(await blocking(get_metrics, server),
                                             "happy_storage_write_errors_total")
                self.assertEqual(errors_before, 0)

                await blocking(start_fault)
                fault_started = True
                fault_at = time.monotonic()

                # The first publish in the fault: its reading is accepted and fanned out at
                # once (a failing disk never holds up the fan-out), but it is not stored,
                # so it is answered 503, not 202, and no later than the publish timeout.
                first_value = {"n": 6, "phase": "first in fault"}
                first = asyncio.ensure_future(blocking(self.timed_publish, server, first_value))
                first_seq = max(acked) + 1
                shown_at = await wait_live(first_seq, 3)
                self.assertEqual(next(v for s, v, _ in live if s == first_seq), first_value)
                first_answer = await first
                answered_at = time.monotonic()
                # With the lock the answer is the publish timeout's ("not accepted in time")
                # or the storage's, whichever comes first: both are 503, neither names
                # the file reliably.
                self.assert_refused(first_answer, "the first publish in the fault",
                                    names_history_file=not fault_blocks_commits)
                if fault_blocks_commits:
                    self.assertGreater(answered_at - shown_at, 2.0,
                                       "the subscriber got the reading only when its publish "
                                       "was answered: the locked file held up the fan-out")

                # Once the failed commit is seen: /readyz 503 naming storage, and every
                # publish refused at once with an error naming the history file. (With the
                # lock a retention delete may busy-wait ahead of the commit: two timeouts.)
                ready = await blocking(self.wait_readyz, server, 503,
                                       2 * BUSY_TIMEOUT_S + MARGIN_S)
                self.assertIn("storage", ready["status"])
                for n in range(7, 10):
                    answer = await blocking(self.timed_publish, server,
                                            {"n": n, "phase": "refused"})
                    self.assert_refused(answer, f"publish {n} during the fault")
                    self.assertLess(answer[3], 1.0, "a refusal while known unwritable is immediate")
                code, reason = await socket_publish_while_failing()
                self.assertEqual(code, 1013, reason)
                self.assertIn("storage", reason)

                samples = await blocking(get_metrics, server)
                self.assertGreater(metric_value(samples, "happy_storage_write_errors_total"),
                                   errors_before)
                self.assertEqual(metric_value(samples, "happy_storage_writable"), 0)
                self.assertGreaterEqual(metric_value(samples, "happy_storage_pending_readings"), 1)
                lines = self.error_lines(server)
                self.assertEqual(len(lines), 1,
                                 f"one error line naming the file:\n{server.stderr()}")
                self.assertRegex(lines[0], re.escape(self.path) + ": " + log_reason)

                # Dashboards' history still loads: reading the file is not affected.
                status, _, body = await blocking(
                    server.http, f"/topics/{self.topic}/history?points=1")
                self.assertEqual(status, 200, body)
                self.assertGreaterEqual(sum(b["count"] for b in json.loads(body)["buckets"]), 5)

                self.assertTrue(sub.open, "the subscriber was disconnected by the fault")
                self.assertLess(time.monotonic() - fault_at, 20, "the fault phase took too long")

                await blocking(end_fault)
                fault_ended = True

                # After: the service recovers by itself, within its 1 s retry (plus a
                # busy wait the lock may still be in).
                await blocking(self.wait_readyz, server, 200, BUSY_TIMEOUT_S + MARGIN_S)
                await blocking(wait_for_metric, server, "happy_storage_writable",
                               lambda v: v == 1)
                self.assertRegex(server.stderr(),
                                 r"storage: writing to " + re.escape(self.path) + " again")
                after = [await publish_acked({"n": n, "phase": "after"}) for n in range(10, 15)]
                self.assertGreater(min(after), max(s for s, _, _ in live if s not in after),
                                   "a seq shown before was handed out again")
                await wait_live(max(after), 5)
                samples = await blocking(get_metrics, server)
                self.assertEqual(metric_value(samples, "happy_storage_pending_readings"), 0,
                                 "readings kept for the retry were not all written")
                self.assertEqual(metric_value(samples, "happy_storage_readings_dropped_total"), 0)
                self.assertTrue(sub.open, "the subscriber was disconnected")
                watcher.cancel()

        try:
            run_async(scenario(), TEST_BOUND_S - 10)
        finally:
            if fault_started and not fault_ended:
                # Before the server's cleanup stops it; a failure here must not hide the
                # test's own (the cleanups registered with the fault undo it anyway).
                with contextlib.suppress(Exception):
                    end_fault()

        self.assertIsNone(server.proc.poll(), "the service exited during the fault")
        self.assertEqual(len(self.error_lines(server)), 1, server.stderr())
        self.assertEqual(server.stop(), 0, server.stderr())

        # The subscriber saw one unbroken run of seqs: nothing it was shown is missing.
        seen = [s for s, _, _ in live]
        assert_consecutive(self, seen, "seqs shown live")
        self.assertEqual(seen[0], 1)
        shown = {s: v for s, v, _ in live}

        stored = {}
        for seq, value in stored_readings(self.path, self.topic):
            self.assertNotIn(seq, stored, "a seq stored twice")
            stored[seq] = json.loads(value)
        lost = sorted(seq for seq in acked if seq not in stored)
        self.assertEqual(lost, [], f"acknowledged (202) readings missing from the file; "
                                   f"stored seqs {sorted(stored)}")
        for seq, value in acked.items():
            self.assertEqual(stored[seq], value, f"seq {seq} stored with another value")
        # README: the failed transaction's readings are kept and written on the retry, so
        # the file ends up with exactly what was shown live, each seq with its value.
        self.assertEqual(stored, shown, "the file and what subscribers were shown differ")

    # -- the faults ----------------------------------------------------------------

    def test_history_file_made_read_only_refuses_publishes_and_recovers(self):
        if os.geteuid() != 0:
            self.skipTest("chattr +i needs root (CAP_LINUX_IMMUTABLE)")
        if not immutable_flag_works(self.dir):
            self.use_loop_mounted_ext4()
        files = [self.path, self.path + "-wal"]  # never -shm: it is mmapped (SIGBUS)

        def make_read_only():
            for f in files:
                self.assertTrue(os.path.exists(f), f"{f} does not exist (WAL mode?)")
            set_immutable(files, True)
            self.addCleanup(lambda: run_tool("chattr", "-i", *files))
            # The fault really is there: root cannot write the file.
            with self.assertRaises(OSError):
                with open(self.path + "-wal", "r+b") as f:
                    f.write(b"x")

        self.run_fault(make_read_only, lambda: set_immutable(files, False),
                       log_reason=r"disk I/O error", fault_blocks_commits=False)

    def test_database_locked_by_another_process_refuses_publishes_and_recovers(self):
        if not shutil.which("sqlite3"):
            self.skipTest("the sqlite3 command-line shell is not installed (Debian: sqlite3)")
        holder = []

        def lock():
            shell = LockingShell(self.path)
            self.addCleanup(shell.close)
            holder.append(shell)
            # The fault really is there: another writer cannot get in.
            with contextlib.closing(sqlite3.connect(self.path, timeout=0)) as other:
                with self.assertRaisesRegex(sqlite3.OperationalError, "locked"):
                    other.execute("BEGIN IMMEDIATE")

        def unlock():
            holder[0].release()

        self.run_fault(lock, unlock, log_reason=r"database is locked", fault_blocks_commits=True)

    # -- setup for filesystems without the immutable flag ----------------------------

    def use_loop_mounted_ext4(self):
        """Moves the history file onto a small ext4 image loop-mounted in the test's folder."""
        if not (shutil.which("mkfs.ext4") and shutil.which("mount")):
            self.skipTest("chattr +i is not supported in the temporary folder, and mkfs.ext4 / "
                          "mount are missing for a loop-mounted ext4 image")
        image = os.path.join(self.dir, "fs.img")
        mountpoint = os.path.join(self.dir, "mnt")
        os.mkdir(mountpoint)
        with open(image, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        made = run_tool("mkfs.ext4", "-q", "-F", image)
        if made.returncode != 0:
            self.skipTest(f"mkfs.ext4 failed: {made.stderr.strip()}")
        mounted = run_tool("mount", "-o", "loop", image, mountpoint)
        if mounted.returncode != 0:
            self.skipTest("chattr +i is not supported in the temporary folder and a loop-mounted "
                          f"ext4 image cannot be mounted: {mounted.stderr.strip()}")
        self.addCleanup(self.unmount, mountpoint)
        if not immutable_flag_works(mountpoint):
            self.skipTest("chattr +i does not stop writes even on a loop-mounted ext4 image")
        self.path = os.path.join(mountpoint, "history.db")

    @staticmethod
    def unmount(mountpoint):
        # test_storage.stored_readings leaves its connection (and so the open file) to the
        # garbage collector; collect it, else the filesystem is busy.
        gc.collect()
        if run_tool("umount", mountpoint).returncode != 0:
            run_tool("umount", "--lazy", mountpoint)  # never leave a mount behind


if __name__ == "__main__":
    unittest.main()
