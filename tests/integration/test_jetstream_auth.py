"""How a JetStream node authenticates to NATS and verifies it over TLS (config `nats`, issue
#25): the real binary against a real standalone nats-server with JetStream
(nats_cluster.NatsServer, so `replicas` 1), one per test.

- a token (`token`, `token_env`), user and password (`password_env`) and a NATS `.creds` file
  (`credentials_file`: nats-server in operator mode, the operator, account and user NKeys and
  JWTs made here): the node connects, a publish is answered 202 with its seq and a WebSocket
  subscriber gets it;
- TLS (`tls://` servers, `tls.ca_file`) with a CA and a server certificate for 127.0.0.1 made
  here with the openssl CLI;
- what is refused stops the start with exit code 2 and the reason on stderr, at once: a wrong
  or missing token, a user of an account the server does not trust, a certificate from another
  CA, for another host, or no CA at all, TLS asked of a server without it; a `*_env` variable
  that is not set, or a .creds file that is not there, is a config error (exit 2);
- a running node whose credentials NATS stops accepting (restarted with another token) turns
  /readyz 503 and stays up, says why (log, /readyz), and is ready again once NATS accepts them
  again; a node started while NATS was down says so too when NATS comes up and refuses it.

The NKeys and JWTs: an NKey is an ed25519 key written as base32 (no padding) of a prefix byte
(its kind: operator, account, user), the 32-byte key and a CRC-16/XModem (little-endian); a
seed carries two prefix bytes (seed, kind). A JWT's header says "alg": "ed25519-nkey"; it is
signed with the issuer's key: the operator signs itself and the accounts, an account its users.
"""

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness import (LeanWebSocket, ServerTestCase, free_port, is_sanitizer_build, run_async,
                     run_cli, signal_name, wait_for_stderr, write_temp)
from jetstream_harness import (ORDERS, forget_node_name_from_environment, get_json, node_config,
                               post, wait_http)
from nats_cluster import NatsServer

try:
    from harness import SLOW
except ImportError:
    SLOW = 2.0 if is_sanitizer_build() else 1.0  # timeouts are multiplied by this

NODE = "s1"
TOPICS = {ORDERS: {}}
PUBLISH_TIMEOUT_MS = 2000
READY_WITHIN_S = 20.0 * SLOW        # /readyz 200 after start (the first stream creation too)
# A start NATS refuses ends at the first connection attempt: the client's connect timeout
# is 2 s, so this bound only catches a start that hangs.
REFUSED_WITHIN_S = 10.0 * SLOW
UNREADY_WITHIN_S = 10.0 * SLOW      # /readyz 503 once NATS refuses a running node
RECOVERED_WITHIN_S = 20.0 * SLOW    # ready again once NATS accepts it again
PASSWORD_ENV = "HAPPY_TEST_NATS_PASSWORD"
TOKEN_ENV = "HAPPY_TEST_NATS_TOKEN"
AUTH_REFUSED = r"(?i)authori[sz]ation|authentication"


def setUpModule():
    forget_node_name_from_environment()
    # The tests decide whether these are set; the environment running them must not.
    for name in (PASSWORD_ENV, TOKEN_ENV):
        os.environ.pop(name, None)


def nats_section(servers, **auth):
    return {"servers": list(servers), "replicas": 1, "publish_timeout_ms": PUBLISH_TIMEOUT_MS,
            **auth}


def token_auth(token):
    return f'authorization {{\n  token: "{token}"\n}}'


def password_auth(user, password):
    return f'authorization {{\n  user: "{user}"\n  password: "{password}"\n}}'


# -- NKeys, JWTs and .creds files ----------------------------------------------------------

PREFIX_SEED = 18 << 3
PREFIXES = {"operator": 14 << 3, "account": 0, "user": 20 << 3}


def _base32(data):
    return base64.b32encode(data).decode().rstrip("=")


def _with_crc(data):
    return data + struct.pack("<H", binascii.crc_hqx(data, 0))  # CRC-16/XModem


def _base64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class NKey:
    """A new ed25519 key of one kind ("operator", "account", "user"): `public` ("O…", "A…",
    "U…", 56 characters) and `seed` ("SO…", "SA…", "SU…", 58 characters)."""

    def __init__(self, kind):
        prefix = PREFIXES[kind]
        self.key = Ed25519PrivateKey.generate()
        raw_public = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw)
        raw_seed = self.key.private_bytes(serialization.Encoding.Raw,
                                          serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption())
        self.public = _base32(_with_crc(bytes([prefix]) + raw_public))
        self.seed = _base32(_with_crc(bytes([PREFIX_SEED | prefix >> 5, (prefix & 31) << 3])
                                      + raw_seed))

    def sign(self, data):
        return self.key.sign(data)


def nats_jwt(issuer, subject, name, nats):
    """A NATS JWT (version 2) about `subject` (a public key), signed by `issuer` (an NKey)."""
    claims = {"iat": int(time.time()), "iss": issuer.public, "name": name, "sub": subject}
    # jti: a hash of the standard claims, as the NATS tools make it (servers do not check it).
    claims["jti"] = _base32(hashlib.new("sha512_256", json.dumps(
        claims, sort_keys=True, separators=(",", ":")).encode()).digest())
    claims["nats"] = dict(nats, version=2)
    signed = (_base64url(json.dumps({"typ": "JWT", "alg": "ed25519-nkey"}).encode()) + "." +
              _base64url(json.dumps(claims).encode()))
    return signed + "." + _base64url(issuer.sign(signed.encode()))


UNLIMITED = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
             "wildcards": True, "conn": -1, "leaf": -1}


def account_jwt(operator, account, name, jetstream):
    limits = dict(UNLIMITED)
    if jetstream:  # JetStream is on for an account whose storage limits are not 0
        limits.update(mem_storage=-1, disk_storage=-1, streams=-1, consumer=-1)
    return nats_jwt(operator, account.public, name, {"type": "account", "limits": limits})


def user_jwt(account, user, name):
    return nats_jwt(account, user.public, name,
                    {"type": "user", "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1})


def write_creds(path, jwt, seed):
    """A .creds file as the NATS tools write it: the user JWT, then the user's seed."""
    with open(path, "w") as f:
        f.write(f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
                f"************************* IMPORTANT *************************\n"
                f"NKEY Seed printed below can be used to sign and prove identity.\n\n"
                f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n")
    os.chmod(path, 0o600)
    return path


def operator_mode(directory):
    """An operator with a system account and a JetStream account `happy` with one user, for
    a memory resolver. Returns (the server's config text, the user's .creds path, the .creds
    path of a user of an account the operator never signed)."""
    operator, system, account = NKey("operator"), NKey("account"), NKey("account")
    operator_path = os.path.join(directory, "operator.jwt")
    with open(operator_path, "w") as f:
        f.write(nats_jwt(operator, operator.public, "happy-test-operator",
                         {"type": "operator", "system_account": system.public}))
    user = NKey("user")
    creds = write_creds(os.path.join(directory, "happy.creds"),
                        user_jwt(account, user, "happy-node"), user.seed)
    stranger_account, stranger = NKey("account"), NKey("user")
    stranger_creds = write_creds(os.path.join(directory, "stranger.creds"),
                                 user_jwt(stranger_account, stranger, "stranger"), stranger.seed)
    config = (f'operator: "{operator_path}"\n'
              f"system_account: {system.public}\n"
              f"resolver: MEMORY\n"
              f"resolver_preload: {{\n"
              f'  {system.public}: "{account_jwt(operator, system, "SYS", False)}"\n'
              f'  {account.public}: "{account_jwt(operator, account, "happy", True)}"\n'
              f"}}")
    return config, creds, stranger_creds


# -- certificates ----------------------------------------------------------------------

def openssl(*args, cwd):
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=30, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} exited {result.returncode}:\n"
                           f"{result.stderr}")


def make_certificates(directory):
    """A CA, a server certificate for IP 127.0.0.1 from it, one for another host name from
    it, and another CA (P-256 keys). Returns {"ca", "cert", "key", "elsewhere_cert",
    "elsewhere_key", "other_ca"}: paths of PEM files."""
    def new_ca(name, subject):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2", "-subj", subject,
                cwd=directory)

    new_ca("ca", "/CN=happy test CA")
    new_ca("other-ca", "/CN=another test CA")
    def new_server_cert(name, common_name, alt_name):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={common_name}",
                cwd=directory)
        with open(os.path.join(directory, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={alt_name}\nbasicConstraints=CA:FALSE\n"
                    f"keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
                cwd=directory)

    new_server_cert("server", "127.0.0.1", "IP:127.0.0.1")
    new_server_cert("elsewhere", "elsewhere.example", "DNS:elsewhere.example")
    return {name: os.path.join(directory, file) for name, file in
            (("ca", "ca.pem"), ("cert", "server.pem"), ("key", "server.key"),
             ("elsewhere_cert", "elsewhere.pem"), ("elsewhere_key", "elsewhere.key"),
             ("other_ca", "other-ca.pem"))}


# -- the tests -------------------------------------------------------------------------

class NatsAuthTestCase(ServerTestCase):
    """A standalone nats-server (or several) per test and one service node against it."""

    def setUp(self):
        self.nats_servers = []
        self.services = []

    def start_nats(self, auth=None, tls=None):
        server = NatsServer(auth=auth, tls=tls)
        # Cleanups run last-in first-out: the service (added later) gets its SIGTERM first.
        self.addCleanup(server.stop)
        self.nats_servers.append(server)
        return server

    def temp_dir(self):
        path = tempfile.mkdtemp(prefix="happy-nats-auth-")
        self.addCleanup(shutil.rmtree, path, True)
        return path

    def start_service(self, section, env=None):
        server = self.start_server(node_config(section, topics=TOPICS), args=("--node", NODE),
                                   env=env, start_timeout=20.0 * SLOW)
        self.services.append(server)
        wait_http(server, "/readyz", lambda status, _: status == 200, READY_WITHIN_S,
                  "/readyz 200")
        return server

    @contextlib.contextmanager
    def logs_on_failure(self):
        try:
            yield
        except BaseException:
            for server in self.services:
                with contextlib.suppress(Exception):
                    code = server.proc.poll()
                    text = server.stderr().splitlines()
                    print(f"--- {server.label} "
                          f"({'running' if code is None else 'exit ' + signal_name(code)}), "
                          f"last {min(40, len(text))} of {len(text)} lines:\n" +
                          "\n".join(text[-40:]), file=sys.stderr)
            for nats in self.nats_servers:
                with contextlib.suppress(Exception):
                    print(nats.log_tail(), file=sys.stderr)
            raise

    def assert_refused_at_start(self, section, *patterns, env=None):
        """Starts a node with this nats section; it must exit 2 within REFUSED_WITHIN_S with
        every pattern (a regular expression) in its stderr. Returns the stderr."""
        path = write_temp(json.dumps(node_config(section, topics=TOPICS)))
        started = time.monotonic()
        try:
            result = run_cli("--config", path, "--port", str(free_port()), "--node", NODE,
                             timeout=REFUSED_WITHIN_S, env=env)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"the start did not end within {REFUSED_WITHIN_S} s "
                                 f"(nats section {section}); stderr so far: {e.stderr!r}")
        took = time.monotonic() - started
        detail = f"exit {signal_name(result.returncode)} after {took:.1f} s, stderr:\n" \
                 f"{result.stderr[-2000:]}"
        self.assertEqual(result.returncode, 2, detail)
        for pattern in patterns:
            self.assertRegex(result.stderr, pattern, detail)
        # The reason comes first, not buried under a start-up log.
        self.assertNotIn("listening on", result.stderr, detail)
        return result.stderr

    def assert_publishes_reach_a_subscriber(self, server, count=5):
        """A WebSocket subscriber of ORDERS gets exactly the `count` readings POSTed after it
        subscribed, each answered 202 with the next seq."""
        async def main():
            received = []
            ws = await LeanWebSocket.open(server.port, f"/topics/{ORDERS}?since=0",
                                          on_text=lambda p: received.append(json.loads(p)),
                                          timeout=10 * SLOW)
            try:
                answers = []
                for n in range(count):
                    answers.append(await asyncio.to_thread(post, server, ORDERS, {"n": n}))
                deadline = time.monotonic() + 10 * SLOW
                while len(received) < count and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                return answers, received
            finally:
                ws.abort()

        answers, received = run_async(main(), 40 * SLOW)
        self.assertEqual([status for status, _ in answers], [202] * count, answers)
        seqs = [answer["seq"] for _, answer in answers]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + count)), answers)
        self.assertEqual([(e["seq"], e[ORDERS]) for e in received],
                         [(seq, {"n": n}) for n, seq in enumerate(seqs)])


class TokenTest(NatsAuthTestCase):

    def test_token_publishes_are_acked_and_delivered(self):
        token = "tok-" + os.urandom(8).hex()
        nats = self.start_nats(token_auth(token))
        with self.logs_on_failure():
            server = self.start_service(nats_section([nats.url()], token=token))
            self.assert_publishes_reach_a_subscriber(server)

    def test_token_from_the_environment(self):
        token = "tok-" + os.urandom(8).hex()
        nats = self.start_nats(token_auth(token))
        with self.logs_on_failure():
            server = self.start_service(nats_section([nats.url()], token_env=TOKEN_ENV),
                                        env={TOKEN_ENV: token})
            self.assert_publishes_reach_a_subscriber(server)

    def test_wrong_or_missing_token_exit_2_at_start(self):
        nats = self.start_nats(token_auth("tok-" + os.urandom(8).hex()))
        where = re.escape(f"127.0.0.1:{nats.client_port}")
        cases = {"wrong token": nats_section([nats.url()], token="not-the-token"),
                 "wrong token from the environment": nats_section([nats.url()],
                                                                  token_env=TOKEN_ENV),
                 "no credentials": nats_section([nats.url()]),
                 "user and password instead": nats_section([nats.url()], user="happy",
                                                           password="some-password")}
        for case, section in cases.items():
            with self.subTest(case):
                self.assert_refused_at_start(section, AUTH_REFUSED, where,
                                             env={TOKEN_ENV: "not-the-token"})


class PasswordTest(NatsAuthTestCase):

    def test_password_from_the_environment(self):
        password = "pw-" + os.urandom(8).hex()
        nats = self.start_nats(password_auth("happy", password))
        with self.logs_on_failure():
            self.assert_refused_at_start(
                nats_section([nats.url()], user="happy", password_env=PASSWORD_ENV),
                AUTH_REFUSED, re.escape(f"127.0.0.1:{nats.client_port}"),
                env={PASSWORD_ENV: "not-the-password"})
            server = self.start_service(
                nats_section([nats.url()], user="happy", password_env=PASSWORD_ENV),
                env={PASSWORD_ENV: password})
            self.assert_publishes_reach_a_subscriber(server)

    def test_secret_variable_unset_or_empty_is_a_config_error(self):
        # No NATS server needed: the config is refused before any connection.
        servers = [f"nats://127.0.0.1:{free_port()}"]
        cases = {"password_env": (nats_section(servers, user="happy", password_env=PASSWORD_ENV),
                                  PASSWORD_ENV, "password"),
                 "token_env": (nats_section(servers, token_env=TOKEN_ENV), TOKEN_ENV, "token")}
        for key, (section, variable, what) in cases.items():
            for value in (None, ""):
                with self.subTest(key=key, value=value):
                    env = {} if value is None else {variable: value}
                    stderr = self.assert_refused_at_start(
                        section, re.escape(f"/nats/{key}"), re.escape(variable), what, env=env)
                    self.assertNotRegex(stderr, AUTH_REFUSED)  # never got as far as NATS
                    # --check-config says the same.
                    path = write_temp(json.dumps(node_config(section, topics=TOPICS)))
                    result = run_cli("--check-config", path, timeout=10 * SLOW, env=env)
                    self.assertEqual(result.returncode, 2, result.stderr + result.stdout)
                    self.assertIn(variable, result.stderr + result.stdout)


class CredsFileTest(NatsAuthTestCase):

    def test_user_of_a_creds_file_connects_and_publishes(self):
        config, creds, _ = operator_mode(self.temp_dir())
        nats = self.start_nats(config)
        with self.logs_on_failure():
            server = self.start_service(nats_section([nats.url()], credentials_file=creds))
            self.assert_publishes_reach_a_subscriber(server)

    def test_creds_of_an_untrusted_account_exit_2_at_start(self):
        directory = self.temp_dir()
        config, _, stranger_creds = operator_mode(directory)
        nats = self.start_nats(config)
        self.assert_refused_at_start(nats_section([nats.url()], credentials_file=stranger_creds),
                                     AUTH_REFUSED, re.escape(f"127.0.0.1:{nats.client_port}"))
        # A file that is not there is a config error, named as such.
        missing = os.path.join(directory, "missing.creds")
        stderr = self.assert_refused_at_start(
            nats_section([nats.url()], credentials_file=missing),
            re.escape("/nats/credentials_file"), re.escape(missing))
        self.assertNotRegex(stderr, AUTH_REFUSED)


class TlsTest(NatsAuthTestCase):

    @classmethod
    def setUpClass(cls):
        cls.cert_dir = tempfile.mkdtemp(prefix="happy-nats-tls-")
        cls.addClassCleanup(shutil.rmtree, cls.cert_dir, True)
        cls.certs = make_certificates(cls.cert_dir)

    def start_tls_nats(self):
        token = "tok-" + os.urandom(8).hex()
        nats = self.start_nats(token_auth(token), tls={"cert_file": self.certs["cert"],
                                                       "key_file": self.certs["key"]})
        return nats, token

    def test_tls_with_the_servers_ca(self):
        nats, token = self.start_tls_nats()
        with self.logs_on_failure():
            server = self.start_service(nats_section([nats.url("tls")], token=token,
                                                     tls={"ca_file": self.certs["ca"]}))
            self.assert_publishes_reach_a_subscriber(server)
            status, view = get_json(server, "/cluster")
            self.assertEqual(status, 200, view)
            self.assertTrue(view["nats"]["connected"], view)

    def test_certificate_from_another_ca_exit_2_at_start(self):
        nats, token = self.start_tls_nats()
        self.assert_refused_at_start(nats_section([nats.url("tls")], token=token,
                                                  tls={"ca_file": self.certs["other_ca"]}),
                                     r"(?i)certificate", re.escape(nats.url("tls")))

    def test_certificate_for_another_host_exit_2_at_start(self):
        # From the right CA, but for elsewhere.example, not the 127.0.0.1 the node dials.
        token = "tok-" + os.urandom(8).hex()
        nats = self.start_nats(token_auth(token), tls={"cert_file": self.certs["elsewhere_cert"],
                                                       "key_file": self.certs["elsewhere_key"]})
        self.assert_refused_at_start(nats_section([nats.url("tls")], token=token,
                                                  tls={"ca_file": self.certs["ca"]}),
                                     r"(?i)mismatch|certificate", re.escape(nats.url("tls")))

    def test_tls_without_a_ca_file_exit_2_at_start(self):
        # The server's certificate is from a CA only tls.ca_file could name: without it the
        # client cannot verify it, and says so at once rather than retrying.
        nats, token = self.start_tls_nats()
        for scheme in ("tls", "nats"):  # a nats:// URL to a server that requires TLS too
            with self.subTest(scheme=scheme):
                self.assert_refused_at_start(nats_section([nats.url(scheme)], token=token),
                                             r"(?i)certificate", re.escape(nats.url(scheme)))

    def test_tls_asked_of_a_server_without_tls_exit_2_at_start(self):
        token = "tok-" + os.urandom(8).hex()
        nats = self.start_nats(token_auth(token))  # plain NATS
        self.assert_refused_at_start(nats_section([nats.url("tls")], token=token,
                                                  tls={"ca_file": self.certs["ca"]}),
                                     r"(?i)secure connection|tls", re.escape(nats.url("tls")))


class CredentialsChangedTest(NatsAuthTestCase):

    def start_node_against_token(self):
        token = "tok-" + os.urandom(8).hex()
        nats = self.start_nats(token_auth(token))
        server = self.start_service(nats_section([nats.url()], token=token))
        status, answer = post(server, ORDERS, {"before": 1})
        self.assertEqual(status, 202, answer)
        return nats, token, server, answer["seq"]

    def assert_unready_but_alive(self, server):
        status, body = wait_http(server, "/readyz", lambda st, _: st == 503, UNREADY_WITHIN_S,
                                 "/readyz 503 once NATS refuses the credentials")
        self.assertEqual(body.get("status"), "nats unavailable", body)
        self.assertTrue(body.get("reason"), body)
        started = time.monotonic()
        status, answer = post(server, ORDERS, {"refused": 1})
        self.assertEqual(status, 503, answer)
        self.assertTrue(answer.get("error"), answer)
        self.assertLess(time.monotonic() - started, PUBLISH_TIMEOUT_MS / 1000 + 3.0 * SLOW)
        self.assertEqual(get_json(server, "/healthz")[0], 200)
        self.assertIsNone(server.proc.poll(), "the node exited")

    def test_node_whose_credentials_are_refused_turns_unready_and_stays_up(self):
        with self.logs_on_failure():
            nats, _, server, _ = self.start_node_against_token()
            nats.restart(auth=token_auth("another-" + os.urandom(8).hex()))
            self.assert_unready_but_alive(server)
            # It stays so (alive, unready) while the client keeps trying, and it ends with
            # SIGTERM and exit 0 in the cleanup.
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                self.assertIsNone(server.proc.poll(), "the node exited")
                self.assertEqual(get_json(server, "/readyz")[0], 503)
                time.sleep(0.2)

    def test_node_the_client_gave_up_on_says_so_and_a_restart_recovers(self):
        # libnats 3.4 closes the connection for good after two refusals of the credentials
        # in a row (README "Clustering": limits): the node says that it needs a restart,
        # stays up, unready, and a restart against NATS that accepts it continues the seqs.
        with self.logs_on_failure():
            nats, token, server, before = self.start_node_against_token()
            nats.restart(auth=token_auth("another-" + os.urandom(8).hex()))
            self.assert_unready_but_alive(server)
            nats.restart(auth=token_auth(token))  # the change is rolled back
            _, body = wait_http(server, "/readyz",
                                lambda st, b: st == 503 and "restart" in (b or {}).get("reason", ""),
                                UNREADY_WITHIN_S, "/readyz names the restart it needs")
            self.assertRegex(body["reason"], AUTH_REFUSED, body)
            self.assertEqual(server.stop(), 0, server.stderr())
            restarted = self.start_service(nats_section([nats.url()], token=token))
            status, answer = post(restarted, ORDERS, {"after": 1})
            self.assertEqual(status, 202, answer)
            self.assertGreater(answer["seq"], before, answer)

    def test_refused_credentials_are_named_in_the_log_and_in_readyz(self):
        # What an operator looks at to learn why the node is unready: not "no NATS server
        # answers" when one answers and refuses the node's credentials.
        with self.logs_on_failure():
            nats, _, server, _ = self.start_node_against_token()
            nats.restart(auth=token_auth("another-" + os.urandom(8).hex()))
            self.assert_unready_but_alive(server)
            wait_for_stderr(server, AUTH_REFUSED, timeout=UNREADY_WITHIN_S)
            status, body = get_json(server, "/readyz")
            self.assertEqual(status, 503, body)
            self.assertRegex(body.get("reason", ""), AUTH_REFUSED + "|credential", body)

    def test_node_started_before_nats_is_told_its_credentials_are_refused(self):
        # Started while NATS is down, a node waits for it (its start cannot be refused yet);
        # when NATS comes up and refuses a node without credentials, the node must say so:
        # exit 2 with the reason, or stay up, unready, with the reason in its log.
        nats = self.start_nats(token_auth("tok-" + os.urandom(8).hex()))
        nats.terminate()
        with self.logs_on_failure():
            server = self.start_server(node_config(nats_section([nats.url()]), topics=TOPICS),
                                       args=("--node", NODE), start_timeout=20.0 * SLOW)
            self.services.append(server)
            self.assertEqual(get_json(server, "/readyz")[0], 503)
            nats.restart()
            deadline = time.monotonic() + UNREADY_WITHIN_S
            while (server.proc.poll() is None and not re.search(AUTH_REFUSED, server.stderr())
                   and time.monotonic() < deadline):
                time.sleep(0.1)
            if server.proc.poll() is not None:
                code = server.stop()
                self.assertEqual(code, 2, server.stderr())
                self.assertRegex(server.stderr(), AUTH_REFUSED)
            else:
                self.assertRegex(server.stderr(), AUTH_REFUSED,
                                 f"nothing in the log within {UNREADY_WITHIN_S} s of NATS "
                                 f"refusing the node")
                self.assertEqual(get_json(server, "/readyz")[0], 503)


if __name__ == "__main__":
    unittest.main()
