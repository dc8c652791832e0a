#include "latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace happy_bench {

namespace {
constexpr unsigned sub_bits = 8;
constexpr std::uint64_t sub_buckets = 1u << sub_bits;      // per power of two
constexpr std::uint64_t exact_below = 2 * sub_buckets;      // one bucket per value below this
constexpr std::size_t bucket_count = exact_below + (63 - sub_bits) * sub_buckets;
}  // namespace

latency_histogram::latency_histogram() : counts_(bucket_count, 0) {}

std::size_t latency_histogram::bucket_of(std::uint64_t value) {
  if (value < exact_below) return static_cast<std::size_t>(value);
  unsigned shift = static_cast<unsigned>(63 - __builtin_clzll(value)) - sub_bits;  // >= 1
  return static_cast<std::size_t>(exact_below + (shift - 1) * sub_buckets +
                                  ((value >> shift) - sub_buckets));
}

std::uint64_t latency_histogram::bucket_lower(std::size_t bucket) {
  if (bucket < exact_below) return bucket;
  std::uint64_t k = bucket - exact_below;
  unsigned shift = static_cast<unsigned>(k / sub_buckets) + 1;
  return (k % sub_buckets + sub_buckets) << shift;
}

std::uint64_t latency_histogram::bucket_width(std::size_t bucket) {
  if (bucket < exact_below) return 1;
  return std::uint64_t{1} << ((bucket - exact_below) / sub_buckets + 1);
}

void latency_histogram::record(std::int64_t nanoseconds) {
  if (nanoseconds < 0) nanoseconds = 0;  // cannot happen with one shared clock; be safe
  ++counts_[bucket_of(static_cast<std::uint64_t>(nanoseconds))];
  ++count_;
  max_ = std::max(max_, nanoseconds);
}

std::int64_t latency_histogram::value_at_quantile(double q) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t bucket = 0; bucket < counts_.size(); ++bucket) {
    seen += counts_[bucket];
    if (seen >= rank) {
      auto mid = static_cast<std::int64_t>(bucket_lower(bucket) + bucket_width(bucket) / 2);
      return std::min(mid, max_);
    }
  }
  return max_;
}

}  // namespace happy_bench
