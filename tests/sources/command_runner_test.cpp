#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <unistd.h>

#include "sources/command_runner.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

const stop_signal never_stopped;

source_outcome sh(const std::string& script, std::chrono::milliseconds timeout = 2000ms,
                  std::size_t max_output = 1000) {
  command_source command;
  command.argv = {"/bin/sh", "-c", script};
  return run_command(command, timeout, max_output, never_stopped);
}

}  // namespace

TEST_CASE("a command's stdout is the reading") {
  CHECK(sh("echo 42").reading == "42");
  CHECK(sh("printf '{\"a\": 1,\\n \"b\": [true]}'").reading == R"({"a":1,"b":[true]})");
  CHECK(sh("echo 7; echo noise >&2").reading == "7");  // stderr is not the reading
}

TEST_CASE("the environment and the directory are the config's, nothing else") {
  ::setenv("HAPPY_SERVICE_SECRET", "do-not-leak", 1);
  command_source command;
  command.argv = {"/bin/sh", "-c",
                  "printf '{\"dir\":\"%s\",\"x\":\"%s\",\"secret\":\"%s\",\"path\":\"%s\"}' "
                  "\"$PWD\" \"$X\" \"$HAPPY_SERVICE_SECRET\" \"$PATH\""};
  command.env = {{"X", "from config"}};
  command.cwd = "/tmp";
  auto outcome = run_command(command, 2000ms, 1000, never_stopped);
  ::unsetenv("HAPPY_SERVICE_SECRET");
  REQUIRE(outcome.ok());
  rapidjson::Document doc;
  doc.Parse(outcome.reading.c_str());
  CHECK(std::string(doc["dir"].GetString()) == "/tmp");
  CHECK(std::string(doc["x"].GetString()) == "from config");
  CHECK(std::string(doc["secret"].GetString()).empty());
  CHECK(std::string(doc["path"].GetString()) == "/usr/local/bin:/usr/bin:/bin");
}

TEST_CASE("the service's descriptors are not inherited and stdin is empty") {
  // The test's own stdout/stderr are 1 and 2; anything >= 3 would be a leak.
  auto outcome = sh("ls /proc/self/fd | sort -n | tr '\\n' ' ' | sed 's/ $//; s/^/\"/; s/$/\"/'");
  REQUIRE(outcome.ok());
  CHECK(outcome.reading == "\"0 1 2 3\"");  // 3 is ls's own directory handle
  CHECK(sh("cat").failure == source_failure::bad_output);  // EOF at once, no output
}

TEST_CASE("failures: exit status, signal, garbage, too large, timeout, not startable") {
  auto exit1 = sh("echo 'disk not mounted' >&2; exit 1");
  CHECK(exit1.failure == source_failure::exit_status);
  CHECK(exit1.problem == "/bin/sh exited with status 1: disk not mounted");
  auto killed = sh("kill -9 $$");
  CHECK(killed.failure == source_failure::exit_status);
  CHECK_THAT(killed.problem, Catch::Contains("killed by signal 9"));
  CHECK(sh("echo not json").failure == source_failure::bad_output);
  auto large = sh("head -c 5000 /dev/zero | tr '\\0' 1", 2000ms, 1000);
  CHECK(large.failure == source_failure::too_large);

  auto started = std::chrono::steady_clock::now();
  // The group is killed: the sleeping grandchild must not keep the pipe open.
  auto slow = sh("sleep 30 & sleep 30; echo 1", 300ms);
  auto took = std::chrono::steady_clock::now() - started;
  CHECK(slow.failure == source_failure::timeout);
  CHECK(slow.problem == "/bin/sh did not finish within 300 ms (killed)");
  CHECK(took < 2s);

  command_source missing;
  missing.argv = {"/no/such/program"};
  auto not_started = run_command(missing, 1000ms, 100, never_stopped);
  CHECK(not_started.failure == source_failure::start);
  CHECK_THAT(not_started.problem, Catch::StartsWith("cannot start /no/such/program: "));
}

TEST_CASE("a stop ends the run at once and kills what the program started") {
  stop_signal stop;
  char pid_file[] = "/tmp/happy-stop-XXXXXX";
  int fd = ::mkstemp(pid_file);
  REQUIRE(fd >= 0);
  ::close(fd);
  command_source command;
  // The grandchild records its pid: it must be gone too, not left to its 30 s.
  command.argv = {"/bin/sh", "-c", std::string("sleep 30 & echo $! > ") + pid_file + "; wait"};
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(300ms);
    stop.raise();
  });
  auto started = std::chrono::steady_clock::now();
  auto outcome = run_command(command, 20000ms, 100, stop);
  auto took = std::chrono::steady_clock::now() - started;
  stopper.join();
  CHECK(outcome.failure == source_failure::stopped);
  CHECK(took < 2s);
  pid_t grandchild = 0;
  if (FILE* f = std::fopen(pid_file, "r")) {
    CHECK(std::fscanf(f, "%d", &grandchild) == 1);
    std::fclose(f);
  }
  ::unlink(pid_file);
  REQUIRE(grandchild > 0);
  // Killed, then reaped by init (or left a zombie for a moment): not sleeping on.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    char state = 'X';
    if (FILE* f = std::fopen(("/proc/" + std::to_string(grandchild) + "/stat").c_str(), "r")) {
      CHECK(std::fscanf(f, "%*d (%*[^)]) %c", &state) == 1);
      std::fclose(f);
    }
    gone = state == 'Z' || state == 'X';
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  CHECK(gone);
  // A raised signal stays raised: the next run does not start at all.
  CHECK(run_command(command, 20000ms, 100, stop).failure == source_failure::stopped);
}
