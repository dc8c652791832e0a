#include <catch2/catch.hpp>

#include "config/command_line.hpp"

using namespace happy;

TEST_CASE("command line flags in both spellings") {
  auto a = parse_command_line({"--config", "c.json", "--port", "9000"});
  CHECK(a.error.empty());
  CHECK(*a.config_path == "c.json");
  CHECK(*a.port == 9000);
  auto b = parse_command_line({"--config=c.json", "--port=0", "--check-config=d.json"});
  CHECK(b.error.empty());
  CHECK(*b.port == 0);
  CHECK(*b.check_config_path == "d.json");
  CHECK(parse_command_line({"--help"}).help);
  CHECK(parse_command_line({"-h"}).help);
  auto c = parse_command_line({"--watch-config", "--node", "n1", "--web-root=web"});
  CHECK(c.error.empty());
  CHECK(c.watch_config);
  CHECK(*c.node == "n1");
  CHECK(*c.web_root == "web");
  CHECK_FALSE(c.config_path);
  CHECK_FALSE(c.storage_path);
  CHECK(*parse_command_line({"--storage", "/data/h.db"}).storage_path == "/data/h.db");
}

TEST_CASE("bad command lines explain themselves") {
  CHECK(parse_command_line({"--port", "70000"}).error ==
        "--port expects a number from 0 to 65535, got '70000'");
  CHECK(parse_command_line({"--port", "-1"}).error ==
        "--port expects a number from 0 to 65535, got '-1'");
  CHECK(parse_command_line({"--port", "008080"}).error ==
        "--port expects a number from 0 to 65535, got '008080'");
  CHECK(parse_command_line({"--port", "80x"}).error ==
        "--port expects a number from 0 to 65535, got '80x'");
  CHECK(parse_command_line({"--config"}).error == "--config needs a value");
  CHECK(parse_command_line({"--verbose"}).error == "unknown argument '--verbose'");
  CHECK(parse_command_line({"--conf", "c.json"}).error == "unknown argument '--conf'");
  CHECK(parse_command_line({"c.json"}).error == "unknown argument 'c.json'");
  CHECK(parse_command_line({"--port="}).error == "--port needs a value");
  CHECK(parse_command_line({"--storage="}).error == "--storage needs a value");
}
