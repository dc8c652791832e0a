#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace happy_bench {

struct latency_summary_ms {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Everything the final JSON line says; see bench_usage() for the definitions.
struct bench_result {
  std::string workload;
  std::string publish;
  int subscribers = 0;
  int connected = 0;
  int failed = 0;
  std::map<std::string, std::uint64_t> failures;
  double connect_seconds = 0;
  std::uint64_t scheduled = 0;  // --rate: values the schedule called for
  std::uint64_t published = 0;
  std::uint64_t acked = 0;
  std::uint64_t publish_errors = 0;
  std::uint64_t delivered = 0;
  std::uint64_t expected = 0;
  std::uint64_t lost = 0;
  std::uint64_t gaps = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t unparsed = 0;        // text frames without a "seq"
  std::uint64_t pings_answered = 0;  // server pings answered with a pong
  int closed_early = 0;
  std::map<int, std::uint64_t> close_codes;
  double duration_seconds = 0;
  double drain_seconds = 0;
  double delivered_per_second = 0;
  double published_per_second = 0;
  std::optional<latency_summary_ms> latency_ms;      // publish -> delivery
  std::optional<latency_summary_ms> ack_latency_ms;  // publish -> acknowledgement
  std::optional<long> server_rss_before_kb;
  std::optional<long> server_rss_connected_kb;
  std::optional<long> server_rss_after_kb;
  std::optional<double> rss_per_connection_bytes;
  std::optional<double> server_cpu_seconds;
  std::optional<double> server_cpu_per_second;
  double tool_cpu_per_second = 0;
  std::string warning;
  std::string error;  // why the run could not be done
};

std::string to_json_line(const bench_result& result);

}  // namespace happy_bench
