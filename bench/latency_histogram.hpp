#pragma once

#include <cstdint>
#include <vector>

namespace happy_bench {

// Log-bucketed histogram of nanosecond latencies (HDR-like): exact below 512 ns,
// then 256 buckets per power of two, so a reported value is within 0.2 % of the
// true one. Fixed 114 KiB whatever the sample count, O(1) per record.
class latency_histogram {
 public:
  latency_histogram();

  void record(std::int64_t nanoseconds);
  std::uint64_t count() const { return count_; }
  std::int64_t max() const { return max_; }
  // The value below which the fraction q of samples falls (bucket midpoint).
  std::int64_t value_at_quantile(double q) const;

 private:
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t bucket_lower(std::size_t bucket);
  static std::uint64_t bucket_width(std::size_t bucket);

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
};

}  // namespace happy_bench
