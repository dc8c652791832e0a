#pragma once

#include "latency_histogram.hpp"
#include "tls_client.hpp"
#include "websocket_client_frames.hpp"

#include <netinet/in.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace happy_bench {

struct subscriber_pool_settings {
  sockaddr_in server{};
  std::string host_header;
  std::string path;
  std::string topic;
  int count = 0;
  int source_addresses = 1;
  double connect_rate = 1000;
  int max_handshakes = 256;
};

enum class subscriber_state : std::uint8_t { waiting, connecting, tls_handshaking, handshaking, open, closed, failed };

// N WebSocket subscribers on one epoll set: connects them at a bounded rate,
// checks every envelope's seq per connection, counts deliveries inside the
// measured seq range and records latency from the value's "t" timestamp.
class subscriber_pool {
 public:
  subscriber_pool(int epoll_fd, subscriber_pool_settings settings, latency_histogram& latencies);
  ~subscriber_pool();
  subscriber_pool(const subscriber_pool&) = delete;
  subscriber_pool& operator=(const subscriber_pool&) = delete;

  // --- connect phase ---
  void begin_connecting(std::int64_t now_ns);
  // Starts every connection due by the rate schedule, within the handshake cap.
  void start_due_connections(std::int64_t now_ns);
  // When the next connection is due; max() when all started or the cap is reached
  // (then a finished handshake wakes the loop).
  std::int64_t next_start_ns() const;
  bool connecting_done() const { return established_ + failed_ == settings_.count; }
  // The connect phase timed out: every connection not yet established fails.
  void abandon_unestablished();

  void on_event(std::uint32_t index, std::uint32_t events, std::int64_t now_ns);

  // --- measurement ---
  // Envelopes with first_seq <= seq <= last_seq count as delivered.
  void count_from(std::uint64_t first_seq);
  void count_until(std::uint64_t last_seq) { last_counted_seq_ = last_seq; }
  // Subscribers open now are the ones expected to get every counted envelope.
  void mark_survivors();
  // True when every survivor that is still open has `per_subscriber` envelopes.
  bool survivors_complete(std::uint64_t per_subscriber) const;
  std::uint64_t missing_at_survivors(std::uint64_t per_subscriber) const;
  // Closes every connection; what the server sends afterwards no longer counts.
  void stop();

  int established() const { return established_; }
  int failed() const { return failed_; }
  int open() const { return open_; }
  int survivors() const { return survivors_; }
  int closed_early() const { return closed_early_; }
  const std::map<int, std::uint64_t>& close_codes() const { return close_codes_; }
  const std::map<std::string, std::uint64_t>& failures() const { return failures_; }
  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t gaps() const { return gaps_; }
  std::uint64_t out_of_order() const { return out_of_order_; }
  std::uint64_t unparsed() const { return unparsed_; }
  std::uint64_t pings_answered() const { return pings_answered_; }
  std::uint64_t max_seq_seen() const { return max_seq_seen_; }
  // Smallest seq counted as delivered (max() while none).
  std::uint64_t min_counted_seq() const { return min_counted_seq_; }
  std::int64_t last_delivery_ns() const { return last_delivery_ns_; }

 private:
  struct subscriber {
    int fd = -1;
    SSL* ssl = nullptr;  // wss:// only
    subscriber_state state = subscriber_state::waiting;
    bool survivor = false;
    bool in_fragmented_message = false;
    std::uint64_t last_seq = 0;  // 0: no envelope yet
    std::uint64_t received = 0;  // envelopes inside the counted seq range
    std::string pending;         // a partial frame or handshake response
    std::string message;         // a fragmented message being assembled (rare)
  };

  void start_connection(std::uint32_t index);
  void on_connected(std::uint32_t index);
  void continue_tls_handshake(std::uint32_t index);
  void send_upgrade(std::uint32_t index);
  void on_readable(std::uint32_t index, std::int64_t now_ns);
  void read_once(std::uint32_t index, std::int64_t now_ns);
  void on_handshake_bytes(std::uint32_t index, std::int64_t now_ns);
  // Parses every complete frame in [data, data + size); keeps the tail in `pending`.
  void consume_frames(subscriber& s, char* data, std::size_t size, bool data_is_pending,
                      std::int64_t now_ns);
  void on_frame(subscriber& s, const frame_view& frame, std::int64_t now_ns);
  void on_envelope(subscriber& s, std::string_view text, std::int64_t now_ns);
  void send_pong(subscriber& s, std::string_view payload);
  void fail(subscriber& s, const std::string& reason);
  void closed_by_server(subscriber& s, int close_code);
  void release(subscriber& s, subscriber_state state);

  int epoll_fd_;
  subscriber_pool_settings settings_;
  latency_histogram& latencies_;
  std::string value_prefix_;  // {"<topic>":{"t":  — the start of a timestamped envelope
  std::vector<subscriber> subscribers_;
  std::vector<char> read_buffer_;
  fast_random random_;

  std::int64_t connect_start_ns_ = 0;
  double connect_interval_ns_ = 0;
  int started_ = 0;
  int in_flight_ = 0;
  int established_ = 0;
  int failed_ = 0;
  int open_ = 0;
  int survivors_ = 0;
  int closed_early_ = 0;
  bool stopped_ = false;
  std::map<int, std::uint64_t> close_codes_;
  std::map<std::string, std::uint64_t> failures_;

  bool counting_ = false;
  std::uint64_t first_counted_seq_ = 0;
  std::uint64_t last_counted_seq_ = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t delivered_ = 0;
  std::uint64_t gaps_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t unparsed_ = 0;
  std::uint64_t pings_answered_ = 0;
  std::uint64_t max_seq_seen_ = 0;
  std::uint64_t min_counted_seq_ = std::numeric_limits<std::uint64_t>::max();
  std::int64_t last_delivery_ns_ = 0;
};

}  // namespace happy_bench
