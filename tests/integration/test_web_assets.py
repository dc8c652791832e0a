"""The dashboard page and its assets: embedded, cached by ETag, or served from --web-root."""

import os
import tempfile
import unittest

from harness import ServerTestCase, fast_config


class EmbeddedAssetsTest(ServerTestCase):
    def test_page_and_assets_have_types_etags_and_revalidate(self):
        server = self.start_server(fast_config())
        cases = {
            "/": "text/html; charset=utf-8",
            "/?topics=happiness": "text/html; charset=utf-8",
            "/assets/uPlot.esm.js": "text/javascript; charset=utf-8",
            "/assets/uPlot.min.css": "text/css; charset=utf-8",
            "/assets/favicon.svg": "image/svg+xml",
        }
        for path, content_type in cases.items():
            status, headers, body = server.http(path)
            self.assertEqual(status, 200, path)
            self.assertEqual(headers["content-type"], content_type, path)
            self.assertTrue(body, path)
            self.assertIn("no-cache", headers["cache-control"], path)
            etag = headers["etag"]
            status, headers, body = server.http(path, headers={"If-None-Match": etag})
            self.assertEqual(status, 304, path)
            self.assertEqual(body, b"", path)
        self.assertIn(b"<html", server.http("/")[2].lower())

    def test_page_and_assets_carry_the_security_headers(self):
        server = self.start_server(fast_config())
        for path in ("/", "/assets/app.js", "/assets/uPlot.min.css"):
            _, headers, _ = server.http(path)
            csp = headers.get("content-security-policy", "")
            self.assertIn("script-src 'self'", csp, path)
            self.assertIn("default-src 'none'", csp, path)
            self.assertNotIn("unsafe-inline", csp, path)
            self.assertNotIn("unsafe-eval", csp, path)
            self.assertIn("frame-ancestors 'none'", csp, path)
            self.assertEqual(headers.get("x-content-type-options"), "nosniff", path)
            self.assertEqual(headers.get("referrer-policy"), "no-referrer", path)
        # The page has no inline script for the policy to forbid.
        page = server.http("/")[2].decode()
        self.assertNotRegex(page, r"<script(?![^>]*\bsrc=)[^>]*>")

    def test_a_token_url_on_another_origin_may_be_fetched_by_the_page(self):
        cfg = fast_config()
        cfg["auth"] = {"jwt": {"algorithm": "HS256", "secret": "x" * 32},
                       "token_url": "https://backend.example:8443/dashboard/token"}
        server = self.start_server(cfg)
        csp = server.http("/")[1]["content-security-policy"]
        self.assertIn("connect-src 'self' https://backend.example:8443;", csp)

    def test_head_announces_the_length_without_a_body(self):
        server = self.start_server(fast_config())
        _, headers, body = server.http("/assets/uPlot.esm.js")
        status, head_headers, head_body = server.http("/assets/uPlot.esm.js", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(head_body, b"")
        self.assertEqual(int(head_headers["content-length"]), len(body))

    def test_unknown_or_unsafe_asset_names_are_404(self):
        server = self.start_server(fast_config())
        for path in ("/assets/missing.js", "/assets/../main.cpp", "/assets/.npmrc",
                     "/assets/%2e%2e"):
            status, headers, _ = server.http(path)
            self.assertEqual(status, 404, path)
            self.assertEqual(headers["content-type"], "application/json", path)
        # An encoded slash never reaches the asset table: the target is refused.
        status, _, _ = server.http("/assets/%2e%2e%2fREADME.md")
        self.assertEqual(status, 400)


class WebRootTest(ServerTestCase):
    def test_web_root_serves_current_files_from_disk(self):
        root = tempfile.mkdtemp(prefix="happy-web-root-")
        os.makedirs(os.path.join(root, "src"))
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<html>first</html>")
        self.addCleanup(lambda: __import__("shutil").rmtree(root, ignore_errors=True))
        server = self.start_server(fast_config(), args=("--web-root", root))
        status, headers, body = server.http("/")
        self.assertEqual((status, body), (200, b"<html>first</html>"))
        with open(os.path.join(root, "index.html"), "w") as f:
            f.write("<html>second</html>")
        status, headers2, body = server.http("/", headers={"If-None-Match": headers["etag"]})
        self.assertEqual((status, body), (200, b"<html>second</html>"))
        self.assertEqual(server.http("/assets/app.js")[0], 404)


if __name__ == "__main__":
    unittest.main()
