"""Network namespaces for the partition tests (test_jetstream_partition.py): sites that can
be cut off from each other while their processes keep running.

    net = Network(("z1", "z2", "z3"))   # creates the namespaces; raises NetSetupError
    atexit/addCleanup: net.destroy()    # removes everything; safe to call more than once
    Server(config, netns=net.netns["z1"])            # harness.Server inside site z1
    NatsCluster(placement=[(net.address[s], net.netns[s]) for s in sites])
    net.cut("z3"); ...; net.heal("z3")

Topology. A hub namespace holds a bridge and, for each site, one end of a veth pair whose
other end is the site namespace's eth0 with the address 10.213.0.<i>/24 (i = 1, 2, ...);
every namespace has its own lo up. cut(site) takes the hub-side end of that site's veth
down: the site's processes keep running and keep their sockets, only packets between the
site and the other sites stop, as in a real partition. heal(site) brings it back up.
cut(site, how="drop") leaves the link up and has the hub's bridge drop every frame to and
from the site instead (an nftables bridge table in the hub namespace, needs `nft`): the
site's interfaces stay up and nothing tells its processes that the peers are gone.

Nothing is added to the root namespace: no interface, address or route. The 10.213.0.0/24
addresses exist only inside the test's namespaces (the root namespace cannot reach them,
and must not try: on some machines a connect() to an unrouted address is answered by
whatever proxies outgoing traffic). The test process reaches a site's processes from
inside that site: entered(netns) moves the calling thread (not the process) into the
namespace while it opens a socket, which then stays in that namespace (http_connection(),
harness.Server.http). A client is thus on the same side of a partition as the node it
talks to, like a dashboard user in that site.

Namespaces are named happy-net-<pid>-<random>-<site>; a Network also removes the ones a
test process that no longer runs left behind (killed before its cleanup). Needs root
(CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2's `ip`: unavailable() says why not.
"""

import atexit
import contextlib
import ctypes
import http.client
import os
import re
import secrets
import shutil
import subprocess
import threading

IP = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")
NFT = shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin:/bin")
NETNS_DIR = "/run/netns"            # where `ip netns add` mounts a namespace
SUBNET_PREFIX = "10.213.0."         # site i is SUBNET_PREFIX + str(i), /24
PREFIX = "happy-net-"
IP_TIMEOUT_S = 15.0                 # one `ip` command
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_live = set()                       # Networks not destroyed yet, for the atexit hook
_live_lock = threading.Lock()


class NetSetupError(Exception):
    pass


def ip(*args, check=True):
    """Runs `ip args...` (bounded); raises NetSetupError when it fails and check is set."""
    result = subprocess.run([IP, *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise NetSetupError(f"`ip {' '.join(args)}` exited {result.returncode}: "
                            f"{result.stderr.strip()}")
    return result


def unavailable():
    """Why this process cannot use network namespaces (a skip reason), or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (network namespaces, veth, bridge)"
    if IP is None:
        return "iproute2's `ip` not found"
    if not os.path.exists("/proc/thread-self/ns/net"):
        return "no /proc/thread-self/ns/net (Linux >= 3.17 with /proc mounted)"
    return None


def exec_prefix(netns):
    """The argv prefix that runs a program inside netns (`ip netns exec` execs it: the
    process started is the program itself, and signals reach it directly)."""
    return [IP, "netns", "exec", netns]


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns(CLONE_NEWNET): {os.strerror(err)}")


@contextlib.contextmanager
def entered(netns):
    """The calling thread is in network namespace `netns` inside the block (None: stays
    where it is). Sockets opened inside stay in that namespace after the block."""
    if netns is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        target = os.open(os.path.join(NETNS_DIR, netns), os.O_RDONLY | os.O_CLOEXEC)
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(own)  # a thread left in another namespace would be a silent mess
    finally:
        os.close(own)


class NsHTTPConnection(http.client.HTTPConnection):
    """An http.client connection whose socket is opened inside a network namespace."""

    def __init__(self, netns, host, port, timeout):
        super().__init__(host, port, timeout=timeout)
        self.netns = netns

    def connect(self):
        with entered(self.netns):
            super().connect()


def http_connection(host, port, timeout, netns=None):
    """An HTTPConnection to host:port, opened from inside netns when one is given."""
    if netns is None:
        return http.client.HTTPConnection(host, port, timeout=timeout)
    return NsHTTPConnection(netns, host, port, timeout)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers():
    """Deletes namespaces of this module whose test process is gone (it was killed before
    its cleanup ran); returns their names."""
    removed = []
    listing = ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(re.escape(PREFIX) + r"(\d+)-", name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


class Network:
    """The hub and one namespace per site (see the module's text). The constructor creates
    them all or, when a step fails, undoes what it did and raises NetSetupError."""

    def __init__(self, sites):
        if len(sites) > 250:
            raise ValueError("at most 250 sites")
        self.sites = tuple(sites)
        self.undo = []  # `ip` argument lists, run in reverse order by destroy()
        self.cut_how = {}  # site -> how it is cut off now
        self.leftovers_removed = remove_leftovers()
        base = f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self.hub = f"{base}-hub"
        self.netns = {site: f"{base}-{site}" for site in self.sites}
        self.address = {site: f"{SUBNET_PREFIX}{i + 1}" for i, site in enumerate(self.sites)}
        self.hub_veth = {site: f"v{i + 1}" for i, site in enumerate(self.sites)}  # in the hub
        with _live_lock:
            _live.add(self)
        try:
            self._create()
        except BaseException:
            self.destroy()
            raise

    def _create(self):
        ip("netns", "add", self.hub)
        self.undo.append(["netns", "del", self.hub])  # takes the bridge and the veths along
        ip("-n", self.hub, "link", "set", "lo", "up")
        ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        ip("-n", self.hub, "link", "set", "br0", "up")
        for site in self.sites:
            ns = self.netns[site]
            ip("netns", "add", ns)
            self.undo.append(["netns", "del", ns])
            ip("-n", ns, "link", "set", "lo", "up")
            ip("-n", self.hub, "link", "add", self.hub_veth[site], "type", "veth",
               "peer", "name", "eth0", "netns", ns)
            ip("-n", ns, "addr", "add", f"{self.address[site]}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", self.hub, "link", "set", self.hub_veth[site], "master", "br0")
            ip("-n", self.hub, "link", "set", self.hub_veth[site], "up")

    def destroy(self):
        """Deletes every namespace created (their interfaces go with them); returns the
        problems met, as text. Idempotent: the cleanup and the atexit hook both call it."""
        problems = []
        while self.undo:
            args = self.undo.pop()
            try:
                result = ip(*args, check=False)
            except (OSError, subprocess.SubprocessError) as e:
                problems.append(f"ip {' '.join(args)}: {e!r}")
                continue
            if result.returncode != 0 and "No such file" not in result.stderr \
                    and "Cannot find" not in result.stderr:
                problems.append(f"ip {' '.join(args)}: {result.stderr.strip()}")
        with _live_lock:
            _live.discard(self)
        return problems

    def cut(self, site, how="down"):
        """Stops all traffic between `site` and the other sites (its processes go on).
        how "down": the hub-side end of the site's veth goes down; "drop": the link stays
        up and the hub's bridge drops every frame to and from the site (needs `nft`)."""
        if how == "down":
            ip("-n", self.hub, "link", "set", self.hub_veth[site], "down")
        elif how == "drop":
            if NFT is None:
                raise NetSetupError("`nft` not found (cut how='drop')")
            veth = self.hub_veth[site]
            rules = (f"table bridge happy_cut_{veth} {{\n"
                     f"  chain forward {{ type filter hook forward priority -200; policy accept;\n"
                     f"    iifname \"{veth}\" drop\n    oifname \"{veth}\" drop\n  }}\n}}\n")
            result = subprocess.run([*exec_prefix(self.hub), NFT, "-f", "-"], input=rules,
                                    capture_output=True, text=True, timeout=IP_TIMEOUT_S)
            if result.returncode != 0:
                raise NetSetupError(f"nft in {self.hub} exited {result.returncode}: "
                                    f"{result.stderr.strip()}")
        else:
            raise ValueError(f"cut how={how!r}: 'down' or 'drop'")
        self.cut_how[site] = how

    def heal(self, site):
        how = self.cut_how.pop(site, "down")
        if how == "drop":
            subprocess.run([*exec_prefix(self.hub), NFT, "delete", "table", "bridge",
                            f"happy_cut_{self.hub_veth[site]}"], capture_output=True,
                           text=True, timeout=IP_TIMEOUT_S, check=True)
        else:
            ip("-n", self.hub, "link", "set", self.hub_veth[site], "up")


@atexit.register
def _destroy_forgotten_networks():
    with _live_lock:
        networks = list(_live)
    for network in networks:
        with contextlib.suppress(Exception):
            network.destroy()
