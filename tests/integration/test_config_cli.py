"""Command line, config validation messages, PORT / --port."""

import json
import os
import re
import subprocess
import unittest

from harness import EXAMPLES_DIR, ServerTestCase, free_port, port_accepts, run_cli, write_temp


def config_file(cfg):
    return write_temp(json.dumps(cfg, indent=2))


BAD_INTERVAL = {"limits": {"history": 600},
                "topics": {"happiness": {"generator": {"interval_ms": -5, "distribution": "uniform",
                                                       "min": 0, "max": 10}}}}


class CheckConfigTest(unittest.TestCase):

    def assert_invalid(self, path, *fragments):
        """--check-config exits 2 and its stderr names the file and every fragment."""
        result = run_cli("--check-config", path)
        self.assertEqual(result.returncode, 2, f"stdout={result.stdout!r} stderr={result.stderr!r}")
        self.assertNotIn("valid", result.stdout.replace("invalid", ""))
        self.assertIn(path, result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        return result.stderr

    def test_examples_are_valid(self):
        examples = sorted(f for f in os.listdir(EXAMPLES_DIR) if f.endswith(".json"))
        self.assertIn("full.json", examples)
        for name in examples:
            with self.subTest(example=name):
                path = os.path.join(EXAMPLES_DIR, name)
                result = run_cli("--check-config", path)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stdout.strip(), f"{path}: valid")

    def test_negative_interval_names_the_json_path(self):
        path = config_file(BAD_INTERVAL)
        stderr = self.assert_invalid(path, "/topics/happiness/generator/interval_ms", "-5")
        self.assertIn(f"{path}: /topics/happiness/generator/interval_ms: ", stderr)
        self.assertIn(">= 1", stderr)

    def test_unknown_key_is_named(self):
        path = config_file({"topics": {"happiness": {"generator": {"interval_ms": 100,
                                                                   "colour": 1}}}})
        self.assert_invalid(path, "/topics/happiness/generator", "colour")

    def test_unknown_top_level_key_is_named(self):
        path = config_file({"topicz": {}})
        self.assert_invalid(path, "topicz")

    def test_reserved_topic_names_are_rejected(self):
        for name in ("metrics", "topics", "healthz"):
            with self.subTest(name=name):
                path = config_file({"topics": {name: {}}})
                self.assert_invalid(path, f"/topics/{name}", "reserved")

    def test_invalid_topic_name_is_rejected(self):
        path = config_file({"topics": {"Happy Topic": {}}})
        self.assert_invalid(path, "Happy Topic")

    def test_syntax_error_names_line_and_column(self):
        text = '{\n  "topics": {\n    "happiness": {,}\n  }\n}\n'
        path = write_temp(text)
        stderr = self.assert_invalid(path, "line 3", "invalid JSON")
        self.assertRegex(stderr, r"line 3, column \d+")

    def test_missing_file_is_reported(self):
        path = "/nonexistent/happy-dashboard/config.json"
        result = run_cli("--check-config", path)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(path, result.stderr)

    def test_help(self):
        result = run_cli("--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("usage", result.stdout.lower())
        for flag in ("--config", "--port", "--check-config"):
            self.assertIn(flag, result.stdout)

    def test_unknown_argument_is_a_usage_error(self):
        result = run_cli("--no-such-flag")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--no-such-flag", result.stderr)


def run_server_expecting_exit(*args, timeout=5):
    """Starts the server; it must exit by itself (killed after timeout)."""
    try:
        return run_cli(*args, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"happy-dashboard {' '.join(args)} kept running; expected it to "
                             f"refuse the config and exit") from None


class StartupTest(ServerTestCase):

    def test_server_refuses_to_start_with_bad_config(self):
        path = config_file(BAD_INTERVAL)
        port = free_port()
        result = run_server_expecting_exit("--config", path, "--port", str(port))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(path, result.stderr)
        self.assertIn("/topics/happiness/generator/interval_ms", result.stderr)
        self.assertFalse(port_accepts(port), "a server is listening despite the bad config")

    def test_server_refuses_to_start_with_syntax_error(self):
        path = write_temp('{"topics": {"happiness": {"generator": {"interval_ms": }}}}')
        result = run_server_expecting_exit("--config", path, "--port", str(free_port()))
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("line 1", result.stderr)
        self.assertIn("invalid JSON", result.stderr)

    def test_port_env_is_honoured(self):
        port = free_port()
        server = self.start_server({"topics": {"happiness": {"generator": {"interval_ms": 100}}}},
                                   port=None, env={"PORT": str(port)})
        # No --port: the harness learnt the port from the "listening on" log line.
        self.assertEqual(server.port, port, server.stderr())
        self.assertTrue(port_accepts(port), f"nothing listens on PORT={port}")
        status, _, body = server.http("/healthz")
        self.assertEqual(status, 200, body)

    def test_port_flag_wins_over_env(self):
        env_port, flag_port = free_port(), free_port()
        while flag_port == env_port:
            flag_port = free_port()
        server = self.start_server(None, port=flag_port, env={"PORT": str(env_port)})
        status, _, body = server.http("/healthz")
        self.assertEqual(status, 200, body)
        self.assertRegex(server.stderr(), rf"listening on \S*:{flag_port}\b")
        self.assertFalse(port_accepts(env_port), "the PORT env won over --port")

    def test_port_zero_logs_the_bound_port(self):
        server = self.start_server(None, port=0)
        m = re.search(r"listening on \S*:(\d+)", server.stderr())
        self.assertIsNotNone(m, server.stderr())
        bound = int(m.group(1))
        self.assertNotEqual(bound, 0, "logged port 0 instead of the bound port")
        self.assertEqual(server.port, bound)
        status, _, body = server.http("/healthz")
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
