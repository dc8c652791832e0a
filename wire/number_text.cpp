#include "wire/number_text.hpp"

#include <charconv>
#include <cmath>

namespace happy {

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  // No unbounded runs of leading zeros either.
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [stop, problem] = std::from_chars(text.data(), end, value);
  if (problem != std::errc{} || stop != end) return std::nullopt;
  return value;
}

std::optional<double> parse_decimal(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [stop, problem] = std::from_chars(text.data(), end, value, std::chars_format::general);
  if (text.empty() || problem != std::errc{} || stop != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace happy
