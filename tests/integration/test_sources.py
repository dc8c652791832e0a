"""Topic sources: `"source"` instead of `"generator"` -- system metrics read from /proc and
/sys, a command's stdout, an HTTP body (whole JSON, a JSON Pointer, a Prometheus sample).
Readings reach clients like any other; failures give no reading, count in /metrics and are
logged once; never two runs at once; sources change on reload without dropping clients;
bad source settings are config errors (exit 2) that name where."""

import asyncio
import json
import os
import re
import signal
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import websockets

from harness import (HOST, HttpStream, ServerTestCase, assert_consecutive, binary_path, free_port,
                     get_metrics,
                     metric_value, run_async, run_cli, wait_for_metric, wait_for_stderr,
                     write_config, write_temp)

TOKEN = "sources-token-1"
REASONS = ("timeout", "exit_status", "bad_output", "too_large", "http_status", "connection",
           "start")


# -- helpers -----------------------------------------------------------------------------

def history(server, topic):
    """Every envelope the topic holds (long-poll from seq 0, answered at once)."""
    status, _, body = server.http(f"/topics/{topic}?poll=1&since=0&timeout=0")
    if status != 200:
        raise AssertionError(f"long-poll of {topic} answered {status}: {body!r}")
    return json.loads(body)


def values(server, topic):
    return [env[topic] for env in history(server, topic)]


def wait_for_values(server, topic, n, timeout=5.0):
    """Polls until the topic holds at least n readings; returns their values."""
    deadline = time.monotonic() + timeout
    while True:
        got = values(server, topic)
        if len(got) >= n:
            return got
        if time.monotonic() >= deadline:
            raise AssertionError(f"topic {topic!r} has {len(got)} readings after {timeout} s, "
                                 f"wanted {n}; log:\n{log_text(server)}")
        time.sleep(0.05)


def log_text(server):
    return server.stderr() + server.stdout()


def source_lines(server, topic, level=None):
    """Log lines about the source of `topic` (optionally of one level)."""
    needle = f"source of topic '{topic}' "
    return [line for line in log_text(server).splitlines()
            if needle in line and (level is None or f" {level} " in line)]


def failures(samples, topic):
    """{reason: count} of happy_source_failures_total for the topic."""
    return {r: metric_value(samples, "happy_source_failures_total", topic=topic, reason=r)
            for r in REASONS}


def cmd(script, interval_ms=200, **extra):
    """A command source running `script` with /bin/sh."""
    src = {"command": ["/bin/sh", "-c", script], "interval_ms": interval_ms}
    src.update(extra)
    return {"source": src}


def read_meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            name, _, rest = line.partition(":")
            out[name] = int(rest.split()[0]) * 1024
    return out


def read_loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def interfaces():
    with open("/proc/net/dev") as f:
        lines = f.read().splitlines()[2:]
    return {line.split(":", 1)[0].strip() for line in lines if ":" in line}


def process_gone(pid):
    """True when the pid does not exist or is a zombie (killed, not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def kill_recorded(path):
    """Cleanup: SIGKILLs the process groups of runs whose pids a command recorded (first
    word of each line) and that still run -- the service may have left them behind."""
    try:
        with open(path) as f:
            pids = [int(line.split()[0]) for line in f if line.strip()]
    except OSError:
        return
    for pid in pids:
        if process_gone(pid):
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            if b"sleep" not in cmdline and b"sh" not in cmdline:
                continue
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


class FixtureHttp:
    """A ThreadingHTTPServer in a thread of the test process. routes: path -> (status,
    content type, body bytes, delay seconds). Records the headers of every request."""

    def __init__(self, routes):
        self.routes = routes
        self.requests = []  # (path, {header-lower: value})
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                fixture.requests.append(
                    (self.path, {k.lower(): v for k, v in self.headers.items()}))
                status, ctype, body, delay = fixture.routes.get(
                    self.path, (404, "text/plain", b"not found\n", 0))
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout)
                self.close_connection = True

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            # Every source ticks at once: the default backlog of 5 drops SYNs, and the
            # retransmission 1 s later looks like a timeout.
            request_queue_size = 128

        self.httpd = Server((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://{HOST}:{self.port}{path}"

    def headers_of(self, path):
        return [h for p, h in self.requests if p == path]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def json_route(obj):
    return (200, "application/json", json.dumps(obj).encode(), 0)


PROM_TEXT = b"""# HELP temperature_celsius Room temperature.
# TYPE temperature_celsius gauge
temperature_celsius{room="kitchen",floor="1"} 21.5
temperature_celsius{room="hall",floor="1"} 19
temperature_celsius{room="kitchen",floor="2"} 3
# HELP up Whether the thing is up.
# TYPE up gauge
up 1
# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{code="200",path="/a \\"quoted\\""} 1027 1700000000000
requests_total{code="500",path="/a \\"quoted\\""} 2.5e3
# TYPE latency_seconds gauge
latency_seconds 1.5e-3
# TYPE broken_ratio gauge
broken_ratio +Inf
"""

DATA = {"a": {"b": [1, 2.5]}, "x/y": {"m~n": 7}, "s": "text"}


# -- system sources ----------------------------------------------------------------------

class SystemSourceTest(ServerTestCase):

    def test_system_metrics_agree_with_proc_and_arrive_at_the_interval(self):
        server = self.start_server({"topics": {
            "cpu": {"source": {"system": "cpu", "interval_ms": 300}},
            "mem": {"source": {"system": "memory", "interval_ms": 300}},
            "load": {"source": {"system": "load", "interval_ms": 300}},
            "net": {"source": {"system": "network", "interval_ms": 300}},
            "disk": {"source": {"system": "disk", "interval_ms": 300}},
        }})
        started = time.monotonic()
        # Some CPU work while the readings are taken, so that the cpu source has something
        # to see: min(cpus, 2) busy loops for ~1.5 s.
        ncpu = os.cpu_count() or 1
        burners = [subprocess.Popen(
            ["/usr/bin/python3", "-c", "import time\nt=time.time()+1.5\nwhile time.time()<t: pass"])
            for _ in range(min(ncpu, 2))]
        for p in burners:
            self.addCleanup(p.kill)
        for p in burners:
            p.wait(timeout=10)
        time.sleep(max(0.0, 2.6 - (time.monotonic() - started)))
        meminfo = read_meminfo()
        loadavg = read_loadavg()

        envs = {t: history(server, t) for t in ("cpu", "mem", "load", "net", "disk")}
        for topic, got in envs.items():
            with self.subTest(topic=topic, what="rate"):
                # 300 ms for ~2.6 s: the first may come one interval after the start.
                self.assertGreaterEqual(len(got), 5, f"{topic}: {got}")
                self.assertLessEqual(len(got), 11, f"{topic}: faster than every 300 ms")
                self.assertEqual([e["seq"] for e in got], list(range(1, len(got) + 1)))
                for env in got:
                    self.assertEqual(set(env), {topic, "topic", "seq", "ts"}, env)
                    self.assertEqual(env["topic"], topic)
                gaps = [b["ts"] - a["ts"] for a, b in zip(got, got[1:])]
                self.assertTrue(200 <= statistics.median(gaps) <= 420,
                                f"{topic}: readings {gaps} ms apart, configured 300")

        with self.subTest("memory"):
            for m in (e["mem"] for e in envs["mem"]):
                self.assertEqual(set(m), {"used", "available"}, m)
                self.assertIsInstance(m["used"], int, m)
                self.assertIsInstance(m["available"], int, m)
                total = meminfo["MemTotal"]
                self.assertLess(abs(m["used"] + m["available"] - total), 0.03 * total,
                                f"used+available {m} != MemTotal {total}")
            last = envs["mem"][-1]["mem"]
            mine = meminfo["MemAvailable"]
            self.assertLess(abs(last["available"] - mine), 0.2 * mine,
                            f"available {last['available']} vs /proc/meminfo {mine}")

        with self.subTest("load"):
            last = envs["load"][-1]["load"]
            self.assertEqual(set(last), {"1m", "5m", "15m"}, last)
            for key, mine in zip(("1m", "5m", "15m"), loadavg):
                self.assertIsInstance(last[key], (int, float))
                self.assertLess(abs(last[key] - mine), 1.0,
                                f"load {key} {last[key]} vs /proc/loadavg {mine}")

        with self.subTest("cpu"):
            busiest = 0.0
            for c in (e["cpu"] for e in envs["cpu"]):
                self.assertEqual(set(c), {"user", "system", "iowait"}, c)
                for key, v in c.items():
                    self.assertIsInstance(v, (int, float), c)
                    self.assertTrue(0.0 <= v <= 100.0, f"cpu {key} = {v}")
                self.assertLessEqual(sum(c.values()), 100.5, c)
                busiest = max(busiest, c["user"] + c["system"])
            # The busy loops used min(ncpu, 2) of ncpu CPUs for 1.5 s.
            expected = 100.0 * min(ncpu, 2) / ncpu
            self.assertGreaterEqual(busiest, 0.4 * expected,
                                    f"cpu never showed the busy loops: {envs['cpu']}")

        with self.subTest("network"):
            wanted = set()
            for iface in interfaces() - {"lo"}:
                wanted |= {f"{iface}_rx", f"{iface}_tx"}
            for n in (e["net"] for e in envs["net"]):
                self.assertEqual(set(n), wanted, n)
                for key, v in n.items():
                    self.assertIsInstance(v, (int, float), n)
                    self.assertGreaterEqual(v, 0, f"{key} = {v}")

        with self.subTest("disk"):
            for d in (e["disk"] for e in envs["disk"]):
                self.assertEqual(set(d), {"read", "write"}, d)
                for key, v in d.items():
                    self.assertIsInstance(v, (int, float), d)
                    self.assertGreaterEqual(v, 0, f"{key} = {v}")

        with self.subTest("metrics"):
            samples = get_metrics(server)
            for topic, got in envs.items():
                readings = metric_value(samples, "happy_source_readings_total", topic=topic)
                self.assertGreaterEqual(readings, len(got), topic)
                self.assertEqual(failures(samples, topic), {r: 0 for r in REASONS}, topic)
                self.assertEqual(metric_value(samples, "happy_source_skipped_total",
                                              topic=topic), 0, topic)
            self.assertEqual(source_lines(server, "cpu", "warning"), [])


# -- command sources ---------------------------------------------------------------------

class CommandSourceTest(ServerTestCase):

    def test_stdout_is_the_reading_with_the_configured_env_and_cwd(self):
        workdir = tempfile.mkdtemp(prefix="happy-src-cwd-")
        self.addCleanup(shutil.rmtree, workdir, True)
        env_script = ('printf \'{"dir":"%s","x":"%s","home":"%s","path":"%s","stdin":"%s"}\' '
                      '"$PWD" "$X" "${HOME:-}" "$PATH" "$(/bin/cat)"')
        server = self.start_server({"topics": {
            "echo": {"source": {"command": ["/bin/sh", "-c", "echo 42"], "interval_ms": 300,
                                "timeout_ms": 2000}},
            "obj": cmd('echo \'{"user": 12.5, "sys": [1, "two"], "ok": true}\''),
            "spaced": cmd("printf ' \\n 7.25 \\n\\n'"),
            "env": {"source": {"command": ["/bin/sh", "-c", env_script], "interval_ms": 200,
                               "env": {"X": "configured value"}, "cwd": workdir}},
            "ownpath": {"source": {"command": ["/bin/sh", "-c", 'printf \'"%s"\' "$PATH"'],
                                   "interval_ms": 200, "env": {"PATH": "/opt/custom"}}},
            "argv": {"source": {"command": ["/usr/bin/printf", "[\"%s\",\"%s\"]", "a b", "$HOME"],
                                "interval_ms": 200}},
        }})

        async def subscribe():
            async with websockets.connect(server.ws_url("/topics/echo"), open_timeout=5) as ws:
                live = [json.loads(await asyncio.wait_for(ws.recv(), 3)) for _ in range(3)]
            async with websockets.connect(server.ws_url("/echo?last=2"), open_timeout=5) as ws:
                replayed = [json.loads(await asyncio.wait_for(ws.recv(), 3)) for _ in range(3)]
            async with await HttpStream.open(server.port, "/topics/echo",
                                             {"Accept": "text/event-stream"}) as sse:
                streamed = await sse.read_envelopes(2, timeout=3)
            return live, replayed, streamed

        live, replayed, streamed = run_async(subscribe(), 20)
        for what, got in (("WebSocket", live), ("WebSocket ?last=2", replayed), ("SSE", streamed)):
            for env in got:
                self.assertEqual(set(env), {"echo", "topic", "seq", "ts"}, env)
                self.assertEqual((env["echo"], env["topic"]), (42, "echo"))
            assert_consecutive(self, [e["seq"] for e in got], f"echo over {what}")
        self.assertLessEqual(replayed[0]["seq"], live[-1]["seq"], "?last=2 replayed nothing")

        self.assertEqual(wait_for_values(server, "obj", 1)[0],
                         {"user": 12.5, "sys": [1, "two"], "ok": True})
        self.assertEqual(wait_for_values(server, "spaced", 1)[0], 7.25)
        env = wait_for_values(server, "env", 1)[0]
        self.assertEqual(env["dir"], workdir, "cwd is not the configured one")
        self.assertEqual(env["x"], "configured value")
        self.assertEqual(env["home"], "", "the service's own environment leaked into the command")
        self.assertEqual(env["path"], "/usr/local/bin:/usr/bin:/bin")
        self.assertEqual(env["stdin"], "", "stdin is not /dev/null")
        self.assertEqual(wait_for_values(server, "ownpath", 1)[0], "/opt/custom")
        # No shell: arguments reach the program as they are.
        self.assertEqual(wait_for_values(server, "argv", 1)[0], ["a b", "$HOME"])

        samples = get_metrics(server)
        for topic in ("echo", "obj", "spaced", "env", "ownpath", "argv"):
            self.assertEqual(failures(samples, topic), {r: 0 for r in REASONS}, topic)
        self.assertNotIn("warning", log_text(server))


# -- failures, recovery, one run at a time -----------------------------------------------

class SourceFailureTest(ServerTestCase):

    def test_failures_give_no_reading_are_counted_and_logged_once(self):
        tmp = tempfile.mkdtemp(prefix="happy-src-fail-")
        self.addCleanup(shutil.rmtree, tmp, True)
        marker = os.path.join(tmp, "broken")
        open(marker, "w").close()
        pidfile = os.path.join(tmp, "pids")
        self.addCleanup(kill_recorded, pidfile)  # after the server is gone
        runs = os.path.join(tmp, "runs")
        gone_script = os.path.join(tmp, "vanishing.sh")
        with open(gone_script, "w") as f:
            f.write("#!/bin/sh\necho 5\n")
        os.chmod(gone_script, 0o755)
        web = FixtureHttp({
            "/data.json": json_route(DATA),
            "/slow": (200, "application/json", b"1", 2.0),
            "/text": (200, "text/plain", b"hello\n", 0),
        })
        self.addCleanup(web.close)
        refused = free_port()  # nothing listens there
        # Each failure on its own topic; `reason` is the counter that must grow.
        cases = {
            "timeout": ("timeout", cmd(f"/bin/sleep 30 & echo $! $(/bin/date +%s%N) >> {pidfile}; "
                                       "wait", timeout_ms=300)),
            "plain-sleep": ("timeout", {"source": {"command": ["/bin/sleep", "5"],
                                                   "interval_ms": 200, "timeout_ms": 300}}),
            "exit1": ("exit_status", cmd("echo oops >&2; echo 3; exit 1")),
            # Another text every run (a time): still one line, the kind of problem is the same.
            "varying": ("exit_status", cmd("/bin/date +%s%N >&2; exit 1")),
            "garbage": ("bad_output", {"source": {"command": ["/bin/echo", "not json"],
                                                  "interval_ms": 200}}),
            "two-values": ("bad_output", cmd("echo 1 2")),
            "empty": ("bad_output", cmd("true")),
            "too-large": ("too_large", cmd("printf '\"%05000d\"' 0")),
            "killed": ("exit_status", cmd("kill -9 $$")),
            "http404": ("http_status", {"source": {"http": web.url("/nothing-here"),
                                                   "interval_ms": 200}}),
            "refused": ("connection", {"source": {"http": f"http://{HOST}:{refused}/x",
                                                  "interval_ms": 200}}),
            "nopointer": ("bad_output", {"source": {"http": web.url("/data.json"),
                                                    "interval_ms": 200,
                                                    "json_pointer": "/a/b/7"}}),
            "notjson": ("bad_output", {"source": {"http": web.url("/text"), "interval_ms": 200}}),
            "slowhttp": ("timeout", {"source": {"http": web.url("/slow"), "interval_ms": 200,
                                                "timeout_ms": 300}}),
            "vanished": ("start", {"source": {"command": [gone_script], "interval_ms": 200}}),
        }
        topics = {name: src for name, (_, src) in cases.items()}
        topics["recover"] = cmd(f"if [ -e {marker} ]; then echo broken >&2; exit 1; fi; echo 7")
        topics["slow"] = cmd(f"echo start $(/bin/date +%s%N) >> {runs}; /bin/sleep 0.5; "
                             f"echo end $(/bin/date +%s%N) >> {runs}; echo 1",
                             interval_ms=100, timeout_ms=2000)
        server = self.start_server({"limits": {"max_message_bytes": 1024}, "topics": topics})
        # The script existed at load; now it is gone.
        os.unlink(gone_script)

        # `recover` fails a few times (counted and logged once), then works again.
        wait_for_metric(server, "happy_source_failures_total", lambda n: n is not None and n >= 3,
                        timeout=10, topic="recover", reason="exit_status")
        os.unlink(marker)
        recovered = wait_for_values(server, "recover", 2, timeout=3)
        # Measured, not a sync point: repeats of each failure within this window must not
        # log again, and the children of timed-out runs get old enough to be checked.
        time.sleep(1.3)
        for name, (reason, _) in cases.items():  # each failed twice: a repeat was possible
            wait_for_metric(server, "happy_source_failures_total",
                            lambda n: n is not None and n >= 2, timeout=10, topic=name,
                            reason=reason)
        server.wait_for_seq(3, topic="slow")  # three runs of `slow` ended
        samples = get_metrics(server)
        topic_list = {t["name"]: t for t in server.topics()}

        for name, (reason, _) in cases.items():
            with self.subTest(topic=name):
                self.assertEqual(topic_list[name]["seq"], 0, f"{name} published a reading")
                self.assertEqual(history(server, name), [])
                counts = failures(samples, name)
                self.assertGreaterEqual(counts[reason], 2, f"{name}: {counts}")
                self.assertEqual({r: c for r, c in counts.items() if r != reason},
                                 {r: 0 for r in REASONS if r != reason}, f"{name}: {counts}")
                self.assertEqual(metric_value(samples, "happy_source_readings_total",
                                              topic=name), 0)
                warnings = source_lines(server, name, "warning")
                self.assertEqual(len(warnings), 1,
                                 f"{name}: expected one warning line, got:\n" + "\n".join(warnings))
                self.assertRegex(warnings[0], rf"gave no reading: {reason}\b")

        log = log_text(server)
        self.assertRegex(log, r"warning source of topic 'exit1' \(command /bin/sh\) gave no "
                              r"reading: exit_status: /bin/sh exited with status 1: oops")
        self.assertIn(f"http {web.url('/nothing-here')}", source_lines(server, "http404")[0])
        self.assertIn("404", source_lines(server, "http404")[0])

        with self.subTest("the timeout kills the whole process group"):
            with open(pidfile) as f:
                started = [line.split() for line in f if line.strip()]
            self.assertGreaterEqual(len(started), 2)
            now_ns = time.time_ns()
            old = [int(pid) for pid, t in started if now_ns - int(t) > 1.5e9]
            self.assertTrue(old, started)
            alive = [pid for pid in old if not process_gone(pid)]
            self.assertEqual(alive, [], "background children of timed-out runs still alive")

        with self.subTest("recovery"):
            self.assertTrue(all(v == 7 for v in recovered), recovered)
            self.assertGreaterEqual(topic_list["recover"]["seq"], 2)
            failed = failures(samples, "recover")["exit_status"]
            self.assertGreaterEqual(failed, 3)
            self.assertEqual(len(source_lines(server, "recover", "warning")), 1, log)
            back = source_lines(server, "recover", "info")
            self.assertEqual(len(back), 1, log)
            m = re.search(r"info source of topic 'recover' works again after (\d+) failed runs",
                          back[0])
            self.assertIsNotNone(m, back[0])
            self.assertEqual(int(m.group(1)), failed)

        with self.subTest("never more than one run in flight"):
            with open(runs) as f:
                events = [(kind, int(t)) for kind, t in (line.split() for line in f if line.strip())]
            spans, open_start = [], None
            for kind, t in events:
                if kind == "start":
                    self.assertIsNone(open_start, f"a run started while another ran: {events}")
                    open_start = t
                else:
                    self.assertIsNotNone(open_start, events)
                    spans.append((open_start, t))
                    open_start = None
            self.assertGreaterEqual(len(spans), 3, events)
            for (s1, e1), (s2, _) in zip(spans, spans[1:]):
                self.assertGreaterEqual(s2, e1, f"runs overlap: {spans}")
            skipped = metric_value(samples, "happy_source_skipped_total", topic="slow")
            self.assertGreater(skipped, 0)
            self.assertEqual(failures(samples, "slow"), {r: 0 for r in REASONS})
            # Every finished run gave a reading (the last may have ended after GET /topics).
            self.assertGreaterEqual(topic_list["slow"]["seq"], len(spans) - 1)
            self.assertEqual(metric_value(samples, "happy_source_skipped_total", topic="exit1"), 0)


# -- http sources ------------------------------------------------------------------------

class HttpSourceTest(ServerTestCase):

    def test_body_pointer_and_prometheus_sample_become_readings(self):
        web = FixtureHttp({
            "/data.json": json_route(DATA),
            "/metrics": (200, "text/plain; version=0.0.4", PROM_TEXT, 0),
        })
        self.addCleanup(web.close)
        data, prom = web.url("/data.json"), web.url("/metrics")

        def http(url, **extra):
            src = {"http": url, "interval_ms": 200, "timeout_ms": 1000}
            src.update(extra)
            return {"source": src}

        def sample(metric, **labels):
            p = {"metric": metric}
            if labels:
                p["labels"] = labels
            return http(prom, prometheus=p)

        server = self.start_server({"topics": {
            "ptr": http(data, json_pointer="/a/b/1", headers={"X-Api-Key": "k-123"}),
            "escaped": http(data, json_pointer="/x~1y/m~0n"),
            "whole": http(data),
            "root": http(data, json_pointer=""),
            "hall": sample("temperature_celsius", room="hall", floor="1"),
            "kitchen1": sample("temperature_celsius", room="kitchen", floor="1"),
            "floor2": sample("temperature_celsius", floor="2"),
            "up": sample("up"),
            "stamped": sample("requests_total", code="200", path='/a "quoted"'),
            "exp": sample("requests_total", code="500"),
            "latency": sample("latency_seconds"),
            "infinite": sample("broken_ratio"),
            "ambiguous": sample("temperature_celsius", room="kitchen"),
            "nomatch": sample("temperature_celsius", room="attic"),
        }})
        expected = {"ptr": 2.5, "escaped": 7, "whole": DATA, "root": DATA, "hall": 19,
                    "kitchen1": 21.5, "floor2": 3, "up": 1, "stamped": 1027,
                    # 2.5e3 is integral: an integer; 1.5e-3 is not.
                    "exp": 2500, "latency": 0.0015}
        for topic, want in expected.items():
            with self.subTest(topic=topic):
                got = wait_for_values(server, topic, 2)
                self.assertEqual(got[0], want)
                self.assertEqual(type(got[0]), type(want), f"{topic}: {got[0]!r}")
        with self.subTest("integral Prometheus values are JSON integers"):
            _, _, body = server.http("/topics/hall?poll=1&since=0&timeout=0")
            self.assertIn(b'{"hall":19,', body)
            _, _, body = server.http("/topics/kitchen1?poll=1&since=0&timeout=0")
            self.assertIn(b'{"kitchen1":21.5,', body)
        samples = get_metrics(server)
        for topic in ("ambiguous", "nomatch", "infinite"):
            with self.subTest(topic=topic):
                self.assertEqual(server.topic(topic)["seq"], 0)
                self.assertGreaterEqual(failures(samples, topic)["bad_output"], 1)
        self.assertIn("2 samples match", source_lines(server, "ambiguous", "warning")[0])
        self.assertIn("+Inf", source_lines(server, "infinite", "warning")[0])
        with self.subTest("configured headers reach the server"):
            sent = web.headers_of("/data.json")
            with_key = [h for h in sent if h.get("x-api-key") == "k-123"]
            self.assertTrue(with_key, f"no request carried X-Api-Key: {sent}")
            # Only the topic that configured it sends it.
            self.assertTrue(any("x-api-key" not in h for h in sent))
            self.assertEqual(with_key[0].get("host"), f"{HOST}:{web.port}")


class OwnMetricsSourceTest(ServerTestCase):

    def test_a_source_reading_the_services_own_metrics_follows_its_connections(self):
        port = free_port()
        server = self.start_server({"topics": {
            "happiness": {"generator": {"interval_ms": 100}},
            "websockets": {"source": {
                "http": f"http://{HOST}:{port}/metrics", "interval_ms": 150,
                "prometheus": {"metric": "happy_connections",
                               "labels": {"transport": "websocket"}}}},
        }}, port=port)
        self.assertEqual(wait_for_values(server, "websockets", 1)[0], 0)

        def latest():
            return values(server, "websockets")[-1]

        async def main():
            clients = [await websockets.connect(server.ws_url("/happiness"), open_timeout=5)
                       for _ in range(2)]
            try:
                for ws in clients:
                    await asyncio.wait_for(ws.recv(), 5)
                deadline = time.monotonic() + 5
                while latest() < 2 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                return latest()
            finally:
                for ws in clients:
                    await ws.close()

        self.assertEqual(run_async(main(), 20), 2)
        deadline = time.monotonic() + 5
        while latest() != 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(latest(), 0, "the reading did not go back to 0 after the clients left")
        self.assertEqual(failures(get_metrics(server), "websockets"), {r: 0 for r in REASONS})


# -- reload ------------------------------------------------------------------------------

class SourceReloadTest(ServerTestCase):

    def test_sighup_replaces_removes_and_adds_sources_without_dropping_clients(self):
        cfg1 = {"publish": {"tokens": [TOKEN]}, "topics": {
            "echo": cmd("echo 42", interval_ms=150),
            "gone": cmd("echo 5", interval_ms=150),
            "later": {},
        }}
        path = write_temp(json.dumps(cfg1))
        server = self.start_server(path)
        cfg2 = {"publish": {"tokens": [TOKEN]}, "topics": {
            "echo": cmd("echo 43", interval_ms=150),
            "gone": {},
            "later": cmd("echo 9", interval_ms=150),
        }}

        async def main():
            ws_echo = await websockets.connect(server.ws_url("/topics/echo"), open_timeout=5)
            ws_gone = await websockets.connect(server.ws_url("/topics/gone"), open_timeout=5)
            echo_got, gone_got = [], []

            async def collect(ws, out, until):
                while time.monotonic() < until:
                    try:
                        out.append(json.loads(await asyncio.wait_for(
                            ws.recv(), max(0.01, until - time.monotonic()))))
                    except asyncio.TimeoutError:
                        break

            try:
                t = time.monotonic()
                await asyncio.gather(collect(ws_echo, echo_got, t + 1.0),
                                     collect(ws_gone, gone_got, t + 1.0))
                write_config(path, cfg2)
                server.proc.send_signal(signal.SIGHUP)
                t = time.monotonic()
                await asyncio.gather(collect(ws_echo, echo_got, t + 1.5),
                                     collect(ws_gone, gone_got, t + 1.5))
                gone_seq_a = server.topic("gone")["seq"]
                await asyncio.sleep(0.6)
                gone_seq_b = server.topic("gone")["seq"]
                status, _, body = server.http("/topics/gone", "POST", body=b"77",
                                              headers={"Authorization": f"Bearer {TOKEN}"})
                await collect(ws_gone, gone_got, time.monotonic() + 1.0)
                still_open = (ws_echo.open, ws_gone.open)
                return echo_got, gone_got, (gone_seq_a, gone_seq_b), (status, body), still_open
            finally:
                for ws in (ws_echo, ws_gone):
                    ws.transport.abort()

        echo_got, gone_got, gone_seqs, posted, still_open = run_async(main(), 25)
        self.assertEqual(still_open, (True, True), "a client was dropped by the reload")
        wait_for_metric(server, "happy_config_reloads_total", lambda v: v == 1, result="ok")

        with self.subTest("replaced"):
            vals = [e["echo"] for e in echo_got]
            assert_consecutive(self, [e["seq"] for e in echo_got], "echo across the reload")
            self.assertIn(42, vals)
            self.assertIn(43, vals, f"the replaced command never ran: {vals}")
            first43 = vals.index(43)
            self.assertTrue(all(v == 42 for v in vals[:first43]), vals)
            self.assertTrue(all(v == 43 for v in vals[first43:]),
                            f"the old command still ran after the new one: {vals}")
            self.assertGreaterEqual(len(vals) - first43, 4, vals)

        with self.subTest("removed"):
            self.assertEqual(gone_seqs[0], gone_seqs[1], "the removed source still publishes")
            self.assertEqual(posted[0], 202, posted)
            self.assertEqual(gone_got[-1]["gone"], 77, gone_got[-3:])
            assert_consecutive(self, [e["seq"] for e in gone_got], "gone across the reload")
            self.assertTrue(all(e["gone"] == 5 for e in gone_got[:-1]), gone_got)
            self.assertIsNone(server.topic("gone")["interval_ms"])

        with self.subTest("added"):
            got = wait_for_values(server, "later", 3)
            self.assertEqual(set(got), {9})
            self.assertEqual(server.topic("later")["interval_ms"], 150)
            self.assertGreaterEqual(metric_value(get_metrics(server), "happy_source_readings_total",
                                                 topic="later"), 3)

        with self.subTest("an invalid source keeps the running config"):
            write_config(path, {"topics": {
                "echo": {"source": {"command": ["sh", "-c", "echo 44"], "interval_ms": 150}},
                "gone": {}, "later": {}}})
            server.proc.send_signal(signal.SIGHUP)
            wait_for_metric(server, "happy_config_reloads_total", lambda v: v == 1,
                            result="failed")
            wait_for_stderr(server, re.escape("/topics/echo/source/command/0"))
            before = server.topic("echo")["seq"]
            server.wait_for_seq(before + 3, topic="echo", timeout=3)
            self.assertEqual(set(values(server, "echo")[-3:]), {43})
            server.wait_for_seq(server.topic("later")["seq"] + 2, topic="later", timeout=3)


# -- runs in flight when the source goes away ----------------------------------------------

class InFlightRunTest(ServerTestCase):
    """A run that is still going when its source is replaced, removed or the service stops."""

    def test_reload_stops_the_old_run_so_runs_never_overlap(self):
        tmp = tempfile.mkdtemp(prefix="happy-src-inflight-")
        self.addCleanup(shutil.rmtree, tmp, True)
        runs = os.path.join(tmp, "runs")
        pids = os.path.join(tmp, "pids")
        self.addCleanup(kill_recorded, pids)  # after the server is gone

        def slow(tag):
            # Each run first notes any run of the other tag whose shell is still alive
            # (the service reaps a run it stopped before it starts the next one).
            return cmd(f"for p in $(/bin/sed -n 's/^start [^{tag}] \\([0-9]*\\)$/\\1/p' {runs}); do "
                       f"kill -0 $p 2>/dev/null && echo overlap {tag} $p >> {runs}; done; "
                       f"echo start {tag} $$ >> {runs}; /bin/sleep 1.5; "
                       f"echo end {tag} $$ >> {runs}; echo {tag}",
                       interval_ms=100, timeout_ms=10000)

        removed = cmd(f"echo $$ >> {pids}; /bin/sleep 20; echo 5", interval_ms=100,
                      timeout_ms=30000)
        path = write_temp(json.dumps({"topics": {"replaced": slow(1), "removed": removed}}))
        server = self.start_server(path)
        deadline = time.monotonic() + 3
        while not (os.path.exists(runs) and os.path.exists(pids)):
            self.assertLess(time.monotonic(), deadline, "the commands never started")
            time.sleep(0.05)
        time.sleep(0.3)  # run 1 of `replaced` is halfway
        write_config(path, {"topics": {"replaced": slow(2), "removed": {}}})
        server.proc.send_signal(signal.SIGHUP)
        wait_for_stderr(server, r"reload: applied")
        time.sleep(2.5)

        with self.subTest("the replaced source's run is stopped, and runs never overlap"):
            with open(runs) as f:
                events = [line.split() for line in f if line.strip()]
            self.assertEqual([e for e in events if e[0] == "overlap"], [],
                             f"a new run started while an old one was alive: {events}")
            self.assertEqual([e for e in events if e[:2] == ["end", "1"]], [],
                             f"the old run went on after the reload: {events}")
            self.assertIn(["start", "2"], [e[:2] for e in events], events)
            # Nothing the old run could print is published after the new one's readings.
            vals = values(server, "replaced")
            self.assertEqual(vals, sorted(vals), vals)

        with self.subTest("the removed source's run is stopped"):
            with open(pids) as f:
                pid = int(f.read().split()[0])
            self.assertTrue(process_gone(pid),
                            f"the run of the removed source (pid {pid}) still runs 2.5 s after "
                            "the reload")
            self.assertEqual(server.topic("removed")["seq"], 0)

    def test_sigterm_does_not_wait_for_a_running_command(self):
        pidfile = write_temp("", suffix=".pids")
        self.addCleanup(kill_recorded, pidfile)  # after the server is gone

        def recorded():
            with open(pidfile) as f:
                return f.read().split()
        server = self.start_server({
            "server": {"shutdown_grace_ms": 1000},
            "topics": {"long": cmd(f"echo $$ >> {pidfile}; exec /bin/sleep 30",
                                   interval_ms=100, timeout_ms=20000)}})
        deadline = time.monotonic() + 3
        while not recorded():
            self.assertLess(time.monotonic(), deadline, "the command never started")
            time.sleep(0.05)
        pid = int(recorded()[0])
        started = time.monotonic()
        # shutdown_grace_ms is 1 s and no client is connected: it must not wait for the
        # command's 20 s timeout.
        self.assertEqual(server.stop(timeout=4), 0)
        self.assertLess(time.monotonic() - started, 3.0)
        time.sleep(0.2)
        self.assertTrue(process_gone(pid), f"the command (pid {pid}) outlived the service")


# -- config errors -----------------------------------------------------------------------

class SourceConfigErrorTest(unittest.TestCase):

    def cases(self):
        not_executable = write_temp("#!/bin/sh\necho 1\n", suffix=".sh")
        os.chmod(not_executable, 0o644)

        def topic(src):
            return {"topics": {"x": {"source": src}}}

        return [
            ("two kinds", topic({"system": "cpu", "command": ["/bin/true"]}),
             "/topics/x/source", "system"),
            ("no kind", topic({"interval_ms": 100}), "/topics/x/source", "command"),
            ("key of another kind", topic({"command": ["/bin/true"], "json_pointer": "/a"}),
             "/topics/x/source/json_pointer", "command source"),
            ("relative program", topic({"command": ["sh", "-c", "x"]}),
             "/topics/x/source/command/0", "'sh'"),
            ("missing program", topic({"command": ["/no/such/program"]}),
             "/topics/x/source/command/0", "/no/such/program"),
            ("not executable", topic({"command": [not_executable]}),
             "/topics/x/source/command/0", not_executable),
            ("empty command", topic({"command": []}), "/topics/x/source/command", ""),
            ("missing cwd", topic({"command": ["/bin/true"], "cwd": "/no/such/dir"}),
             "/topics/x/source/cwd", "/no/such/dir"),
            ("url without host", topic({"http": "http://"}), "/topics/x/source/http", "http://"),
            ("not http", topic({"http": "ftp://example.org/x"}), "/topics/x/source/http", "ftp"),
            ("port out of range", topic({"http": "http://127.0.0.1:65536/x"}),
             "/topics/x/source/http", "65536"),
            ("port not a number", topic({"http": "http://127.0.0.1:abc/x"}),
             "/topics/x/source/http", "abc"),
            ("pointer without slash", topic({"http": "http://127.0.0.1:1/", "json_pointer": "a/b"}),
             "/topics/x/source/json_pointer", "a/b"),
            ("pointer bad escape", topic({"http": "http://127.0.0.1:1/", "json_pointer": "/a~2"}),
             "/topics/x/source/json_pointer", "/a~2"),
            ("pointer and prometheus", topic({"http": "http://127.0.0.1:1/", "json_pointer": "/a",
                                              "prometheus": {"metric": "m"}}),
             "/topics/x/source", "prometheus"),
            ("unknown system metric", topic({"system": "gpu"}), "/topics/x/source/system", "gpu"),
            ("generator and source", {"topics": {"x": {"generator": {"interval_ms": 100},
                                                       "source": {"system": "cpu"}}}},
             "/topics/x/source", "generator"),
            ("interval 0", topic({"system": "cpu", "interval_ms": 0}),
             "/topics/x/source/interval_ms", "1"),
            ("timeout 0", topic({"command": ["/bin/true"], "timeout_ms": 0}),
             "/topics/x/source/timeout_ms", "1"),
            ("env not a string", topic({"command": ["/bin/true"], "env": {"X": 1}}),
             "/topics/x/source/env/X", "string"),
        ]

    def test_bad_sources_are_refused_with_exit_2_and_the_json_path(self):
        for what, cfg, pointer, fragment in self.cases():
            with self.subTest(what):
                path = write_temp(json.dumps(cfg))
                result = run_cli("--check-config", path)
                self.assertEqual(result.returncode, 2,
                                 f"stdout={result.stdout!r} stderr={result.stderr!r}")
                self.assertIn(f"{path}: {pointer}: ", result.stderr)
                self.assertIn(fragment, result.stderr.split(f"{path}: {pointer}: ", 1)[1])

    def test_the_server_refuses_to_start_with_a_bad_source(self):
        # All at once (each should exit at once); one that keeps running is killed at the
        # deadline, which leaves room for twenty sanitizer builds starting on two cores.
        started = []
        for what, cfg, pointer, _ in self.cases():
            path = write_temp(json.dumps(cfg))
            proc = subprocess.Popen([binary_path(), "--config", path, "--port", str(free_port())],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            self.addCleanup(proc.kill)
            started.append((what, path, pointer, proc))
        deadline = time.monotonic() + 30
        for what, path, pointer, proc in started:
            with self.subTest(what):
                try:
                    _, stderr = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                    self.fail(f"the server started with a bad source ({what})")
                self.assertEqual(proc.returncode, 2, stderr)
                self.assertIn(f"{path}: {pointer}: ", stderr)

    def test_valid_sources_pass_check_config(self):
        workdir = tempfile.mkdtemp(prefix="happy-src-cwd-")
        self.addCleanup(shutil.rmtree, workdir, True)
        path = write_temp(json.dumps({"topics": {
            "cpu": {"source": {"system": "cpu"}},
            "echo": {"source": {"command": ["/bin/sh", "-c", "echo 42"], "interval_ms": 300,
                                "timeout_ms": 2000, "env": {"X": "1"}, "cwd": workdir}},
            "web": {"source": {"http": "http://127.0.0.1:9/data.json", "headers": {"X-K": "k"},
                               "json_pointer": "/a/b~1c/1"}},
            "prom": {"source": {"http": "https://example.org/metrics",
                                "prometheus": {"metric": "m", "labels": {"k": "v"}}}},
        }}))
        result = run_cli("--check-config", path)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), f"{path}: valid")


class DefaultConfigTest(ServerTestCase):

    def test_default_config_has_no_source_metrics(self):
        server = self.start_server(None)
        status, _, body = server.http("/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        self.assertIn("happy_connections", text)
        self.assertNotIn("happy_source_", text)

    def test_generators_only_config_has_no_source_metrics(self):
        server = self.start_server({"topics": {"happiness": {"generator": {"interval_ms": 100}},
                                               "orders": {}}})
        server.wait_for_seq(1)
        _, _, body = server.http("/metrics")
        self.assertNotIn("happy_source_", body.decode())


if __name__ == "__main__":
    unittest.main()
