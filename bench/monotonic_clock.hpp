#pragma once

#include <cstdint>
#include <ctime>

namespace happy_bench {

constexpr std::int64_t ns_per_second = 1'000'000'000;

// CLOCK_MONOTONIC is shared by every process on the machine, so a publisher's
// timestamp can be compared with a subscriber's clock in another process.
inline std::int64_t monotonic_ns() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * ns_per_second + now.tv_nsec;
}

inline double seconds_between(std::int64_t from_ns, std::int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) / ns_per_second;
}

}  // namespace happy_bench
