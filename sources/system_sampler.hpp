#pragma once

// This host's numbers, read from /proc (README "Sources"): one object per
// reading, which the page draws as one series per field. CPU, network and
// disk are rates, so their first sample is only the baseline.
//
// Reading /proc costs microseconds and never waits on a disk (the kernel
// writes the text on demand), so the source actor samples on its own thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "sources/source_outcome.hpp"

namespace happy {

// /proc text with a word where a number belongs: the sample fails (counted
// as bad_output) instead of reading the word as 0.
struct garbled_proc_text : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The parsers below throw garbled_proc_text.
struct cpu_times {
  std::uint64_t user = 0, system = 0, iowait = 0, total = 0;
};
// The aggregate "cpu" line of /proc/stat.
std::optional<cpu_times> parse_proc_stat(std::string_view text);

struct byte_counters {
  std::uint64_t in = 0, out = 0;  // network: received, sent; disk: read, written
};
// /proc/net/dev: bytes per interface, loopback left out.
std::map<std::string, byte_counters> parse_net_dev(std::string_view text);
// /proc/diskstats: bytes read and written per device.
std::map<std::string, byte_counters> parse_diskstats(std::string_view text);

class system_sampler {
 public:
  explicit system_sampler(system_metric metric, std::string proc_root = "/proc",
                          std::string sys_block = "/sys/block");

  // A reading, a failure, or nullopt while a rate has only its baseline.
  std::optional<source_outcome> sample(std::chrono::steady_clock::time_point now);

 private:
  static const char* file_of(system_metric metric);  // under the /proc root
  std::optional<source_outcome> sample_unchecked(std::chrono::steady_clock::time_point now);
  std::optional<source_outcome> cpu();
  source_outcome memory();
  source_outcome load();
  std::optional<source_outcome> rates(const std::map<std::string, byte_counters>& totals,
                                      std::chrono::steady_clock::time_point now);

  system_metric metric_;
  std::string proc_root_;
  std::string sys_block_;
  std::optional<cpu_times> last_cpu_;
  std::map<std::string, byte_counters> last_totals_;
  std::optional<std::chrono::steady_clock::time_point> last_at_;
};

}  // namespace happy
