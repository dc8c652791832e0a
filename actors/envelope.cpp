#include "actors/envelope.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cmath>

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
