#include "http_client_messages.hpp"

#include <strings.h>

namespace happy_bench {

std::size_t http_head_length(std::string_view bytes) {
  auto end = bytes.find("\r\n\r\n");
  return end == std::string_view::npos ? 0 : end + 4;
}

int http_status(std::string_view head) {
  if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return 0;
  auto space = head.find(' ');
  if (space == std::string_view::npos) return 0;
  auto number = leading_number(head.substr(space + 1));
  return number && *number < 1000 ? static_cast<int>(*number) : 0;
}

std::size_t http_content_length(std::string_view head) {
  constexpr std::string_view name = "\r\ncontent-length:";
  for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;
       at = head.find("\r\n", at + 2)) {
    if (head.size() - at >= name.size() &&
        strncasecmp(head.data() + at, name.data(), name.size()) == 0) {
      std::size_t value = at + name.size();
      while (value < head.size() && head[value] == ' ') ++value;
      auto number = leading_number(head.substr(value));
      return number ? static_cast<std::size_t>(*number) : 0;
    }
  }
  return 0;
}

std::optional<std::uint64_t> json_seq(std::string_view json) {
  constexpr std::string_view key = "\"seq\":";
  auto at = json.rfind(key);
  if (at == std::string_view::npos) return std::nullopt;
  return leading_number(json.substr(at + key.size()));
}

std::optional<std::uint64_t> leading_number(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i < 20)
    value = value * 10 + static_cast<std::uint64_t>(text[i++] - '0');
  if (i == 0) return std::nullopt;
  return value;
}

}  // namespace happy_bench
