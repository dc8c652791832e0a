#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "actor_test_support.hpp"
#include "actors/source.hpp"
#include "temp_dir.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

// The publishes a source sends to `hub_stand_in` during `window`.
std::vector<std::string> collect(caf::scoped_actor& hub_stand_in, std::chrono::milliseconds window) {
  std::vector<std::string> values;
  auto deadline = std::chrono::steady_clock::now() + window;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    hub_stand_in->receive([&](publish_atom, const std::string& json) { values.push_back(json); },
                          caf::after(left) >> [] {});
  }
  return values;
}

source_config command_every(std::int64_t interval_ms, const std::string& script) {
  source_config cfg;
  cfg.kind = source_kind::command;
  cfg.interval_ms = interval_ms;
  cfg.timeout_ms = 2000;
  cfg.command.argv = {"/bin/sh", "-c", script};
  return cfg;
}

}  // namespace

TEST_CASE("a command source publishes its program's output to the hub every interval") {
  testing::test_system t;
  caf::scoped_actor hub_stand_in{t.system};
  auto counters = std::make_shared<source_counters>();
  auto s = t.system.spawn(source, std::string("t"), caf::actor_cast<hub_actor>(caf::actor{hub_stand_in}),
                          command_every(100, "echo 42"), counters);
  auto values = collect(hub_stand_in, 1000ms);
  CHECK(values.size() >= 7);
  CHECK(values.size() <= 11);
  for (const auto& v : values) CHECK(v == "42");
  CHECK(counters->snapshot().at("t").readings == values.size());
  caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
}

TEST_CASE("a slow command never runs twice at once: ticks in between are skipped") {
  testing::test_system t;
  caf::scoped_actor hub_stand_in{t.system};
  auto counters = std::make_shared<source_counters>();
  testing::temp_dir dir;
  std::string trace = dir.file("trace");
  // Each run notes when it starts and ends (ns); a run takes 250 ms, the interval is 50 ms.
  auto cfg = command_every(50, "echo start $(date +%s%N) >> " + trace +
                                   "; sleep 0.25; echo end $(date +%s%N) >> " + trace + "; echo 1");
  auto s = t.system.spawn(source, std::string("slow"),
                          caf::actor_cast<hub_actor>(caf::actor{hub_stand_in}), cfg, counters);
  auto values = collect(hub_stand_in, 1300ms);
  caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  CHECK(values.size() >= 3);
  CHECK(values.size() <= 6);
  CHECK(counters->snapshot().at("slow").skipped > 0);  // counted, however fast the machine
  std::this_thread::sleep_for(400ms);  // the run in flight ends
  std::ifstream in(trace);
  std::string word, expected = "start";
  std::uint64_t at = 0, last = 0;
  int runs = 0;
  while (in >> word >> at) {
    CHECK(word == expected);  // start, end, start, end: never two starts in a row
    CHECK(at >= last);
    last = at;
    if (word == "start") ++runs;
    expected = word == "start" ? "end" : "start";
  }
  CHECK(runs >= 3);
}

TEST_CASE("failed runs give no reading and are counted by reason") {
  testing::test_system t;
  caf::scoped_actor hub_stand_in{t.system};
  auto counters = std::make_shared<source_counters>();
  auto failing = t.system.spawn(source, std::string("exit"),
                                caf::actor_cast<hub_actor>(caf::actor{hub_stand_in}),
                                command_every(50, "exit 3"), counters);
  auto garbage = t.system.spawn(source, std::string("garbage"),
                                caf::actor_cast<hub_actor>(caf::actor{hub_stand_in}),
                                command_every(50, "echo '{oops'"), counters);
  CHECK(collect(hub_stand_in, 500ms).empty());
  caf::anon_send_exit(failing, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(garbage, caf::exit_reason::user_shutdown);
  auto numbers = counters->snapshot();
  CHECK(numbers.at("exit").failures[static_cast<std::size_t>(source_failure::exit_status)] >= 5);
  CHECK(numbers.at("garbage").failures[static_cast<std::size_t>(source_failure::bad_output)] >= 5);
  CHECK(numbers.at("exit").readings == 0);
}

TEST_CASE("a system source publishes this host's memory as an object") {
  testing::test_system t;
  caf::scoped_actor hub_stand_in{t.system};
  source_config cfg;
  cfg.kind = source_kind::system;
  cfg.metric = system_metric::memory;
  cfg.interval_ms = 50;
  auto s = t.system.spawn(source, std::string("mem"), caf::actor_cast<hub_actor>(caf::actor{hub_stand_in}),
                          cfg, std::make_shared<source_counters>());
  auto values = collect(hub_stand_in, 300ms);
  caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  REQUIRE(values.size() >= 3);
  CHECK_THAT(values.front(), Catch::StartsWith("{\"used\":") && Catch::Contains("\"available\":"));
}
