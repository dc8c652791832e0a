#pragma once

// What a verified token allows, and until when.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace happy {

struct token_grant {
  std::vector<std::string> read;     // topic patterns (auth/topic_pattern.hpp)
  std::vector<std::string> publish;  // topic patterns
  std::int64_t expires_at_ms = 0;    // `exp` (plus the configured leeway), Unix ms

  bool may_read(std::string_view topic) const;
  bool may_publish(std::string_view topic) const;
};

}  // namespace happy
