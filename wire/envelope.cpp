#include "wire/envelope.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <climits>
#include <cmath>

#include "wire/number_text.hpp"

namespace happy {

std::string make_envelope(std::string_view topic, std::string_view value_json, std::uint64_t seq,
                          std::int64_t ts_ms) {
  std::string out;
  out.reserve(topic.size() * 2 + value_json.size() + 64);
  out += "{\"";
  out += topic;
  out += "\":";
  out += value_json;
  out += ",\"topic\":\"";
  out += topic;
  out += "\",\"seq\":";
  out += std::to_string(seq);
  out += ",\"ts\":";
  out += std::to_string(ts_ms);
  out += '}';
  return out;
}

std::optional<envelope_parts> split_envelope(std::string_view topic, std::string_view envelope) {
  std::string prefix = "{\"" + std::string(topic) + "\":";
  std::string middle = ",\"topic\":\"" + std::string(topic) + "\",\"seq\":";
  if (envelope.substr(0, prefix.size()) != prefix || envelope.empty() || envelope.back() != '}')
    return std::nullopt;
  // The value may hold the same text in a string; what follows the last one is only numbers.
  auto at = envelope.rfind(middle);
  if (at == std::string_view::npos || at < prefix.size()) return std::nullopt;
  auto ts_key = envelope.find(",\"ts\":", at + middle.size());
  if (ts_key == std::string_view::npos) return std::nullopt;
  // Digits only up to the closing brace, and within int64.
  auto ts = parse_unsigned(envelope.substr(ts_key + 6, envelope.size() - 1 - (ts_key + 6)));
  if (!ts || *ts > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
  return envelope_parts{envelope.substr(prefix.size(), at - prefix.size()), static_cast<std::int64_t>(*ts)};
}

std::string number_json(double value) {
  if (!std::isfinite(value)) return "null";  // JSON has no NaN/Inf
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.Double(value);
  return buffer.GetString();
}

std::int64_t unix_millis_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace happy
