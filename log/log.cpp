#include "log/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace happy {

namespace {
std::atomic<int> minimum_level{static_cast<int>(log_level::info)};
std::atomic<bool> json_lines{false};

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}
constexpr const char* level_names[] = {"debug", "info", "warning", "error"};
}  // namespace

void set_log_level(log_level level) { minimum_level = static_cast<int>(level); }
void set_log_json(bool json) { json_lines = json; }

bool parse_log_level(std::string_view name, log_level& out) {
  for (int i = 0; i < 4; ++i)
    if (name == level_names[i]) {
      out = static_cast<log_level>(i);
      return true;
    }
  return false;
}

void log(log_level level, std::string_view message) {
  if (static_cast<int>(level) < minimum_level) return;
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t seconds = system_clock::to_time_t(now);
  auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string time = std::string(stamp) + "." + (millis < 100 ? (millis < 10 ? "00" : "0") : "") +
                     std::to_string(millis) + "Z";
  const char* level_name = level_names[static_cast<int>(level)];
  std::string line;
  if (json_lines) {
    line = "{\"ts\":\"" + time + "\",\"level\":\"" + level_name + "\",\"msg\":";
    append_json_string(line, message);
    line += "}\n";
  } else {
    line = time + " " + level_name + " " + std::string(message) + "\n";
  }
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace happy
