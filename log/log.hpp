#pragma once

// One line per event on stderr. Lines are written with a single call so
// threads do not interleave within a line.

#include <string_view>

namespace happy {

enum class log_level { debug = 0, info = 1, warning = 2, error = 3 };

void set_log_level(log_level level);
// Plain text lines, or one JSON object per line ({"ts","level","msg"}).
void set_log_json(bool json);
bool parse_log_level(std::string_view name, log_level& out);
void log(log_level level, std::string_view message);

inline void log_debug(std::string_view m) { log(log_level::debug, m); }
inline void log_info(std::string_view m) { log(log_level::info, m); }
inline void log_warning(std::string_view m) { log(log_level::warning, m); }
inline void log_error(std::string_view m) { log(log_level::error, m); }

}  // namespace happy
