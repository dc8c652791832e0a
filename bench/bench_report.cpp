#include "bench_report.hpp"

#include <cmath>
#include <cstdio>

namespace happy_bench {

namespace {

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string number(double value, int decimals = 3) {
  if (!std::isfinite(value)) return "null";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

class json_object {
 public:
  json_object& field(const char* key, const std::string& raw_json) {
    text_ += text_.size() > 1 ? "," : "";
    text_ += quoted(key) + ":" + raw_json;
    return *this;
  }
  json_object& integer(const char* key, std::uint64_t value) { return field(key, std::to_string(value)); }
  json_object& real(const char* key, double value, int decimals = 3) {
    return field(key, number(value, decimals));
  }
  json_object& string(const char* key, const std::string& value) { return field(key, quoted(value)); }
  std::string done() { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

}  // namespace

std::string to_json_line(const bench_result& r) {
  json_object out;
  out.string("workload", r.workload).string("publish", r.publish);
  out.integer("subscribers", static_cast<std::uint64_t>(r.subscribers));
  out.integer("connected", static_cast<std::uint64_t>(r.connected));
  out.integer("failed", static_cast<std::uint64_t>(r.failed));
  if (!r.failures.empty()) {
    json_object failures;
    for (auto& [reason, count] : r.failures) failures.integer(reason.c_str(), count);
    out.field("failures", failures.done());
  }
  out.real("connect_seconds", r.connect_seconds);
  if (r.scheduled > 0) out.integer("scheduled", r.scheduled);
  out.integer("published", r.published).integer("acked", r.acked);
  if (r.publish_errors > 0) out.integer("publish_errors", r.publish_errors);
  out.integer("delivered", r.delivered).integer("expected", r.expected).integer("lost", r.lost);
  out.integer("gaps", r.gaps).integer("out_of_order", r.out_of_order);
  if (r.unparsed > 0) out.integer("unparsed", r.unparsed);
  if (r.pings_answered > 0) out.integer("pings_answered", r.pings_answered);
  out.integer("closed_early", static_cast<std::uint64_t>(r.closed_early));
  json_object codes;
  for (auto& [code, count] : r.close_codes) codes.integer(std::to_string(code).c_str(), count);
  out.field("close_codes", codes.done());
  out.real("duration_seconds", r.duration_seconds).real("drain_seconds", r.drain_seconds);
  out.real("delivered_per_second", r.delivered_per_second, 1);
  out.real("published_per_second", r.published_per_second, 1);
  auto latency_field = [&](const char* name, const std::optional<latency_summary_ms>& l) {
    if (!l) {
      out.field(name, "null");
      return;
    }
    json_object latency;
    latency.real("p50", l->p50).real("p90", l->p90);
    latency.real("p99", l->p99).real("max", l->max);
    out.field(name, latency.done());
  };
  latency_field("latency_ms", r.latency_ms);
  if (r.ack_latency_ms) latency_field("ack_latency_ms", r.ack_latency_ms);
  if (r.server_rss_before_kb) out.integer("server_rss_before_kb", static_cast<std::uint64_t>(*r.server_rss_before_kb));
  if (r.server_rss_connected_kb)
    out.integer("server_rss_connected_kb", static_cast<std::uint64_t>(*r.server_rss_connected_kb));
  if (r.server_rss_after_kb) out.integer("server_rss_after_kb", static_cast<std::uint64_t>(*r.server_rss_after_kb));
  if (r.rss_per_connection_bytes) out.real("rss_per_connection_bytes", *r.rss_per_connection_bytes, 0);
  if (r.server_cpu_seconds) out.real("server_cpu_seconds", *r.server_cpu_seconds, 2);
  if (r.server_cpu_per_second) out.real("server_cpu_per_second", *r.server_cpu_per_second);
  out.real("tool_cpu_per_second", r.tool_cpu_per_second);
  if (!r.warning.empty()) out.string("warning", r.warning);
  if (!r.error.empty()) out.string("error", r.error);
  return out.done();
}

}  // namespace happy_bench
