#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace happy_bench {

// Length of the HTTP response head including the blank line, or 0 while incomplete.
std::size_t http_head_length(std::string_view bytes);
// Status code of a response head ("HTTP/1.1 202 Accepted" -> 202), 0 if malformed.
int http_status(std::string_view head);
// Content-Length of a response head; 0 when absent.
std::size_t http_content_length(std::string_view head);
// The unsigned number after "seq": in a JSON text (last occurrence), if any.
std::optional<std::uint64_t> json_seq(std::string_view json);
// Digits at the start of `text`; nullopt when there are none.
std::optional<std::uint64_t> leading_number(std::string_view text);

}  // namespace happy_bench
