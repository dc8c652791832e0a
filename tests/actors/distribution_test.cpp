#include <catch2/catch.hpp>

#include <cmath>

#include "actors/distribution.hpp"

using namespace happy;

namespace {
constexpr int samples = 20000;
}

TEST_CASE("uniform stays between min (inclusive) and max (exclusive) and covers the range") {
  generator_config cfg;
  cfg.distribution = distribution_kind::uniform;
  cfg.min = 0;
  cfg.max = 10;
  distribution d(cfg, 42);
  double lo = 100, hi = -100;
  for (int i = 0; i < samples; ++i) {
    double v = d.next(0);
    REQUIRE(v >= 0);
    REQUIRE(v < 10);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  CHECK(lo < 0.1);
  CHECK(hi > 9.9);
}

TEST_CASE("normal centres on its mean with its spread") {
  generator_config cfg;
  cfg.distribution = distribution_kind::normal;
  cfg.mean = 21.5;
  cfg.stddev = 0.8;
  distribution d(cfg, 7);
  double sum = 0, sum_sq = 0;
  for (int i = 0; i < samples; ++i) {
    double v = d.next(0);
    sum += v;
    sum_sq += v * v;
  }
  double mean = sum / samples;
  double stddev = std::sqrt(sum_sq / samples - mean * mean);
  CHECK(mean == Approx(21.5).epsilon(0.01));
  CHECK(stddev == Approx(0.8).epsilon(0.05));
}

TEST_CASE("random walk moves at most one step and never leaves min..max") {
  generator_config cfg;
  cfg.distribution = distribution_kind::random_walk;
  cfg.start = 5;
  cfg.step = 1.5;
  cfg.min = 0;
  cfg.max = 10;
  distribution d(cfg, 3);
  double previous = cfg.start;
  for (int i = 0; i < samples; ++i) {
    double v = d.next(0);
    REQUIRE(v >= 0);
    REQUIRE(v <= 10);
    REQUIRE(std::abs(v - previous) <= 1.5 + 1e-9);
    previous = v;
  }
}

TEST_CASE("sine follows offset + amplitude * sin(2 pi t / period)") {
  generator_config cfg;
  cfg.distribution = distribution_kind::sine;
  cfg.period_ms = 1000;
  cfg.amplitude = 2;
  cfg.offset = 3;
  distribution d(cfg, 1);
  CHECK(d.next(0) == Approx(3));
  CHECK(d.next(250) == Approx(5));
  CHECK(d.next(750) == Approx(1));
  CHECK(d.next(1250) == Approx(5));
  for (int t = 0; t < 5000; t += 7) {
    double v = d.next(t);
    REQUIRE(v >= 1 - 1e-9);
    REQUIRE(v <= 5 + 1e-9);
  }
}

TEST_CASE("a random walk keeps its position across a reconfigure, clamped to new bounds") {
  generator_config cfg;
  cfg.distribution = distribution_kind::random_walk;
  cfg.start = 9;
  cfg.step = 0;
  cfg.min = 0;
  cfg.max = 10;
  distribution d(cfg, 3);
  CHECK(d.next(0) == 9);
  cfg.max = 4;
  d.reconfigure(cfg);
  CHECK(d.next(0) == 4);
}
