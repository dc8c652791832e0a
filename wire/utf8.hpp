#pragma once

#include <string_view>

namespace happy {

// Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing
// beyond U+10FFFF. WebSocket text frames must be valid UTF-8 (RFC 6455 §8.1).
bool is_valid_utf8(std::string_view text);

}  // namespace happy
