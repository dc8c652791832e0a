#pragma once

// Where a generator's readings come from: one of the configured shapes.

#include <cstdint>
#include <random>

#include "config/config.hpp"

namespace happy {

class distribution {
 public:
  distribution(const generator_config& cfg, std::uint64_t seed);

  // The next reading; `unix_ms` drives `sine`, so every node agrees on its phase.
  double next(std::int64_t unix_ms);

  // Adopt new parameters; a random walk keeps its position (clamped).
  void reconfigure(const generator_config& cfg);

 private:
  generator_config cfg_;
  std::mt19937_64 rng_;
  double walk_position_;
};

}  // namespace happy
