#pragma once

// The sources' numbers for GET /metrics, per topic. The source actors count;
// the network side reads a copy.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "sources/source_outcome.hpp"

namespace happy {

struct source_numbers {
  std::uint64_t readings = 0;  // runs that gave a reading
  std::uint64_t skipped = 0;   // ticks passed over while a run was still going
  std::array<std::uint64_t, source_failure_count> failures{};  // by source_failure
};

class source_counters {
 public:
  void count_reading(const std::string& topic) {
    std::lock_guard<std::mutex> guard(mutex_);
    ++topics_[topic].readings;
  }
  void count_skipped(const std::string& topic) {
    std::lock_guard<std::mutex> guard(mutex_);
    ++topics_[topic].skipped;
  }
  void count_failure(const std::string& topic, source_failure why) {
    std::lock_guard<std::mutex> guard(mutex_);
    ++topics_[topic].failures[static_cast<std::size_t>(why)];
  }
  std::map<std::string, source_numbers> snapshot() const {
    std::lock_guard<std::mutex> guard(mutex_);
    return topics_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, source_numbers> topics_;  // topics with a source, by name
};

}  // namespace happy
