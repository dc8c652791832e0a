#include "actors/distribution.hpp"

#include <algorithm>
#include <cmath>

namespace happy {

namespace {
constexpr double two_pi = 6.283185307179586;
}

distribution::distribution(const generator_config& cfg, std::uint64_t seed)
    : cfg_(cfg), rng_(seed), walk_position_(cfg.start) {}

void distribution::reconfigure(const generator_config& cfg) {
  bool was_walk = cfg_.distribution == distribution_kind::random_walk;
  cfg_ = cfg;
  walk_position_ = was_walk ? std::clamp(walk_position_, cfg.min, cfg.max) : cfg.start;
}

double distribution::next(std::int64_t unix_ms) {
  switch (cfg_.distribution) {
    case distribution_kind::uniform: {
      double value = std::uniform_real_distribution<double>(cfg_.min, cfg_.max)(rng_);
      // uniform_real_distribution may round up to max; the contract is [min, max).
      return value < cfg_.max ? value : cfg_.min;
    }
    case distribution_kind::normal:
      if (cfg_.stddev <= 0) return cfg_.mean;
      return std::normal_distribution<double>(cfg_.mean, cfg_.stddev)(rng_);
    case distribution_kind::random_walk: {
      double delta = std::uniform_real_distribution<double>(-cfg_.step, cfg_.step)(rng_);
      walk_position_ = std::clamp(walk_position_ + delta, cfg_.min, cfg_.max);
      return walk_position_;
    }
    case distribution_kind::sine: {
      double phase = std::fmod(static_cast<double>(unix_ms), cfg_.period_ms) / cfg_.period_ms;
      return cfg_.offset + cfg_.amplitude * std::sin(two_pi * phase);
    }
  }
  return 0;
}

}  // namespace happy
