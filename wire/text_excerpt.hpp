#pragma once

// The one way a piece of untrusted text is shown in a message (a log line,
// an error body): short and printable.

#include <cstddef>
#include <string>
#include <string_view>

namespace happy {

// The first `max_chars` bytes of `text`: newlines become spaces, other
// control bytes and every byte outside ASCII become '?', trailing spaces
// go, and "..." marks a cut.
std::string excerpt(std::string_view text, std::size_t max_chars = 80);

}  // namespace happy
