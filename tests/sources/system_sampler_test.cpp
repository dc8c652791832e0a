#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "sources/system_sampler.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

rapidjson::Document parsed(const source_outcome& outcome) {
  REQUIRE(outcome.ok());
  rapidjson::Document doc;
  doc.Parse(outcome.reading.c_str());
  REQUIRE(doc.IsObject());
  return doc;
}

std::uint64_t meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  for (std::string name, unit; in >> name;) {
    std::uint64_t kib = 0;
    in >> kib >> unit;
    if (name == key + ":") return kib * 1024;
  }
  return 0;
}

// A directory shaped like /proc whose files the test writes (a fresh one of its own).
struct fake_proc {
  std::string root;
  fake_proc() {
    std::string pattern = (std::filesystem::temp_directory_path() / "happy-fake-proc-XXXXXX").string();
    root = ::mkdtemp(pattern.data());
    std::filesystem::create_directories(root + "/net");
  }
  ~fake_proc() {
    std::error_code ignored;
    std::filesystem::remove_all(root, ignored);
  }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(root + "/" + name) << text;
  }
};

}  // namespace

TEST_CASE("/proc/stat, /proc/net/dev and /proc/diskstats are parsed") {
  auto cpu = parse_proc_stat("cpu  100 5 30 800 20 3 2 0 0 0\ncpu0 50 2 15 400 10 1 1 0 0 0\n");
  REQUIRE(cpu);
  CHECK(cpu->user == 105);
  CHECK(cpu->system == 35);
  CHECK(cpu->iowait == 20);
  CHECK(cpu->total == 960);
  CHECK_FALSE(parse_proc_stat("intr 1 2 3\n"));

  auto net = parse_net_dev(
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
      "    lo: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0\n"
      "  eth0: 123456 100 0 0 0 0 0 0 654321 90 0 0 0 0 0 0\n");
  CHECK(net.size() == 1);
  CHECK(net.at("eth0").in == 123456);
  CHECK(net.at("eth0").out == 654321);

  auto disks = parse_diskstats("   8       0 sda 100 0 2048 10 50 0 4096 20 0 30 30 0 0 0 0\n");
  CHECK(disks.at("sda").in == 2048 * 512);
  CHECK(disks.at("sda").out == 4096 * 512);
}

TEST_CASE("rates come from the difference of two samples over the time between them") {
  fake_proc proc;
  auto t0 = std::chrono::steady_clock::now();
  proc.write("stat", "cpu 100 0 100 800 0 0 0 0\n");
  system_sampler cpu(system_metric::cpu, proc.root);
  CHECK_FALSE(cpu.sample(t0));  // the baseline
  proc.write("stat", "cpu 130 0 110 850 10 0 0 0\n");  // 100 ticks: 30 user, 10 system, 10 iowait
  auto cpu_doc = parsed(*cpu.sample(t0 + 1s));
  CHECK(cpu_doc["user"].GetDouble() == Approx(30));
  CHECK(cpu_doc["system"].GetDouble() == Approx(10));
  CHECK(cpu_doc["iowait"].GetDouble() == Approx(10));

  proc.write("net/dev", "  eth0: 1000 1 0 0 0 0 0 0 500 1 0 0 0 0 0 0\n");
  system_sampler network(system_metric::network, proc.root);
  CHECK_FALSE(network.sample(t0));
  proc.write("net/dev", "  eth0: 3000 1 0 0 0 0 0 0 600 1 0 0 0 0 0 0\n");
  auto net_doc = parsed(*network.sample(t0 + 2s));
  CHECK(net_doc["eth0_rx"].GetInt64() == 1000);  // 2000 bytes in 2 s
  CHECK(net_doc["eth0_tx"].GetInt64() == 50);
}

TEST_CASE("garbled /proc text is a counted failure with no reading, never a reading of 0") {
  CHECK_THROWS_WITH(parse_proc_stat("cpu 100 5x 30 800\n"), Catch::Contains("'5x' where a number belongs"));
  CHECK_THROWS_AS(parse_net_dev("  eth0: 12-3 1 0 0 0 0 0 0 500 1 0 0 0 0 0 0\n"), garbled_proc_text);
  CHECK_THROWS_AS(parse_diskstats("   8 0 sda 100 0 two 10 50 0 4096 20 0 30 30\n"), garbled_proc_text);

  fake_proc proc;
  auto now = std::chrono::steady_clock::now();
  proc.write("meminfo", "MemTotal: 1000 kB\nMemAvailable: lots kB\n");
  auto memory = system_sampler(system_metric::memory, proc.root).sample(now);
  REQUIRE(memory);
  CHECK(memory->failure == source_failure::bad_output);
  CHECK(memory->problem == "garbled text in " + proc.root + "/meminfo: 'lots' where a number belongs");
  proc.write("loadavg", "0.5 nan? 0.2 1/100 42\n");
  auto load = system_sampler(system_metric::load, proc.root).sample(now);
  REQUIRE(load);
  CHECK(load->failure == source_failure::bad_output);
  // A rate goes on from its last good baseline once the text is whole again.
  proc.write("net/dev", "  eth0: 1000 1 0 0 0 0 0 0 500 1 0 0 0 0 0 0\n");
  system_sampler network(system_metric::network, proc.root);
  CHECK_FALSE(network.sample(now));
  proc.write("net/dev", "  eth0: 2?00 1 0 0 0 0 0 0 500 1 0 0 0 0 0 0\n");
  CHECK(network.sample(now + 1s)->failure == source_failure::bad_output);
  proc.write("net/dev", "  eth0: 3000 1 0 0 0 0 0 0 700 1 0 0 0 0 0 0\n");
  auto rates = parsed(*network.sample(now + 2s));
  CHECK(rates["eth0_rx"].GetInt64() == 1000);  // 2000 bytes over the 2 s since the baseline
  CHECK(rates["eth0_tx"].GetInt64() == 100);
}

TEST_CASE("a missing /proc file is a failure, not a crash") {
  system_sampler memory(system_metric::memory, "/no/such/proc");
  auto outcome = memory.sample(std::chrono::steady_clock::now());
  REQUIRE(outcome);
  CHECK(outcome->failure == source_failure::start);
  CHECK(outcome->problem == "cannot read /no/such/proc/meminfo");
}

TEST_CASE("this machine's /proc gives plausible readings") {
  auto now = std::chrono::steady_clock::now();
  system_sampler memory(system_metric::memory);
  auto mem = parsed(*memory.sample(now));
  auto total = meminfo_bytes("MemTotal");
  REQUIRE(total > 0);
  CHECK(mem["used"].GetUint64() + mem["available"].GetUint64() == total);

  system_sampler load(system_metric::load);
  auto avg = parsed(*load.sample(now));
  CHECK(avg["1m"].GetDouble() >= 0);
  CHECK(avg.HasMember("5m"));
  CHECK(avg.HasMember("15m"));

  system_sampler cpu(system_metric::cpu);
  CHECK_FALSE(cpu.sample(now));
  // Some work so the kernel's tick counters move.
  volatile double sink = 0;
  auto until = std::chrono::steady_clock::now() + 120ms;
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
  auto use = parsed(*cpu.sample(std::chrono::steady_clock::now()));
  double sum = use["user"].GetDouble() + use["system"].GetDouble() + use["iowait"].GetDouble();
  CHECK(sum > 0);
  CHECK(sum <= 100.01);

  for (auto metric : {system_metric::network, system_metric::disk}) {
    system_sampler rates(metric);
    CHECK_FALSE(rates.sample(now));
    auto doc = parsed(*rates.sample(now + 1s));
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) CHECK(it->value.GetInt64() >= 0);
    if (metric == system_metric::disk) CHECK(doc.HasMember("read"));
    if (metric == system_metric::disk) CHECK(doc.HasMember("write"));
  }
}
