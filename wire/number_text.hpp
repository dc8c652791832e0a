#pragma once

// The one way text becomes a number here (query parameters, ports, /proc,
// message headers, envelope timestamps): the whole text, plain ASCII digits,
// nothing else.

#include <cstdint>
#include <optional>
#include <string_view>

namespace happy {

// 1 to 20 ASCII digits (2^64 - 1 has 20) that fit in 64 bits: no sign, no
// spaces, nothing after them; nullopt otherwise.
std::optional<std::uint64_t> parse_unsigned(std::string_view text);

// A decimal number such as "0.52", "-3", "1e3": the whole text, finite;
// nullopt for anything else (a sign '+', "inf", "nan", junk, out of range).
std::optional<double> parse_decimal(std::string_view text);

}  // namespace happy
