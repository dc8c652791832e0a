#pragma once

// Turns what a command printed or an HTTP resource answered into a reading:
// exactly one JSON value, re-written compact, no bigger than the limit.

#include <string>
#include <string_view>

#include "sources/source_outcome.hpp"
#include "wire/text_excerpt.hpp"  // excerpt(), for the callers' messages

namespace happy {

// `text` must be one JSON value (a number is one), surrounded by whitespace at most.
source_outcome reading_from_text(std::string_view text, std::size_t max_reading_bytes);

// The value at `pointer` (RFC 6901) in the JSON document `text`.
source_outcome reading_at_pointer(std::string_view text, const std::string& pointer,
                                  std::size_t max_reading_bytes);

}  // namespace happy
