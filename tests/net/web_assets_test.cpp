#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "net/web_assets.hpp"
#include "temp_dir.hpp"

using namespace happy;

TEST_CASE("the build embeds the page, its modules and uPlot") {
  auto assets = web_assets::embedded();
  auto index = assets.find("index.html");
  REQUIRE(index);
  CHECK(index->content_type == "text/html; charset=utf-8");
  CHECK(index->body->find("<html") != std::string::npos);
  auto uplot = assets.find("uPlot.esm.js");
  REQUIRE(uplot);
  CHECK(uplot->content_type == "text/javascript; charset=utf-8");
  CHECK(uplot->body->size() > 10000);
  REQUIRE(assets.find("uPlot.min.css"));
  auto favicon = assets.find("favicon.svg");
  REQUIRE(favicon);
  CHECK(favicon->content_type == "image/svg+xml");
  CHECK_FALSE(assets.find("missing.js"));
}

TEST_CASE("ETags are quoted, stable, and change with the content") {
  CHECK(web_assets::etag_of("abc") == web_assets::etag_of("abc"));
  CHECK(web_assets::etag_of("abc") != web_assets::etag_of("abd"));
  CHECK(web_assets::etag_of("abc").front() == '"');
  CHECK(web_assets::etag_of("abc").back() == '"');
}

TEST_CASE("only plain file names map to files below web/") {
  CHECK(web_assets::source_path("app.js") == "src/app.js");
  CHECK(web_assets::source_path("uPlot.esm.js") == "node_modules/uplot/dist/uPlot.esm.js");
  for (auto bad : {"../secret", "a/b.js", ".env", "", "%2e%2e"})
    CHECK(web_assets::source_path(bad).empty());
}

TEST_CASE("a web root directory serves the current file contents from disk") {
  namespace fs = std::filesystem;
  happy::testing::temp_dir dir;
  auto root = dir.path;
  fs::create_directories(root / "src");
  std::ofstream(root / "src" / "app.js") << "one";
  auto assets = web_assets::from_directory(root.string());
  auto first = assets.find("app.js");
  REQUIRE(first);
  CHECK(*first->body == "one");
  std::ofstream(root / "src" / "app.js") << "two";
  auto second = assets.find("app.js");
  REQUIRE(second);
  CHECK(*second->body == "two");
  CHECK(first->etag != second->etag);
  CHECK_FALSE(assets.find("index.html"));
}
