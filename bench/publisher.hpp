#pragma once

#include "bench_options.hpp"
#include "latency_histogram.hpp"

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace happy_bench {

struct publisher_settings {
  sockaddr_in server{};
  std::string host_header;
  std::string topic;
  std::string token;
  int window = 16;   // flood: values un-acked at most; http: keep-alive connections
  bool flood = false;
};

// {"t":<t_ns>,"p":"xx..."} of exactly `bytes` bytes (bytes >= 40).
std::string timestamped_value(std::size_t bytes, std::int64_t t_ns);

// Publishes values to one topic and counts the server's acknowledgements.
class publisher {
 public:
  virtual ~publisher() = default;
  // Connects and, for WebSocket, upgrades; blocking but bounded by `timeout_ms`.
  virtual bool open(int epoll_fd, int timeout_ms, std::string& error) = 0;
  // Whether another value may go out now (flood window, an idle HTTP connection).
  virtual bool can_send() const = 0;
  virtual void send(std::string_view value) = 0;
  virtual void on_event(std::uint32_t index, std::uint32_t events) = 0;
  virtual void close_all() = 0;

  std::uint64_t published() const { return published_; }
  std::uint64_t acked() const { return acked_; }
  std::uint64_t errors() const { return errors_; }  // non-2xx answers
  std::uint64_t first_seq() const { return first_seq_; }
  bool broken() const { return !broken_reason_.empty(); }
  const std::string& broken_reason() const { return broken_reason_; }
  const std::string& first_error() const { return first_error_; }
  // From sending a value to its acknowledgement (202, or {"seq":n}).
  const latency_histogram& ack_latencies() const { return ack_latencies_; }

 protected:
  // `sent_ns`: when the acknowledged value went out (monotonic_ns).
  void on_ack(std::uint64_t seq, std::int64_t sent_ns);

  std::uint64_t published_ = 0;
  std::uint64_t acked_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t first_seq_ = 0;
  std::string broken_reason_;
  std::string first_error_;
  latency_histogram ack_latencies_;
};

std::unique_ptr<publisher> make_publisher(publish_mode mode, publisher_settings settings);

}  // namespace happy_bench
