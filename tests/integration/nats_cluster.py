"""A real three-node nats-server JetStream cluster on loopback, for the integration tests.

    cluster = NatsCluster()          # starts it; raises if nats-server is missing or not ready
    self.addCleanup(cluster.stop)    # SIGTERM, then SIGKILL leftovers; removes the temp dir
    config["nats"] = cluster.service_config()

Every node gets free client, cluster-route and monitoring ports on 127.0.0.1, its own
JetStream store directory under one tempfile.mkdtemp() directory, and a config file there
with user/password authorization (a generated password). Faults: kill(i) (SIGKILL),
pause(i) / resume(i) (SIGSTOP / SIGCONT), restart(i) (same ports and store). The
monitoring endpoint (/jsz) tells the meta leader and each stream's leader.

NatsCluster(placement=[(address, netns), ...]) runs node i inside network namespace netns
(netns.py), listening on that namespace's address instead of 127.0.0.1; the tests' own
requests to it (monitoring, MiniNats) are then opened from inside that namespace.

No nats-server outlives the test process: stop() ends them all, an atexit hook stops any
cluster a test forgot, and each process started from the main thread gets SIGKILL from the
kernel when the test process dies (PR_SET_PDEATHSIG). Every wait is bounded.

NatsServer is one standalone nats-server with JetStream (no cluster) whose authentication
and TLS the test chooses, for the NATS credential and TLS tests; restart(auth=...) brings it
back on the same port with other credentials.

MiniNats is a small NATS protocol client (stdlib sockets) for what the tests need from the
NATS side itself: JetStream API requests (stream info, stream create) and publishes with
acks. It is not a general client: one request at a time, no reconnect.

nats-server 2.9.10 is what Debian ships and what this was tried against.
"""

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref

import netns
from harness import HOST, die_with_parent, free_port

NATS_SERVER = "nats-server"
USER = "happy"
CLUSTER_NAME = "happy"
NODE_NAMES = ("n1", "n2", "n3")

# A fresh cluster elects its meta leader in well under 1 s; a node restarted with JetStream
# state takes 5-7 s (measured on a 2-core box). These bounds leave room for a loaded CI box.
START_TIMEOUT_S = 30.0
RESTART_TIMEOUT_S = 40.0
STOP_TIMEOUT_S = 15.0        # SIGTERM to exit; JetStream flushes its stores first
MONITOR_TIMEOUT_S = 1.0      # one /jsz request; a paused node must not hold a caller up
START_ATTEMPTS = 3           # new ports each time, when one turned out to be taken

_die_with_parent = die_with_parent  # preexec_fn of every nats-server started here
_live_clusters = weakref.WeakSet()
_handed_out_ports = set()    # never give the same port to two nodes of this process
_ports_lock = threading.Lock()


def nats_server_path():
    path = shutil.which(NATS_SERVER)
    if path is None:
        # Fail rather than skip: scripts/install-deps installs it, and a missing engine must
        # not make the multi-node tests look like they passed.
        raise RuntimeError("nats-server not found on PATH (scripts/install-deps installs it)")
    return path


def distinct_free_ports(n):
    """n free loopback ports, distinct from each other and from any this process handed
    out before (free_port() alone may return a port again once it was released)."""
    ports = []
    with _ports_lock:
        for _ in range(100 * n):
            if len(ports) == n:
                break
            port = free_port()
            if port not in _handed_out_ports and port not in ports:
                ports.append(port)
        if len(ports) < n:
            raise RuntimeError(f"could not find {n} distinct free ports")
        _handed_out_ports.update(ports)
    return ports


def _http_json(port, path, timeout=MONITOR_TIMEOUT_S, host=HOST, namespace=None):
    with netns.entered(namespace):  # urlopen connects before it returns
        res = urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout)
    with res:
        return json.loads(res.read())


class NatsNode:
    """One nats-server: its ports, files and current process (None when not running)."""

    def __init__(self, name, client_port, route_port, http_port, base_dir, host=HOST,
                 namespace=None):
        self.name = name
        self.host = host            # the address it listens on
        self.netns = namespace      # the network namespace it runs in (None: this one)
        self.client_port = client_port
        self.route_port = route_port
        self.http_port = http_port
        self.dir = os.path.join(base_dir, name)
        self.store_dir = os.path.join(self.dir, "jetstream")
        self.config_path = os.path.join(self.dir, "nats.conf")
        self.log_path = os.path.join(self.dir, "output.log")
        self.proc = None
        self.paused = False
        os.makedirs(self.store_dir, exist_ok=True)

    @property
    def url(self):
        return f"nats://{self.host}:{self.client_port}"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def jsz(self, query=""):
        """GET /jsz[?query] from this node's monitoring port (parsed JSON)."""
        return _http_json(self.http_port, "/jsz" + (f"?{query}" if query else ""),
                          host=self.host, namespace=self.netns)

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as f:
                text = f.read().splitlines()
        except OSError as e:
            return f"--- nats {self.name}: no log ({e})"
        state = ("paused" if self.paused else "running") if self.running() else (
            "not started" if self.proc is None else f"exited {self.proc.returncode}")
        return "\n".join([f"--- nats {self.name} ({state}), last {min(lines, len(text))} of "
                          f"{len(text)} log lines:"] + text[-lines:])


class NatsCluster:
    """Three nats-server processes forming JetStream cluster CLUSTER_NAME on 127.0.0.1.

    Node i (0, 1, 2) is named NODE_NAMES[i]; that is the name /jsz and GET /cluster report
    as a stream's leader. Started by the constructor; stop() is safe to call more than once
    and is what addCleanup should run."""

    def __init__(self, size=3, start_timeout=START_TIMEOUT_S, password=None, placement=None):
        """placement: [(address, netns)] per node, to run node i in network namespace
        netns on address; default: every node on 127.0.0.1 here."""
        self.path = nats_server_path()
        self.placement = list(placement) if placement else [(HOST, None)] * size
        if len(self.placement) != size:
            raise ValueError(f"placement names {len(self.placement)} nodes, size is {size}")
        self.user = USER
        self.password = password or secrets.token_urlsafe(18)
        self.size = size
        self.base_dir = tempfile.mkdtemp(prefix="happy-nats-")
        self.nodes = []
        self._stopped = False
        _live_clusters.add(self)
        try:
            self._start_with_fresh_ports(start_timeout)
        except BaseException:
            self.stop()
            raise

    # -- configuration ----------------------------------------------------------------

    def _start_with_fresh_ports(self, timeout):
        last_error = None
        for attempt in range(START_ATTEMPTS):
            ports = distinct_free_ports(3 * self.size)
            self.nodes = [NatsNode(NODE_NAMES[i] if i < len(NODE_NAMES) else f"n{i + 1}",
                                   *ports[3 * i:3 * i + 3],
                                   os.path.join(self.base_dir, f"attempt{attempt}"),
                                   *self.placement[i])
                          for i in range(self.size)]
            for node in self.nodes:
                self._write_config(node)
            for node in self.nodes:
                self._spawn(node)
            try:
                self.wait_ready(timeout)
                return
            except RuntimeError as e:
                last_error = e
                taken = any("address already in use" in self._log(n).lower() for n in self.nodes)
                self.terminate_all()
                if not taken:
                    raise
        raise RuntimeError(f"nats cluster did not start in {START_ATTEMPTS} attempts "
                           f"(ports taken): {last_error}")

    def _write_config(self, node):
        routes = "\n".join(f"    nats-route://{n.host}:{n.route_port}" for n in self.nodes)
        text = f"""# written by tests/integration/nats_cluster.py
server_name: {node.name}
listen: {node.host}:{node.client_port}
http: {node.host}:{node.http_port}
jetstream {{
  store_dir: "{node.store_dir}"
  max_mem: 64MB
  max_file: 1GB
}}
cluster {{
  name: {CLUSTER_NAME}
  listen: {node.host}:{node.route_port}
  routes: [
{routes}
  ]
}}
authorization {{
  user: "{self.user}"
  password: "{self.password}"
}}
"""
        with open(node.config_path, "w") as f:
            f.write(text)

    def service_config(self, replicas=3, **extra):
        """The happy-dashboard "nats" config section for this cluster (the contract's names)."""
        cfg = {"servers": self.urls(), "replicas": replicas, "user": self.user,
               "password": self.password}
        cfg.update(extra)
        return cfg

    def urls(self):
        return [n.url for n in self.nodes]

    def names(self):
        return [n.name for n in self.nodes]

    def node_named(self, name):
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(f"no nats node named {name!r} (nodes: {self.names()})")

    def index_of(self, name):
        return self.nodes.index(self.node_named(name))

    # -- processes ----------------------------------------------------------------------

    def _spawn(self, node):
        with open(node.log_path, "ab") as log:
            log.write(f"=== nats_cluster: starting {node.name} at {time.strftime('%H:%M:%S')}"
                      f"\n".encode())
            log.flush()
            # The kernel's parent-death signal follows the thread that forked: only the main
            # thread lives as long as the test process.
            on_main = threading.current_thread() is threading.main_thread()
            argv = [self.path, "-c", node.config_path]
            if node.netns is not None:
                argv = netns.exec_prefix(node.netns) + argv
            node.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent if on_main else None)
        node.paused = False

    def _log(self, node):
        with contextlib.suppress(OSError):
            with open(node.log_path, errors="replace") as f:
                return f.read()
        return ""

    def kill(self, i):
        """SIGKILL node i (no goodbye to its routes, no store flush) and reap it."""
        node = self.nodes[i]
        if node.running():
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(timeout=STOP_TIMEOUT_S)
        node.paused = False

    def pause(self, i):
        """SIGSTOP node i: its sockets stay open but it answers nothing, as in a VM stall."""
        node = self.nodes[i]
        if not node.running():
            raise RuntimeError(f"nats {node.name} is not running")
        node.proc.send_signal(signal.SIGSTOP)
        node.paused = True

    def resume(self, i):
        node = self.nodes[i]
        if node.running():
            node.proc.send_signal(signal.SIGCONT)
        node.paused = False

    def terminate(self, i, timeout=STOP_TIMEOUT_S):
        """SIGTERM node i and wait for it (SIGKILL after timeout); returns its exit status."""
        node = self.nodes[i]
        if node.running():
            with contextlib.suppress(OSError):
                node.proc.send_signal(signal.SIGCONT)
                node.proc.send_signal(signal.SIGTERM)
            try:
                node.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                node.proc.kill()
                node.proc.wait(timeout=STOP_TIMEOUT_S)
        node.paused = False
        return node.proc.returncode if node.proc else None

    def start_node(self, i, timeout=RESTART_TIMEOUT_S):
        """Starts node i again (same ports, config and store) after kill() or terminate(),
        and waits until it sees a meta leader."""
        node = self.nodes[i]
        if node.running():
            raise RuntimeError(f"nats {node.name} is still running")
        self._spawn(node)
        self._wait_nodes_ready([node], timeout)

    def restart(self, i, timeout=RESTART_TIMEOUT_S):
        """SIGKILL node i if it runs, then start it again; waits until it sees a meta leader."""
        self.kill(i)
        self.start_node(i, timeout)

    def terminate_all(self):
        """SIGTERM every node and wait (SIGKILL after STOP_TIMEOUT_S); keeps ports and stores,
        so start_all() brings the same cluster back. nats-server exits 1 after SIGTERM."""
        for node in self.nodes:
            if node.running():
                with contextlib.suppress(OSError):
                    node.proc.send_signal(signal.SIGCONT)  # a stopped process cannot exit
                    node.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for node in self.nodes:
            if node.proc is None:
                continue
            try:
                node.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.proc.wait(timeout=5)
            node.paused = False

    def start_all(self, timeout=RESTART_TIMEOUT_S):
        """Starts every node that is not running (after terminate_all() or kills) and waits
        for a meta leader: 5-7 s when the stores hold JetStream state."""
        stopped = [n for n in self.nodes if not n.running()]
        for node in stopped:
            self._spawn(node)
        self._wait_nodes_ready(stopped, timeout)

    def stop(self):
        """Ends every node (SIGTERM, then SIGKILL after STOP_TIMEOUT_S) and removes the
        temporary directory. Idempotent; the addCleanup and atexit hook."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.terminate_all()
        finally:
            for node in self.nodes:  # SIGKILL anything that resisted, whatever happened above
                if node.running():
                    _kill_and_reap(node.proc)
            shutil.rmtree(self.base_dir, ignore_errors=True)
            _live_clusters.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log_tails(self, lines=40):
        return "\n".join(n.log_tail(lines) for n in self.nodes)

    # -- readiness and monitoring -------------------------------------------------------

    def _reachable(self):
        """Nodes whose monitoring port can answer (running and not paused)."""
        return [n for n in self.nodes if n.running() and not n.paused]

    def meta_leader(self):
        """The meta leader's name as the reachable nodes report it, when they agree and it
        is one of them; else None (no leader yet, or views still differ)."""
        seen = set()
        for node in self._reachable():
            try:
                meta = node.jsz().get("meta_cluster") or {}
            except (OSError, ValueError):
                return None
            seen.add(meta.get("leader"))
        if len(seen) == 1:
            leader = seen.pop()
            if leader and leader in {n.name for n in self._reachable()}:
                return leader
        return None

    def _node_ready(self, node):
        """Node sees a meta leader and a meta group of the cluster's size."""
        meta = node.jsz().get("meta_cluster") or {}
        return bool(meta.get("leader")) and meta.get("cluster_size", 0) >= self.size

    def _wait_nodes_ready(self, nodes, timeout):
        deadline = time.monotonic() + timeout
        problems = {}
        while True:
            for node in nodes:
                if not node.running():
                    raise RuntimeError(f"nats {node.name} exited with {node.proc.returncode} "
                                       f"while starting:\n{node.log_tail()}")
            problems.clear()
            for node in nodes:
                try:
                    if not self._node_ready(node):
                        problems[node.name] = "no meta leader yet"
                except (OSError, ValueError) as e:
                    problems[node.name] = repr(e)
            if not problems and self.meta_leader():
                return
            if time.monotonic() >= deadline:
                raise RuntimeError(f"nats JetStream not ready within {timeout} s: {problems}\n"
                                   f"{self.log_tails()}")
            time.sleep(0.05)

    def wait_ready(self, timeout=START_TIMEOUT_S):
        """Until every running, unpaused node sees the same meta leader (bounded)."""
        self._wait_nodes_ready(self._reachable(), timeout)

    def stream_info(self, stream):
        """{node name: that node's view of the stream from /jsz, or None when it holds no
        replica} over the reachable nodes. A view has "cluster": {"leader", "replicas"}."""
        views = {}
        for node in self._reachable():
            try:
                jsz = node.jsz("accounts=true&streams=true")
            except (OSError, ValueError):
                continue
            views[node.name] = None
            for account in jsz.get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    if detail.get("name") == stream:
                        views[node.name] = detail
        return views

    def stream_leader(self, stream, timeout=0.0):
        """The name of the node leading the stream, as that node itself reports it (a
        follower's view may lag an election); None if no node claims it within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for name, view in self.stream_info(stream).items():
                leader = ((view or {}).get("cluster") or {}).get("leader")
                if leader == name:
                    return leader
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

    def stream_leader_index(self, stream, timeout=10.0):
        name = self.stream_leader(stream, timeout)
        if name is None:
            raise AssertionError(f"no leader for stream {stream} within {timeout} s: "
                                 f"{self.stream_info(stream)}")
        return self.index_of(name)

    def client(self, i=None, timeout=5.0):
        """A MiniNats connection to node i (default: the first reachable one)."""
        node = self.nodes[i] if i is not None else self._reachable()[0]
        with netns.entered(node.netns):  # the constructor connects
            return MiniNats(node.host, node.client_port, self.user, self.password,
                            timeout=timeout)


class NatsServer:
    """One standalone nats-server with JetStream on 127.0.0.1 (no cluster, so replicas 1).

    auth: the config text that sets up authentication, e.g. 'authorization { token: "t" }',
    or an operator block (operator/resolver/resolver_preload); None: no authentication.
    tls: None, or {"cert_file": ..., "key_file": ...}: TLS is then required of clients.
    Started by the constructor; stop() (idempotent) ends it and removes its temp dir."""

    def __init__(self, auth=None, tls=None, start_timeout=START_TIMEOUT_S):
        self.path = nats_server_path()
        self.auth = auth
        self.tls = tls
        self.base_dir = tempfile.mkdtemp(prefix="happy-nats-single-")
        self.store_dir = os.path.join(self.base_dir, "jetstream")
        self.config_path = os.path.join(self.base_dir, "nats.conf")
        self.log_path = os.path.join(self.base_dir, "output.log")
        os.makedirs(self.store_dir, exist_ok=True)
        self.proc = None
        self._stopped = False
        _live_clusters.add(self)
        try:
            self._start_with_fresh_ports(start_timeout)
        except BaseException:
            self.stop()
            raise

    def url(self, scheme="nats"):
        return f"{scheme}://{HOST}:{self.client_port}"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _start_with_fresh_ports(self, timeout):
        last_error = None
        for _ in range(START_ATTEMPTS):
            self.client_port, self.http_port = distinct_free_ports(2)
            self._write_config()
            self._spawn()
            try:
                self._wait_ready(timeout)
                return
            except RuntimeError as e:
                last_error = e
                taken = "address already in use" in self._log().lower()
                self.terminate()
                if not taken:
                    raise
        raise RuntimeError(f"nats-server did not start in {START_ATTEMPTS} attempts "
                           f"(ports taken): {last_error}")

    def _write_config(self):
        tls = ""
        if self.tls:
            tls = (f'tls {{\n  cert_file: "{self.tls["cert_file"]}"\n'
                   f'  key_file: "{self.tls["key_file"]}"\n}}\n')
        text = (f"# written by tests/integration/nats_cluster.py (NatsServer)\n"
                f"listen: {HOST}:{self.client_port}\n"
                f"http: {HOST}:{self.http_port}\n"
                f'jetstream {{\n  store_dir: "{self.store_dir}"\n  max_mem: 64MB\n'
                f"  max_file: 1GB\n}}\n{tls}{self.auth or ''}\n")
        with open(self.config_path, "w") as f:
            f.write(text)

    def _spawn(self):
        with open(self.log_path, "ab") as log:
            log.write(f"=== nats_cluster: starting at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            on_main = threading.current_thread() is threading.main_thread()
            self.proc = subprocess.Popen(
                [self.path, "-c", self.config_path], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent if on_main else None)

    def _log(self):
        with contextlib.suppress(OSError):
            with open(self.log_path, errors="replace") as f:
                return f.read()
        return ""

    def log_tail(self, lines=40):
        text = self._log().splitlines()
        state = "running" if self.running() else (
            "not started" if self.proc is None else f"exited {self.proc.returncode}")
        return "\n".join([f"--- nats-server ({state}), last {min(lines, len(text))} of "
                          f"{len(text)} log lines:"] + text[-lines:])

    def _wait_ready(self, timeout):
        """Until GET /healthz answers ok: the server listens and JetStream is up."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            if not self.running():
                raise RuntimeError(f"nats-server exited with {self.proc.returncode} while "
                                   f"starting:\n{self.log_tail()}")
            try:
                last = _http_json(self.http_port, "/healthz")
                if last.get("status") == "ok":
                    return
            except (OSError, ValueError) as e:
                last = repr(e)
            if time.monotonic() >= deadline:
                raise RuntimeError(f"nats-server not ready within {timeout} s: {last}\n"
                                   f"{self.log_tail()}")
            time.sleep(0.05)

    def terminate(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM and wait (SIGKILL after timeout); keeps the port, config and store."""
        if self.running():
            with contextlib.suppress(OSError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=5)

    def restart(self, auth=None, timeout=RESTART_TIMEOUT_S):
        """Ends the server and starts it again on the same port and store; with auth given,
        with that authentication instead. Waits until it is ready."""
        self.terminate()
        if auth is not None:
            self.auth = auth
        self._write_config()
        self._spawn()
        self._wait_ready(timeout)

    def stop(self):
        """Ends the server and removes its temp dir. Idempotent; the addCleanup."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.terminate()
        finally:
            if self.running():
                _kill_and_reap(self.proc)
            shutil.rmtree(self.base_dir, ignore_errors=True)
            _live_clusters.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _kill_and_reap(proc):
    """SIGKILL and wait (bounded) for a server that resisted its stop."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait(timeout=5)


@atexit.register
def _stop_forgotten_clusters():
    for cluster in list(_live_clusters):
        with contextlib.suppress(Exception):
            cluster.stop()


class NatsError(Exception):
    pass


class MiniNats:
    """A minimal synchronous NATS client: CONNECT with user/password, then request/reply.

    Enough for JetStream's API ($JS.API.*) and acknowledged publishes from a test; every
    call is bounded by `timeout`. Use as a context manager or call close()."""

    def __init__(self, host, port, user=None, password=None, timeout=5.0):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buf = b""
        self._sid = 0
        self._inbox_prefix = f"_INBOX.{secrets.token_hex(8)}"
        try:
            info = self._read_line(time.monotonic() + timeout)
            if not info.startswith(b"INFO "):
                raise NatsError(f"expected INFO, got {info[:200]!r}")
            connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                       "protocol": 1, "name": "happy-tests", "lang": "python", "version": "0"}
            if user is not None:
                connect.update(user=user, **{"pass": password})
            self._send(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
            self._expect_pong(time.monotonic() + timeout)
            self._send(f"SUB {self._inbox_prefix}.* 1\r\n".encode())
        except BaseException:
            self.close()
            raise

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("NATS read timed out")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            raise NatsError("NATS connection closed")
        self._buf += data

    def _read_line(self, deadline):
        while b"\r\n" not in self._buf:
            self._fill(deadline)
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def _read_exactly(self, n, deadline):
        while len(self._buf) < n:
            self._fill(deadline)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _expect_pong(self, deadline):
        while True:
            line = self._read_line(deadline)
            if line == b"PONG":
                return
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode(errors="replace"))
            if line == b"PING":
                self._send(b"PONG\r\n")

    def _next_message(self, deadline):
        """The next MSG/HMSG as (subject, headers bytes, payload bytes); answers PINGs."""
        while True:
            line = self._read_line(deadline)
            if line == b"PING":
                self._send(b"PONG\r\n")
                continue
            if line.startswith(b"-ERR"):
                raise NatsError(line.decode(errors="replace"))
            parts = line.split()
            if not parts or parts[0] not in (b"MSG", b"HMSG"):
                continue  # +OK, PONG, INFO updates
            if parts[0] == b"MSG":
                size = int(parts[-1])
                payload = self._read_exactly(size + 2, deadline)[:-2]
                return parts[1].decode(), b"", payload
            header_size, total = int(parts[-2]), int(parts[-1])
            data = self._read_exactly(total + 2, deadline)[:-2]
            return parts[1].decode(), data[:header_size], data[header_size:]

    def request(self, subject, payload=b"", headers=None, timeout=None):
        """Publishes with a reply inbox and returns (headers bytes, payload bytes) of the
        answer. A "503" status header (no responders) raises NatsError."""
        if isinstance(payload, str):
            payload = payload.encode()
        self._sid += 1
        inbox = f"{self._inbox_prefix}.{self._sid}"
        if headers:
            head = ("NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                    + "\r\n").encode()
            self._send(f"HPUB {subject} {inbox} {len(head)} {len(head) + len(payload)}\r\n"
                       .encode() + head + payload + b"\r\n")
        else:
            self._send(f"PUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\n")
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            subj, head, body = self._next_message(deadline)
            if subj != inbox:
                continue  # a late answer to an earlier request that timed out
            if head.startswith(b"NATS/1.0 503"):
                raise NatsError(f"no responders for {subject}")
            return head, body

    def js_api(self, what, body=None, timeout=None):
        """A JetStream API call ($JS.API.<what>); returns the parsed answer. An answer with
        "error" raises NatsError carrying it."""
        _, raw = self.request(f"$JS.API.{what}", json.dumps(body).encode() if body else b"",
                              timeout=timeout)
        answer = json.loads(raw)
        if answer.get("error"):
            raise NatsError(f"{what}: {answer['error']}")
        return answer

    def stream_info(self, stream, timeout=None):
        return self.js_api(f"STREAM.INFO.{stream}", timeout=timeout)

    def add_stream(self, stream, subjects, replicas=3, timeout=None):
        return self.js_api(f"STREAM.CREATE.{stream}",
                           {"name": stream, "subjects": list(subjects), "num_replicas": replicas,
                            "storage": "file", "retention": "limits", "discard": "old"},
                           timeout=timeout)

    def publish(self, subject, payload, msg_id=None, timeout=None):
        """A JetStream publish; returns the ack ({"stream", "seq"[, "duplicate"]})."""
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        _, raw = self.request(subject, payload, headers=headers, timeout=timeout)
        answer = json.loads(raw)
        if answer.get("error"):
            raise NatsError(f"publish to {subject}: {answer['error']}")
        return answer
