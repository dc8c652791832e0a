#include "bench_options.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <stdexcept>

namespace happy_bench {

namespace {

struct bad_option : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string shown(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

double parse_number(const std::string& name, const std::string& text, double min, double max) {
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(value))
    throw bad_option(name + ": expected a number, got '" + text + "'");
  if (value < min || value > max)
    throw bad_option(name + ": " + text + " is out of range [" + shown(min) + ", " + shown(max) + "]");
  return value;
}

int parse_integer(const std::string& name, const std::string& text, long min, long max) {
  errno = 0;
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0)
    throw bad_option(name + ": expected an integer, got '" + text + "'");
  if (value < min || value > max)
    throw bad_option(name + ": " + text + " is out of range [" + std::to_string(min) + ", " +
                     std::to_string(max) + "]");
  return static_cast<int>(value);
}

bool valid_topic_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

// "127.x.y.z:PORT" (or without the port: 80) into an address and a Host header.
void parse_loopback_authority(const std::string& flag, const std::string& authority,
                              sockaddr_in& server, std::string& host_header) {
  std::string host = authority;
  int port = 80;
  if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = parse_integer(flag + " port", authority.substr(colon + 1), 1, 65535);
  }
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) != 1)
    throw bad_option(flag + ": host '" + host +
                     "' is not an IPv4 literal; only loopback 127.0.0.0/8 is allowed");
  if ((ntohl(address.s_addr) >> 24) != 127)
    throw bad_option(flag + ": host '" + host + "' is not in 127.0.0.0/8; this tool only loads loopback");
  server.sin_family = AF_INET;
  server.sin_port = htons(static_cast<std::uint16_t>(port));
  server.sin_addr = address;
  host_header = authority.find(':') == std::string::npos ? host + ":80" : authority;
}

// ws://127.x.y.z:PORT/topics/<topic> or ws://127.x.y.z:PORT/<topic>, optional ?query.
void parse_url(bench_options& options) {
  const std::string& url = options.url;
  options.tls = url.compare(0, 6, "wss://") == 0;
  const std::string scheme = options.tls ? "wss://" : "ws://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    throw bad_option("--url: expected ws://HOST:PORT/topics/<topic> or wss://..., got '" + url + "'");
  auto path_start = url.find('/', scheme.size());
  if (path_start == std::string::npos) throw bad_option("--url: no path in '" + url + "'");
  std::string authority = url.substr(scheme.size(), path_start - scheme.size());
  parse_loopback_authority("--url", authority, options.server, options.host_header);
  if (options.publish_to.empty()) {
    options.publish_server = options.server;
    options.publish_host_header = options.host_header;
  } else {
    parse_loopback_authority("--publish-to", options.publish_to, options.publish_server,
                             options.publish_host_header);
  }

  options.path = url.substr(path_start);
  std::string target = options.path.substr(0, options.path.find('?'));
  const std::string topics_prefix = "/topics/";
  std::string topic = target.compare(0, topics_prefix.size(), topics_prefix) == 0
                          ? target.substr(topics_prefix.size())
                          : target.substr(1);
  if (!valid_topic_name(topic))
    throw bad_option("--url: path '" + target + "' is not /topics/<topic> or /<topic>");
  options.topic = topic;
}

void check_combination(bench_options& options, bool publish_given) {
  if (options.url.empty()) throw bad_option("--url is required");
  parse_url(options);
  if (options.flood && options.rate > 0) throw bad_option("--rate and --flood exclude each other");
  if (options.idle && options.flood) throw bad_option("--idle and --flood exclude each other");
  bool publishes = options.flood || options.rate > 0;
  if (!publish_given) options.publish = publishes ? publish_mode::ws : publish_mode::none;
  if (options.publish == publish_mode::none && publishes)
    throw bad_option("--publish none takes no --rate or --flood");
  if (options.publish != publish_mode::none) {
    if (!publishes) throw bad_option("--publish ws|http needs --rate R or --flood");
    if (options.token.empty()) throw bad_option("--publish ws|http needs --token TOKEN");
  }
  // Every value carries a 19-digit timestamp: {"t":<ns>,"p":""} needs 32 bytes.
  if (options.publish != publish_mode::none && options.value_bytes < 40)
    throw bad_option("--value-bytes: at least 40");
  if (options.publish == publish_mode::http && options.window > 256)
    throw bad_option("--window: at most 256 with --publish http (one connection each)");
}

}  // namespace

option_parse_result parse_bench_options(int argc, char** argv) {
  option_parse_result parsed;
  bench_options& o = parsed.options;
  bool publish_given = false;
  using setter = std::function<void(const std::string& name, const std::string& value)>;
  const std::map<std::string, setter> valued = {
      {"--url", [&](auto&, auto& v) { o.url = v; }},
      {"--publish-to", [&](auto&, auto& v) { o.publish_to = v; }},
      {"--subscribers", [&](auto& n, auto& v) { o.subscribers = parse_integer(n, v, 1, max_subscribers); }},
      {"--source-addresses", [&](auto& n, auto& v) { o.source_addresses = parse_integer(n, v, 1, 254); }},
      {"--connect-rate", [&](auto& n, auto& v) { o.connect_rate = parse_number(n, v, 1, 1e6); }},
      {"--max-handshakes", [&](auto& n, auto& v) { o.max_handshakes = parse_integer(n, v, 1, 10'000); }},
      {"--connect-timeout",
       [&](auto& n, auto& v) { o.connect_timeout_seconds = parse_number(n, v, 0.1, max_wait_seconds); }},
      {"--publish",
       [&](auto& n, auto& v) {
         publish_given = true;
         if (v == "ws") o.publish = publish_mode::ws;
         else if (v == "http") o.publish = publish_mode::http;
         else if (v == "none") o.publish = publish_mode::none;
         else throw bad_option(n + ": expected ws, http or none, got '" + v + "'");
       }},
      {"--rate", [&](auto& n, auto& v) { o.rate = parse_number(n, v, 0.001, 1e6); }},
      {"--window", [&](auto& n, auto& v) { o.window = parse_integer(n, v, 1, 4096); }},
      {"--duration",
       [&](auto& n, auto& v) { o.duration_seconds = parse_number(n, v, 0.1, max_duration_seconds); }},
      {"--value-bytes", [&](auto& n, auto& v) { o.value_bytes = parse_integer(n, v, 2, 65'536); }},
      {"--token", [&](auto&, auto& v) { o.token = v; }},
      {"--drain-timeout",
       [&](auto& n, auto& v) { o.drain_timeout_seconds = parse_number(n, v, 0, max_wait_seconds); }},
      {"--server-pid", [&](auto& n, auto& v) { o.server_pid = parse_integer(n, v, 1, 1L << 30); }},
      {"--label", [&](auto&, auto& v) { o.label = v; }},
  };
  try {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        parsed.result = option_parse_result::outcome::help;
        return parsed;
      }
      if (arg == "--flood") { o.flood = true; continue; }
      if (arg == "--idle") { o.idle = true; continue; }
      std::string name = arg, value;
      bool has_value = false;
      if (auto eq = arg.find('='); eq != std::string::npos && arg.compare(0, 2, "--") == 0) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
      auto found = valued.find(name);
      if (found == valued.end()) throw bad_option("unknown option '" + arg + "'");
      if (!has_value) {
        if (i + 1 >= argc) throw bad_option(name + " needs a value");
        value = argv[++i];
      }
      found->second(name, value);
    }
    check_combination(o, publish_given);
  } catch (const bad_option& error) {
    parsed.result = option_parse_result::outcome::error;
    parsed.error = error.what();
  }
  return parsed;
}

std::string bench_usage() {
  return R"(happy-bench: load a happy-dashboard over loopback WebSockets and report one JSON line.

usage: happy-bench --url ws://127.0.0.1:PORT/topics/<topic> [options]

subscribers
  --url URL               ws://HOST:PORT/topics/<topic> or ws://HOST:PORT/<topic> (query kept);
                          wss://... speaks TLS to a server with server.tls (publishers too;
                          the certificate is not checked: loopback test servers only);
                          HOST must be an IPv4 literal in 127.0.0.0/8
  --subscribers N         WebSocket subscribers to open (1..19990, default 100)
  --source-addresses K    bind subscribers round-robin to 127.0.0.1..127.0.0.K (default 16),
                          so more than one address' worth of ephemeral ports is available
  --connect-rate R        connections started per second (default 2000)
  --max-handshakes H      connects + handshakes in flight at most (default 256)
  --connect-timeout S     give up on connections not established after S s (default 60)

publishing
  --publish ws|http|none  ws: one WebSocket publisher at /topics/<topic>/publish?ack=1&token=T,
                          masked text frames, one {"seq":n} ack per value (default with --rate
                          or --flood); http: POST /topics/<topic> with Authorization: Bearer T over
                          --window keep-alive connections, each with one request in flight;
                          none: no publisher, count what the topic's generator sends (default
                          without --rate and --flood)
  --rate R                publish R values per second on an absolute schedule (no drift)
  --flood                 publish as fast as acks allow, at most --window values un-acked
  --window W              flood window; with --publish http also the connection count (default 16)
  --duration S            length of the publishing (or counting) phase, <= 600 (default 10)
  --value-bytes B         each value is {"t":<CLOCK_MONOTONIC ns>,"p":"xx..."} of exactly B bytes
                          (>= 40, default 64); subscribers compute latency = now - t
  --token T               publish token (one of the server's publish.tokens)
  --publish-to HOST:PORT  publish to this server (127.0.0.0/8) instead of --url's, e.g. another
                          node of a cluster, to time publish-to-delivery across nodes
  --drain-timeout S       after publishing, wait at most S s for outstanding deliveries (default 5)
  --idle                  idle-connection run: connect N, stay --duration s (publishing only if
                          --rate is given), report the server's RSS

reporting
  --server-pid PID        read the server's VmRSS and CPU time from /proc/PID
  --label TEXT            copied to "workload" in the output
  --help                  this text

Output: one JSON line on stdout; progress on stderr.
  connect_seconds  start of connecting .. every subscriber established (or failed)
  scheduled        with --rate: rate x duration values due; published < scheduled means the
                   publisher fell behind (over http: all --window connections were busy)
  delivered        envelopes subscribers received with a seq in the measured range
  expected         published x subscribers still connected at the end of publishing
                   (--publish none: distinct seqs seen x those subscribers)
  lost             sum over those subscribers of the envelopes they missed (never negative)
  gaps             a subscriber's seq jumped by more than 1; out_of_order: it went back or repeated
  closed_early     subscribers the server closed before the end; close_codes: code -> count
                   (1006: the connection ended without a close frame)
  delivered_per_second  delivered / (first publish .. last delivery)
  duration_seconds      the publishing phase; server_cpu_* and tool_cpu_per_second cover only it
  server_rss_before_kb / _connected_kb / _after_kb  VmRSS before connecting, once all are
                   connected, at the end; rss_per_connection_bytes = (connected - before) x 1024 / connected
  latency_ms       publish -> delivery p50/p90/p99/max from a log-bucket histogram (< 0.2 % error)
  ack_latency_ms   publish -> acknowledgement (202 or {"seq":n}), same histogram
Exit: 0 run completed (even with losses), 1 run could not be done, 2 bad options.

examples (server: happy-dashboard --config bench.json --port 18090 with
  {"publish":{"tokens":["bench-token"]},"topics":{"bench":{}}}; run pinned next to it:
  taskset -c 1 happy-bench ...)
  W1  1,000 subscribers, 100 publishes/s, 15 s:
      happy-bench --label W1 --url ws://127.0.0.1:18090/topics/bench --subscribers 1000 \
        --rate 100 --duration 15 --token bench-token --server-pid PID
  W2  10,000 subscribers, 10 publishes/s, 15 s:
      happy-bench --label W2 --url ws://127.0.0.1:18090/topics/bench --subscribers 10000 \
        --rate 10 --duration 15 --token bench-token --server-pid PID
  W3  100 subscribers, flood with window 16, 10 s:
      happy-bench --label W3 --url ws://127.0.0.1:18090/topics/bench --subscribers 100 \
        --flood --window 16 --duration 10 --token bench-token --server-pid PID
  W4  19,900 idle subscribers, 1 publish/s:
      happy-bench --label W4 --url ws://127.0.0.1:18090/topics/bench --subscribers 19900 \
        --idle --rate 1 --duration 30 --token bench-token --server-pid PID
  HTTP publisher:   ... --publish http --rate 1000 --window 4
  generator topic:  happy-bench --url ws://127.0.0.1:18090/gen --subscribers 100 --duration 10
)";
}

}  // namespace happy_bench
