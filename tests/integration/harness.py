"""Black-box harness for the happy-dashboard integration tests.

Starts the real binary (HAPPY_BINARY, default ../../build/happy-dashboard) on
a free loopback port, with a config written to a temporary file (or the
embedded default), and stops it again -- always, even when a test fails. A
test's server ends with SIGTERM and must exit 0 with no sanitizer report in
its stderr (Server.close()), so that LeakSanitizer runs and a sanitizer build
fails the test that made the server print a report.

Run a test module with `python3 -m harness -v test_x` (as tests/CMakeLists.txt
does): like `python3 -m unittest`, but a run with skipped tests and no failures
exits 77, which CTest shows as skipped rather than passed.

Only the standard library and Debian's python3-websockets (10.4) are used, so
run these tests with /usr/bin/python3.
"""

import asyncio
import base64
import contextlib
import ctypes
import functools
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import netns as namespaces

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "config", "examples"))
HOST = "127.0.0.1"


def binary_path():
    path = os.environ.get("HAPPY_BINARY") or os.path.normpath(
        os.path.join(HERE, "..", "..", "build", "happy-dashboard"))
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        # Fail rather than skip: a missing binary must not look like a passing suite.
        raise RuntimeError(f"happy-dashboard binary not found at {path} (set HAPPY_BINARY)")
    return path


def fast_config(interval_ms=100, history=600, extra_topics=None, **top_level):
    """A config whose `happiness` topic produces a uniform 0..10 reading every interval_ms."""
    topics = {
        "happiness": {"generator": {"interval_ms": interval_ms, "distribution": "uniform",
                                    "min": 0, "max": 10}},
    }
    topics.update(extra_topics or {})
    cfg = {"limits": {"history": history}, "topics": topics}
    cfg.update(top_level)
    return cfg


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_accepts(port, host=HOST, timeout=0.2, namespace=None):
    """Whether host:port accepts a connection (from inside network namespace `namespace`)."""
    try:
        with namespaces.entered(namespace):
            sock = socket.create_connection((host, port), timeout=timeout)
        sock.close()
        return True
    except OSError:
        return False


_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """preexec_fn: the kernel sends SIGKILL to the child when the thread that started it
    ends, so a test runner killed hard (its cleanups and atexit hooks then never run) leaves
    no process behind. Start such children from the main thread: it lives as long as the
    test process."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def now_ms():
    return int(time.time() * 1000)


def write_temp(text, suffix=".json"):
    """Writes text to a temporary file that is removed when the test process ends."""
    fd, path = tempfile.mkstemp(prefix="happy-test-", suffix=suffix)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    _temp_files.append(path)
    return path


_temp_files = []


def _remove_temp_files():
    for path in _temp_files:
        try:
            os.unlink(path)
        except OSError:
            pass


import atexit  # noqa: E402

atexit.register(_remove_temp_files)


def run_cli(*args, timeout=10, env=None):
    """Runs the binary to completion (e.g. --check-config, --help)."""
    full_env = dict(os.environ)
    full_env.pop("PORT", None)
    full_env.update(env or {})
    return subprocess.run([binary_path(), *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, stdin=subprocess.DEVNULL)


# A sanitizer's report: the ERROR/WARNING header of AddressSanitizer, LeakSanitizer (and
# any other *Sanitizer), their deadly-signal and fatal-error lines, and UBSan's
# "<file>:<line>:<col>: runtime error: ...".
SANITIZER_REPORT = re.compile(
    r"(?:ERROR|WARNING): [A-Za-z]*Sanitizer|[A-Za-z]+Sanitizer(?::DEADLYSIGNAL| has encountered)"
    r"|: runtime error: ")
REPORT_LINES = 60  # of a server's stderr in a failure message


def signal_name(returncode):
    """An exit status as a reader wants it: "0", "1", "SIGABRT"."""
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-returncode).name
    return str(returncode)


def stderr_excerpt(text, lines=REPORT_LINES):
    """The part of a server's stderr a failure message shows: `lines` lines from the first
    sanitizer report on (its stack is what matters), else the last `lines` lines."""
    all_lines = text.splitlines()
    first = next((i for i, line in enumerate(all_lines) if SANITIZER_REPORT.search(line)), None)
    if first is not None:
        shown = all_lines[first:first + lines]
        where = f"lines {first + 1}-{first + len(shown)}"
    else:
        shown = all_lines[-lines:]
        where = f"last {len(shown)} lines"
    return "\n".join([f"--- stderr, {where} of {len(all_lines)}:"] + shown)


def sigterm_bound_s(grace_ms, binary=None):
    """How long a server may take to exit after SIGTERM: its shutdown grace (a client that
    never answers the close frame holds the drain that long), plus a margin that is generous
    under a sanitizer (slower, and LeakSanitizer scans the heap at exit)."""
    return grace_ms / 1000 + (30.0 if is_sanitizer_build(binary) else 10.0)


class Process(subprocess.Popen):
    """Popen that remembers a SIGKILL sent to it (proc.kill(), proc.send_signal(SIGKILL)):
    a test that kills its server on purpose checks that exit status itself."""

    sigkilled = False

    def send_signal(self, sig):
        if sig == signal.SIGKILL:
            self.sigkilled = True
        super().send_signal(sig)


def close_servers(servers):
    """The default end of test servers (Server.close(), the cluster tests' tearDown).

    Each server the test did not stop itself (stopped_by_test) gets SIGTERM and must exit 0
    within its shutdown_bound_s(); all are signalled first, then awaited, so a cluster stops
    together. Every server's stderr, the stopped ones' too, must hold no sanitizer report.
    Leaves no process behind (kill()). Raises AssertionError naming each problem with an
    excerpt of that server's stderr. A server is closed once; later calls skip it.

    A server here has: proc (a Popen), stopped_by_test, closed, label, shutdown_bound_s(),
    stderr() and kill()."""
    servers = [s for s in servers if not s.closed]
    checked = []  # (server, still running when the cleanup began, deadline)
    for s in servers:
        s.closed = True
        if s.stopped_by_test:
            continue
        running = s.proc.poll() is None
        if running:
            with contextlib.suppress(OSError):
                s.proc.send_signal(signal.SIGCONT)  # one the test left stopped could not exit
                s.proc.send_signal(signal.SIGTERM)
        checked.append((s, running, time.monotonic() + s.shutdown_bound_s()))
    problems = {s: [] for s in servers}
    try:
        for s, running, deadline in checked:
            try:
                s.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                problems[s].append(f"did not exit within {s.shutdown_bound_s():.0f} s of "
                                   f"SIGTERM (killed)")
                continue
            if s.proc.returncode != 0:
                when = "after SIGTERM" if running else "before the cleanup"
                problems[s].append(f"exited with {signal_name(s.proc.returncode)} {when}, "
                                   f"not 0")
    finally:
        for s in servers:
            s.kill()
    for s in servers:
        if SANITIZER_REPORT.search(s.stderr()):
            problems[s].append("sanitizer report in stderr")
    failed = [f"{s.label}: {'; '.join(p)}\n{stderr_excerpt(s.stderr())}"
              for s, p in problems.items() if p]
    if failed:
        raise AssertionError("\n".join(failed))


class Server:
    """One running happy-dashboard process."""

    def __init__(self, config=None, port="free", env=None, args=(), start_timeout=10.0,
                 preexec=None, netns=None):
        """config: dict (written to a temp file), str (a path) or None (embedded default).
        port: "free" (pick one and pass --port), None (no --port), or an int.
        preexec: runs in the child before the binary (e.g. to set a resource limit).
        netns: a network namespace (netns.py) to run in; the server is then reached on
        HOST inside that namespace (the test's requests are opened from there)."""
        self.binary = binary_path()
        self.host = HOST
        self.netns = netns
        self.config_path = None
        if isinstance(config, dict):
            self.config_path = write_temp(json.dumps(config))
        elif isinstance(config, str):
            self.config_path = config
        self.port = free_port() if port == "free" else port
        argv = [self.binary]
        if self.config_path:
            argv += ["--config", self.config_path]
        if self.port is not None:
            argv += ["--port", str(self.port)]
        argv += list(args)
        if netns is not None:
            argv = namespaces.exec_prefix(netns) + argv
        full_env = dict(os.environ)
        full_env.pop("PORT", None)
        full_env.update(env or {})
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        self._stdout = tempfile.TemporaryFile(mode="w+b")
        self._stopped = False  # by the test: stop() or kill()
        self.closed = False    # by close_servers()
        self.proc = Process(argv, stdout=self._stdout, stderr=self._stderr,
                            stdin=subprocess.DEVNULL, env=full_env, preexec_fn=preexec)
        try:
            self._wait_ready(start_timeout)
        except BaseException:
            self.kill()
            raise

    # -- lifecycle ---------------------------------------------------------

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"happy-dashboard exited with {self.proc.returncode} before "
                                   f"listening; stderr:\n{self.stderr()}")
            if self.port is None or self.port == 0:
                m = re.search(r"listening on \S*:(\d+)", self.stderr())
                if m and int(m.group(1)) != 0 and port_accepts(int(m.group(1)),
                                                                namespace=self.netns):
                    self.port = int(m.group(1))
                    return
            elif port_accepts(self.port, namespace=self.netns):
                return
            time.sleep(0.05)
        raise RuntimeError(f"happy-dashboard did not accept connections on port {self.port} "
                           f"within {timeout} s; stderr:\n{self.stderr()}")

    @property
    def label(self):
        where = f", netns {self.netns}" if self.netns else ""
        return f"happy-dashboard (pid {self.proc.pid}, port {self.port}{where})"

    @property
    def stopped_by_test(self):
        """The test ended this process itself (stop(), kill(), a SIGKILL through proc): its
        exit status was the test's to check, close() only reads its stderr."""
        return self._stopped or self.proc.sigkilled

    def shutdown_bound_s(self):
        grace_ms = 10000  # README: server.shutdown_grace_ms
        if self.config_path:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
                with open(self.config_path) as f:
                    grace_ms = json.load(f)["server"]["shutdown_grace_ms"]
        return sigterm_bound_s(grace_ms, self.binary)

    def close(self):
        """The default end (ServerTestCase's cleanup): see close_servers()."""
        close_servers([self])

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig and waits for the exit; kills it (and fails) after timeout."""
        self._stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"happy-dashboard did not exit within {timeout} s after "
                                     f"signal {sig}; stderr:\n{self.stderr()}")
        return self.proc.returncode

    def kill(self):
        """Unconditional cleanup: SIGKILL if still running, reap, close files. close()
        afterwards still reads stderr for sanitizer reports."""
        self._stopped = True
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._close_files()

    def _close_files(self):
        if self._stderr is not None and self.proc.poll() is not None:
            self._stderr_text, self._stdout_text = self.stderr(), self.stdout()
            self._stderr.close()
            self._stdout.close()
            self._stderr = self._stdout = None

    def stderr(self):
        if self._stderr is None:
            return self._stderr_text
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def stdout(self):
        if self._stdout is None:
            return self._stdout_text
        self._stdout.flush()
        self._stdout.seek(0)
        return self._stdout.read().decode("utf-8", "replace")

    # -- HTTP --------------------------------------------------------------

    def ws_url(self, path):
        return f"ws://{HOST}:{self.port}{path}"

    def http(self, path, method="GET", headers=None, body=None, timeout=5.0):
        """One HTTP request; returns (status, headers dict with lower-case keys, body bytes)."""
        conn = namespaces.http_connection(HOST, self.port, timeout, self.netns)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            body = res.read()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, body
        finally:
            conn.close()

    def http_upgrade(self, path, extra_headers=None, timeout=5.0):
        """GET with WebSocket upgrade headers; for reading the body of a refused handshake."""
        headers = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
        }
        headers.update(extra_headers or {})
        return self.http(path, headers=headers, timeout=timeout)

    def topics(self):
        status, headers, body = self.http("/topics")
        if status != 200:
            raise AssertionError(f"GET /topics answered {status}: {body!r}")
        return json.loads(body)

    def topic(self, name="happiness"):
        for t in self.topics():
            if t.get("name") == name:
                return t
        raise AssertionError(f"topic {name!r} not in GET /topics")

    def wait_for(self, predicate, timeout=5.0, what="condition", interval=0.05):
        """Polls predicate(topic_list) until it is true; returns the topic list."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = self.topics()
            if predicate(last):
                return last
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; "
                                     f"last GET /topics: {last}")
            time.sleep(interval)

    def wait_for_seq(self, minimum, topic="happiness", timeout=10.0):
        topics = self.wait_for(
            lambda ts: any(t["name"] == topic and t["seq"] >= minimum for t in ts),
            timeout=timeout, what=f"{topic} seq >= {minimum}")
        return next(t for t in topics if t["name"] == topic)["seq"]


class ServerTestCase(unittest.TestCase):
    """TestCase with start_server(): after the test, the server gets SIGTERM and must exit 0
    with no sanitizer report in its stderr (Server.close()); it is always gone then."""

    def start_server(self, config=None, **kwargs):
        server = Server(config, **kwargs)
        self.addCleanup(server.close)
        return server


def run_async(coro, timeout):
    """Runs a coroutine with an overall time bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def envelope_seqs(messages):
    return [json.loads(m)["seq"] for m in messages]


# -- SSE, HTTP streaming and long-poll helpers (asyncio, raw sockets) --------

def parse_http_head(raw):
    """Parses b"HTTP/1.1 200 OK\r\nName: value\r\n...\r\n\r\n" into (status, headers).

    Header names are lower-cased; repeated headers are joined with ", "."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise AssertionError(f"not an HTTP status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return int(parts[1]), headers


def request_bytes(method, path, port, headers, body=None):
    """One HTTP/1.1 request as bytes, with Host (and Content-Length for a body) filled in:
    for clients that write to a raw socket or asyncio stream."""
    all_headers = {"Host": f"{HOST}:{port}"}
    all_headers.update(headers or {})
    if body is not None:
        all_headers["Content-Length"] = str(len(body))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
    return head.encode("latin-1") + (body or b"")


class HttpStream:
    """One GET whose response is read incrementally on a raw asyncio connection:
    the head as soon as it arrives (open()), then the body line by line, decoding
    `Transfer-Encoding: chunked` by hand so that nothing buffers ahead of the test.

    Every read is bounded by a timeout; close() (or `async with`) drops the connection."""

    def __init__(self, reader, writer, status, headers):
        self.reader, self.writer = reader, writer
        self.status, self.headers = status, headers
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._remaining = None if self.chunked else int(headers.get("content-length", -1))
        self._buf = b""
        self.eof = False
        self.sse_comments = []

    @classmethod
    async def open(cls, port, path, headers=None, timeout=5.0, method="GET", body=None):
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        try:
            writer.write(request_bytes(method, path, port, headers, body))
            await writer.drain()
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        except BaseException:
            writer.close()
            raise
        status, hdrs = parse_http_head(raw)
        return cls(reader, writer, status, hdrs)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()

    def close(self):
        if not self.writer.is_closing():
            self.writer.close()

    async def _fill(self):
        """Appends the next piece of the body to the buffer; sets eof at its end."""
        if self.eof:
            return
        if self.chunked:
            line = await self.reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                self.eof = True
                return
            data = await self.reader.readexactly(size + 2)
            if data[-2:] != b"\r\n":
                raise AssertionError(f"chunk of {size} bytes not followed by CRLF: {data[-2:]!r}")
            self._buf += data[:-2]
        elif self._remaining is not None and self._remaining >= 0:
            if self._remaining == 0:
                self.eof = True
                return
            data = await self.reader.read(min(self._remaining, 65536))
            if not data:
                raise AssertionError("connection closed before Content-Length bytes arrived")
            self._remaining -= len(data)
            self._buf += data
        else:
            data = await self.reader.read(65536)
            if not data:
                self.eof = True
            self._buf += data

    async def read_line(self, timeout=5.0):
        """The next body line without its "\n" (str); EOFError at the end of the body."""
        async def line():
            while b"\n" not in self._buf:
                if self.eof:
                    raise EOFError(f"body ended; unterminated rest: {self._buf!r}")
                await self._fill()
            out, _, self._buf = self._buf.partition(b"\n")
            return out.decode("utf-8")
        return await asyncio.wait_for(line(), timeout)

    async def read_lines(self, n, timeout=5.0):
        return [await self.read_line(timeout) for _ in range(n)]

    async def read_body(self, timeout=5.0):
        """The rest of the body (bytes), up to its end."""
        async def body():
            while not self.eof:
                await self._fill()
            out, self._buf = self._buf, b""
            return out
        return await asyncio.wait_for(body(), timeout)

    async def read_event(self, timeout=5.0):
        """The next Server-Sent Event as {"id": str|None, "data": str, "comments": [...]}.

        Comment-only blocks (e.g. ": heartbeat") are skipped; their text is kept in
        self.sse_comments."""
        async def event():
            fields, data, comments = {}, [], []
            while True:
                line = await self.read_line(timeout)
                if line.endswith("\r"):
                    line = line[:-1]
                if line == "":
                    if data or fields:
                        return {"id": fields.get("id"), "data": "\n".join(data),
                                "event": fields.get("event"), "comments": comments}
                    self.sse_comments.extend(comments)
                    comments = []
                    continue
                if line.startswith(":"):
                    comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value
        return await asyncio.wait_for(event(), timeout)

    async def read_envelopes(self, n, timeout=5.0):
        """n envelopes (parsed) from an SSE or NDJSON stream, depending on Content-Type."""
        out = []
        sse = self.headers.get("content-type", "").startswith("text/event-stream")
        for _ in range(n):
            if sse:
                ev = await self.read_event(timeout)
                env = json.loads(ev["data"])
                if ev["id"] != str(env["seq"]):
                    raise AssertionError(f"SSE id {ev['id']!r} != envelope seq {env['seq']}")
            else:
                env = json.loads(await self.read_line(timeout))
            out.append(env)
        return out


async def http_request_async(port, path, headers=None, method="GET", body=None, timeout=5.0):
    """One complete request on its own connection: (status, headers, body bytes)."""
    stream = await HttpStream.open(port, path, headers, timeout=timeout, method=method, body=body)
    try:
        return stream.status, stream.headers, await stream.read_body(timeout)
    finally:
        stream.close()


async def long_poll(port, path, since=None, timeout_s=None, headers=None, client_timeout=70.0):
    """GET path?poll=1[&since=..][&timeout=..]; returns (status, headers, parsed JSON body)."""
    query = ["poll=1"]
    if since is not None:
        query.append(f"since={since}")
    if timeout_s is not None:
        query.append(f"timeout={timeout_s}")
    sep = "&" if "?" in path else "?"
    status, hdrs, raw = await http_request_async(port, path + sep + "&".join(query), headers,
                                                 timeout=client_timeout)
    return status, hdrs, json.loads(raw) if raw else None


def assert_consecutive(testcase, seqs, what=""):
    """seqs is non-empty and each is the previous + 1 (no gap, no duplicate)."""
    testcase.assertTrue(seqs, f"{what}: nothing received")
    expected = list(range(seqs[0], seqs[0] + len(seqs)))
    if seqs != expected:
        gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]
        testcase.fail(f"{what}: seqs not consecutive; first breaks {gaps[:5]} in {len(seqs)}")


# -- operations helpers: /metrics, raw WebSocket client, config files --------

_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text format -> {(name, ((label, value), ...) sorted): float}."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            raise AssertionError(f"unparsable metrics line: {line!r}")
        labels = tuple(sorted(_LABEL_RE.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def metric_value(samples, name, **labels):
    """The sample's value, or None when the series is absent."""
    return samples.get((name, tuple(sorted(labels.items()))))


def get_metrics(server):
    """GET /metrics -> parsed samples (asserts 200)."""
    status, _, body = server.http("/metrics")
    if status != 200:
        raise AssertionError(f"GET /metrics answered {status}: {body[:200]!r}")
    return parse_metrics(body.decode("utf-8"))


def wait_for_metric(server, name, predicate, timeout=5.0, interval=0.05, **labels):
    """Polls /metrics until predicate(value) (value may be None); returns the value."""
    deadline = time.monotonic() + timeout
    while True:
        value = metric_value(get_metrics(server), name, **labels)
        if predicate(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting on {name}{labels}; "
                                 f"last value {value}")
        time.sleep(interval)


class RawWebSocket:
    """A WebSocket client on a plain blocking socket that does the handshake and then
    does nothing on its own: it never reads unless asked, never answers pings and never
    answers the server's close frame. For slow consumers and for holding a drain open.

    rcvbuf (bytes) shrinks the socket's receive buffer before connecting."""

    def __init__(self, port, path, rcvbuf=None, timeout=5.0, headers=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((HOST, port))
            key = base64.b64encode(os.urandom(16)).decode()
            all_headers = {"Host": f"{HOST}:{port}", "Connection": "Upgrade",
                           "Upgrade": "websocket", "Sec-WebSocket-Key": key,
                           "Sec-WebSocket-Version": "13"}
            all_headers.update(headers or {})
            self.sock.sendall(request_bytes("GET", path, port, all_headers))
            self._buf = b""
            while b"\r\n\r\n" not in self._buf:
                data = self.sock.recv(4096)
                if not data:
                    raise AssertionError(f"connection closed during the handshake: {self._buf!r}")
                self._buf += data
            head, _, self._buf = self._buf.partition(b"\r\n\r\n")
            self.status, self.headers = parse_http_head(head + b"\r\n\r\n")
            if self.status != 101:
                raise AssertionError(f"WebSocket handshake answered {self.status}")
        except BaseException:
            self.sock.close()
            raise
        self.local_port = self.sock.getsockname()[1]

    def _read_exactly(self, n, deadline):
        while len(self._buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out reading a WebSocket frame")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed by the server")
            self._buf += data
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def read_frame(self, timeout=5.0):
        """The next frame as (opcode, payload bytes); fragments are not joined."""
        deadline = time.monotonic() + timeout
        b0, b1 = self._read_exactly(2, deadline)
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(self._read_exactly(2, deadline), "big")
        elif length == 127:
            length = int.from_bytes(self._read_exactly(8, deadline), "big")
        if b1 & 0x80:
            raise AssertionError("server sent a masked frame")
        return b0 & 0x0F, self._read_exactly(length, deadline)

    def read_until_close(self, timeout=10.0):
        """Reads (and discards) frames until the close frame: (code, reason, data frames seen).
        Does not answer the close. code is None for a close frame without a body."""
        deadline = time.monotonic() + timeout
        frames = 0
        while True:
            opcode, payload = self.read_frame(max(0.0, deadline - time.monotonic()))
            if opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                return code, payload[2:].decode("utf-8", "replace"), frames
            if opcode in (0x0, 0x1, 0x2):
                frames += 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def write_config(path, cfg):
    """(Re)writes a config file in place: a dict as JSON, a str as is."""
    text = cfg if isinstance(cfg, str) else json.dumps(cfg, indent=1)
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def wait_for_stderr(server, pattern, timeout=5.0, interval=0.05, flags=0):
    """Polls the server's stderr until the regex matches; returns the match."""
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(pattern, server.stderr(), flags)
        if m:
            return m
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {pattern!r} in "
                                 f"stderr:\n{server.stderr()}")
        time.sleep(interval)


# -- load tests: sanitizer builds, RSS sampling, a lean asyncio WebSocket client --

@functools.lru_cache(maxsize=None)  # read once per binary, not once per server
def is_sanitizer_build(path=None):
    """True when the binary is an AddressSanitizer build (2-3x slower, several times
    the memory): load tests scale their sizes down and their memory bounds up.
    Decided by the path (build-asan/...) or by libasan among the binary's needed
    libraries (the dynamic string table sits near the start of the file)."""
    path = path or binary_path()
    if "asan" in path.lower():
        return True
    try:
        with open(path, "rb") as f:
            return b"libasan.so" in f.read(8 * 1024 * 1024)
    except OSError:
        return False


def rss_bytes(pid):
    """VmRSS of a process in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class RssSampler:
    """Samples a process's VmRSS every `interval` s on a thread; `max_bytes` is the peak.
    Use as a context manager around the load."""

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval = pid, interval
        self.max_bytes = self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.max_bytes = max(self.max_bytes, rss_bytes(self.pid))
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.max_bytes = max(self.max_bytes, rss_bytes(self.pid))


def mask_payload(payload, key):
    """XORs payload with the 4-byte masking key (RFC 6455 5.3), in one big-int operation."""
    if not payload:
        return b""
    n = len(payload)
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def ws_frame(opcode, payload=b"", fin=True, mask=True, rsv=0, mask_key=None):
    """One client-to-server WebSocket frame, encoded by hand (so it may be wrong on purpose)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    return head + key + mask_payload(payload, key)


_SEQ_KEY = b'"seq":'


def envelope_seq(payload):
    """The seq of an envelope (bytes) without parsing all of it: the envelope's own
    "seq" key comes after the value, so the last occurrence is the right one."""
    i = payload.rfind(_SEQ_KEY)
    if i < 0:
        raise AssertionError(f"no seq in {payload[:200]!r}")
    j = payload.find(b",", i)
    return int(payload[i + len(_SEQ_KEY):j if j >= 0 else len(payload) - 1])


class LeanWebSocket(asyncio.Protocol):
    """A WebSocket client as a bare asyncio Protocol, for tests with thousands of
    connections or millions of frames, where `websockets` would be the bottleneck.

    Does the opening handshake, answers pings, and records the seq of every text
    message in `seqs` (or hands each message's payload to `on_text(payload)` instead).
    Records the server's close frame (`close_code`, `close_reason`; `close_received`
    resolves then) without answering it; `done` resolves when the connection is gone.
    Open with LeanWebSocket.open()."""

    def __init__(self, host, port, path, on_text=None, headers=None):
        self.host, self.port, self.path = host, port, path
        self.on_text = on_text
        self.extra_headers = headers or {}
        self.seqs = []
        self.status = None
        self.close_code = self.close_reason = None
        self.transport = None
        self._buf = b""
        self._fragments = None
        loop = asyncio.get_running_loop()
        self.handshake = loop.create_future()
        self.close_received = loop.create_future()  # the server's close frame arrived
        self.done = loop.create_future()            # the connection is gone

    @classmethod
    async def open(cls, port, path, on_text=None, headers=None, rcvbuf=None, timeout=10.0,
                   host=HOST):
        """Connects and completes the handshake; raises AssertionError unless it answers 101."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), timeout)
            _, proto = await loop.create_connection(
                lambda: cls(host, port, path, on_text, headers), sock=sock)
        except BaseException:
            sock.close()
            raise
        try:
            await asyncio.wait_for(asyncio.shield(proto.handshake), timeout)
        except BaseException:
            proto.abort()
            raise
        return proto

    # -- asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        headers = {"Host": f"{self.host}:{self.port}", "Connection": "Upgrade",
                   "Upgrade": "websocket", "Sec-WebSocket-Key": key,
                   "Sec-WebSocket-Version": "13"}
        headers.update(self.extra_headers)
        transport.write(request_bytes("GET", self.path, self.port, headers))

    def data_received(self, data):
        buf = self._buf + data if self._buf else data
        if not self.handshake.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buf = buf
                return
            self.status, self.headers = parse_http_head(buf[:end + 4])
            if self.status != 101:
                self.handshake.set_exception(AssertionError(
                    f"WebSocket handshake to {self.path} answered {self.status}: {buf[end + 4:][:300]!r}"))
                self.transport.close()
                return
            self.handshake.set_result(True)
            buf = buf[end + 4:]
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, head = b1 & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            end = pos + head + length
            if end > n:
                break
            self._frame(b0 & 0x80, b0 & 0x0F, buf[pos + head:end])
            pos = end
        self._buf = buf[pos:] if pos < n else b""

    def _frame(self, fin, opcode, payload):
        if opcode in (0x1, 0x2) and fin and self._fragments is None:
            return self._message(payload)
        if opcode in (0x0, 0x1, 0x2):  # fragmented message
            self._fragments = (self._fragments or []) + [payload]
            if fin:
                payload, self._fragments = b"".join(self._fragments), None
                self._message(payload)
        elif opcode == 0x8:
            if len(payload) >= 2:
                self.close_code = int.from_bytes(payload[:2], "big")
                self.close_reason = payload[2:].decode("utf-8", "replace")
            else:
                self.close_code = 1005  # a close frame without a status
            if not self.close_received.done():
                self.close_received.set_result(self.close_code)
        elif opcode == 0x9:
            self.send_frame(0xA, payload)

    def _message(self, payload):
        if self.on_text is not None:
            self.on_text(payload)
        else:
            self.seqs.append(envelope_seq(payload))

    def connection_lost(self, exc):
        if not self.handshake.done():
            self.handshake.set_exception(AssertionError(
                f"connection to {self.path} closed during the handshake ({exc})"))
        if not self.done.done():
            self.done.set_result(exc)

    # -- actions ---------------------------------------------------------------

    def send_frame(self, opcode, payload=b"", fin=True):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(ws_frame(opcode, payload, fin=fin))

    def send_text(self, text):
        self.send_frame(0x1, text)

    def close(self, code=1000, reason=""):
        """A polite close frame; the server answers it and closes the connection."""
        self.send_frame(0x8, code.to_bytes(2, "big") + reason.encode("utf-8"))

    def abort(self):
        """Drops the connection at once, without a close frame: RST (SO_LINGER 0)."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()


# -- running a test module ------------------------------------------------------

SKIP_RETURN_CODE = 77  # SKIP_RETURN_CODE of the integration tests in tests/CMakeLists.txt


def main(argv):
    """`python3 -m unittest` with one difference: a run in which something was skipped and
    nothing failed exits SKIP_RETURN_CODE, so that CTest does not count it as passed."""
    program = unittest.main(module=None, argv=["python3 -m harness", *argv], exit=False)
    result = program.result
    if not result.wasSuccessful():
        return 1
    if result.skipped:
        print(f"{len(result.skipped)} skipped, nothing failed: exit {SKIP_RETURN_CODE}",
              file=sys.stderr)
        return SKIP_RETURN_CODE
    return 0


if __name__ == "__main__":
    # Run by the module imported as `harness`, the one the tests import, not by this copy
    # loaded as __main__ (its globals would be a second, unused set).
    import harness
    sys.exit(harness.main(sys.argv[1:]))
