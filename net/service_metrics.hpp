#pragma once

// Counters the network side keeps for GET /metrics, rendered in the
// Prometheus text format together with the hubs' numbers and the
// connection tracker's gauges. Atomics only: nothing here is actor state.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "storage/storage_status.hpp"
#include "net/connection_tracker.hpp"
#include "sources/source_counters.hpp"
#include "wire/vocabulary.hpp"

namespace happy {

// Why a publish was refused, as /metrics labels it (net/refusal_status maps
// auth/ and wire/ reasons to these).
enum class publish_rejection {
  invalid_json,
  too_large,
  missing_token,
  wrong_token,          // not one of publish.tokens
  publishing_disabled,
  invalid_topic,
  topic_limit,
  invalid_token,        // a JWT that did not verify (expired, bad signature, ...)
  not_for_this_topic,   // a valid JWT whose publish claim does not cover the topic
};
inline constexpr std::size_t publish_rejection_count = 9;

struct topic_counters {
  explicit topic_counters(std::string topic_name) : name(std::move(topic_name)) {}
  const std::string name;  // connections keep this instead of their own copy
  std::atomic<std::uint64_t> delivered{0};  // envelopes written to a client
  std::atomic<std::uint64_t> dropped{0};    // envelopes discarded (slow or vanished client)
};

class service_metrics {
 public:
  // The counters of `topic`, created on first use; keep the pointer.
  std::shared_ptr<topic_counters> topic(const std::string& name);

  void count_rejection(publish_rejection reason);
  void count_slow_consumer() { ++slow_consumer_disconnects_; }
  void count_reload(bool ok) { ++(ok ? reloads_ok_ : reloads_failed_); }
  void count_tls_handshake_failure() { ++tls_handshake_failures_; }

  // `storage` is null without a history file; `sources` may be.
  std::string render(const std::vector<topic_stats>& topics, const connection_tracker& connections,
                     const storage_status* storage = nullptr,
                     const source_counters* sources = nullptr) const;

 private:
  static void write_connections(std::ostringstream& out, const connection_tracker& connections);
  static void write_topics(std::ostringstream& out, const std::vector<topic_stats>& topics);
  void write_deliveries(std::ostringstream& out) const;
  void write_refusals(std::ostringstream& out) const;
  static void write_sources(std::ostringstream& out, const source_counters& sources);
  static void write_storage(std::ostringstream& out, const storage_status& storage);
  static void write_process(std::ostringstream& out);

  mutable std::mutex mutex_;  // guards the map only
  std::map<std::string, std::shared_ptr<topic_counters>> topics_;
  std::array<std::atomic<std::uint64_t>, publish_rejection_count> rejections_{};
  std::atomic<std::uint64_t> slow_consumer_disconnects_{0};
  std::atomic<std::uint64_t> reloads_ok_{0};
  std::atomic<std::uint64_t> reloads_failed_{0};
  std::atomic<std::uint64_t> tls_handshake_failures_{0};
};

}  // namespace happy
