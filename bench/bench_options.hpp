#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

namespace happy_bench {

enum class publish_mode { none, ws, http };

// Hard caps keep every run bounded on a shared machine.
constexpr int max_subscribers = 19'990;  // the open-file limit here is 20,000 per process
constexpr double max_duration_seconds = 600;
constexpr double max_wait_seconds = 600;  // connect and drain timeouts

struct bench_options {
  std::string url;
  sockaddr_in server{};     // from the URL: always 127.0.0.0/8
  std::string host_header;  // "127.0.0.1:18090"
  std::string path;         // subscriber request target, e.g. "/topics/bench"
  std::string topic;
  // Where the publisher connects: the subscribers' server unless --publish-to
  // names another (e.g. another node of a cluster).
  std::string publish_to;
  sockaddr_in publish_server{};
  std::string publish_host_header;
  bool tls = false;  // wss://: subscribers and publishers speak TLS (certificates are not checked)

  int subscribers = 100;
  int source_addresses = 16;
  double connect_rate = 2000;
  int max_handshakes = 256;
  double connect_timeout_seconds = 60;

  publish_mode publish = publish_mode::none;
  double rate = 0;  // 0: no fixed rate
  bool flood = false;
  int window = 16;
  double duration_seconds = 10;
  int value_bytes = 64;
  std::string token;
  double drain_timeout_seconds = 5;
  bool idle = false;

  int server_pid = 0;  // 0: not given
  std::string label;
};

struct option_parse_result {
  enum class outcome { run, help, error } result = outcome::run;
  std::string error;
  bench_options options;
};

option_parse_result parse_bench_options(int argc, char** argv);
std::string bench_usage();

}  // namespace happy_bench
