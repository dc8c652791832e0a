// The phases of one run: connect the subscribers, open the publisher, publish
// (or just count) for --duration, drain, then fill in the result.
#include "bench_run.hpp"

#include "latency_histogram.hpp"
#include "loopback_sockets.hpp"
#include "monotonic_clock.hpp"
#include "process_usage.hpp"
#include "publisher.hpp"
#include "subscriber_pool.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

namespace happy_bench {
namespace {

constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t progress_interval_ns = ns_per_second;
constexpr int publisher_open_timeout_ms = 5000;
constexpr double saturated_tool_cpu = 0.9;

std::int64_t seconds_to_ns(double seconds) { return static_cast<std::int64_t>(seconds * 1e9); }

void progress(const std::string& line) { std::cerr << "happy-bench: " << line << std::endl; }

const char* mode_name(publish_mode mode) {
  switch (mode) {
    case publish_mode::ws: return "ws";
    case publish_mode::http: return "http";
    default: return "none";
  }
}

class bench_run {
 public:
  explicit bench_run(const bench_options& options)
      : options_(options), epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
    result_.workload = options.label;
    result_.publish = mode_name(options.publish);
    result_.subscribers = options.subscribers;
  }
  ~bench_run() {
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  // Returns the exit code; the result is complete either way.
  int run() {
    if (epoll_fd_ < 0) return give_up(errno_text("epoll_create1"));
    if (!connect_subscribers()) return give_up("no subscriber connected");
    if (options_.publish != publish_mode::none && !open_publisher()) return 1;
    publish_phase();
    drain_phase();
    finish();
    return publisher_ && publisher_->broken() ? 1 : 0;
  }

  const bench_result& result() const { return result_; }

 private:
  int give_up(const std::string& why) {
    result_.error = why;
    progress(why);
    finish();
    return 1;
  }

  // Runs the event loop until `done()` or `deadline_ns`; `timed_work(now)` runs
  // at every wake-up and returns when it next wants to run.
  template <class Done, class TimedWork, class Progress>
  void pump(std::int64_t deadline_ns, Done done, TimedWork timed_work, Progress report) {
    epoll_event events[1024];
    std::int64_t next_progress = monotonic_ns() + progress_interval_ns;
    for (;;) {
      std::int64_t now = monotonic_ns();
      std::int64_t wake = timed_work(now);
      if (done(now) || now >= deadline_ns) return;
      if (now >= next_progress) {
        report(now);
        next_progress = now + progress_interval_ns;
      }
      wake = std::min({wake, deadline_ns, next_progress});
      auto timeout_ms = static_cast<int>(std::clamp<std::int64_t>((wake - now + 999'999) / 1'000'000, 0, 1000));
      int ready = epoll_wait(epoll_fd_, events, 1024, timeout_ms);
      if (ready < 0 && errno != EINTR) {
        progress(errno_text("epoll_wait"));
        return;
      }
      for (int i = 0; i < ready; ++i) dispatch(events[i]);
    }
  }

  void dispatch(const epoll_event& event) {
    auto kind = static_cast<source_kind>(event.data.u64 >> 32);
    auto index = static_cast<std::uint32_t>(event.data.u64);
    // Read the clock per event: a batch of 1024 reads takes long enough to skew latency.
    if (kind == source_kind::subscriber) pool_->on_event(index, event.events, monotonic_ns());
    else if (kind == source_kind::publisher && publisher_) publisher_->on_event(index, event.events);
  }

  std::optional<long> server_rss() const {
    return options_.server_pid ? process_rss_kb(options_.server_pid) : std::nullopt;
  }
  std::optional<double> server_cpu() const {
    return options_.server_pid ? process_cpu_seconds(options_.server_pid) : std::nullopt;
  }

  bool connect_subscribers() {
    result_.server_rss_before_kb = server_rss();
    if (options_.server_pid && !result_.server_rss_before_kb)
      progress("cannot read /proc/" + std::to_string(options_.server_pid) + "/status");
    subscriber_pool_settings settings;
    settings.server = options_.server;
    settings.host_header = options_.host_header;
    settings.path = options_.path;
    settings.topic = options_.topic;
    settings.count = options_.subscribers;
    settings.source_addresses = options_.source_addresses;
    settings.connect_rate = options_.connect_rate;
    settings.max_handshakes = options_.max_handshakes;
    pool_ = std::make_unique<subscriber_pool>(epoll_fd_, settings, latencies_);

    std::int64_t start = monotonic_ns();
    progress("connecting " + std::to_string(options_.subscribers) + " subscribers to " + options_.url);
    pool_->begin_connecting(start);
    pump(
        start + seconds_to_ns(options_.connect_timeout_seconds),
        [&](std::int64_t) { return pool_->connecting_done(); },
        [&](std::int64_t now) {
          pool_->start_due_connections(now);
          return pool_->next_start_ns();
        },
        [&](std::int64_t) {
          progress("connected " + std::to_string(pool_->established()) + "/" +
                   std::to_string(options_.subscribers) + ", failed " + std::to_string(pool_->failed()));
        });
    if (!pool_->connecting_done()) pool_->abandon_unestablished();
    result_.connect_seconds = seconds_between(start, monotonic_ns());
    result_.connected = pool_->established();
    result_.failed = pool_->failed();
    result_.failures = pool_->failures();
    progress("connected " + std::to_string(result_.connected) + " in " +
             std::to_string(result_.connect_seconds) + " s, failed " + std::to_string(result_.failed));
    for (auto& [reason, count] : result_.failures) progress("  " + std::to_string(count) + "x " + reason);
    result_.server_rss_connected_kb = server_rss();
    if (result_.server_rss_before_kb && result_.server_rss_connected_kb && result_.connected > 0)
      result_.rss_per_connection_bytes =
          static_cast<double>(*result_.server_rss_connected_kb - *result_.server_rss_before_kb) * 1024.0 /
          result_.connected;
    return result_.connected > 0;
  }

  bool open_publisher() {
    publisher_settings settings;
    settings.server = options_.publish_server;
    settings.host_header = options_.publish_host_header;
    settings.topic = options_.topic;
    settings.token = options_.token;
    settings.window = options_.window;
    settings.flood = options_.flood;
    publisher_ = make_publisher(options_.publish, settings);
    std::string error;
    if (publisher_->open(epoll_fd_, publisher_open_timeout_ms, error)) return true;
    publisher_.reset();
    give_up("publisher: " + error);
    return false;
  }

  void publish_phase() {
    // Count every envelope no subscriber had seen before this moment.
    pool_->count_from(pool_->max_seq_seen() + 1);
    std::int64_t start = monotonic_ns();
    publish_start_ns_ = start;
    std::int64_t end = start + seconds_to_ns(options_.duration_seconds);
    double cpu_start = own_cpu_seconds();
    auto server_cpu_start = server_cpu();
    auto total = static_cast<std::uint64_t>(std::llround(options_.rate * options_.duration_seconds));
    double interval_ns = options_.rate > 0 ? 1e9 / options_.rate : 0;
    auto send_one = [&] {
      publisher_->send(timestamped_value(static_cast<std::size_t>(options_.value_bytes), monotonic_ns()));
    };
    progress(std::string(publisher_ ? "publishing" : "counting") + " for " +
             std::to_string(options_.duration_seconds) + " s");
    pump(
        end, [&](std::int64_t) { return publisher_ && publisher_->broken(); },
        [&](std::int64_t now) -> std::int64_t {
          if (!publisher_) return never;
          if (options_.flood) {
            while (publisher_->can_send()) send_one();
            return never;  // an ack opens the window again
          }
          // Value i is due at start + i / rate: an absolute schedule does not drift.
          auto due = std::min<std::uint64_t>(
              total, static_cast<std::uint64_t>(static_cast<double>(now - start) / interval_ns) + 1);
          while (publisher_->published() < due && publisher_->can_send()) send_one();
          if (publisher_->published() >= total) return never;
          if (publisher_->published() < due) return never;  // waiting for a free connection
          return start + static_cast<std::int64_t>(static_cast<double>(publisher_->published()) * interval_ns);
        },
        [&](std::int64_t now) { report_progress(now); });
    result_.duration_seconds = seconds_between(start, monotonic_ns());
    result_.tool_cpu_per_second = (own_cpu_seconds() - cpu_start) / result_.duration_seconds;
    auto server_cpu_end = server_cpu();
    if (server_cpu_start && server_cpu_end) {
      result_.server_cpu_seconds = *server_cpu_end - *server_cpu_start;
      result_.server_cpu_per_second = *result_.server_cpu_seconds / result_.duration_seconds;
    }
    pool_->mark_survivors();
    if (publisher_) {
      per_subscriber_ = publisher_->published();
    } else {
      // No publisher: the topic's own readings up to now are what everyone should get.
      std::uint64_t last = pool_->max_seq_seen();
      pool_->count_until(last);
      std::uint64_t first = pool_->min_counted_seq();
      per_subscriber_ = first <= last ? last - first + 1 : 0;
    }
    if (publisher_ && publisher_->broken()) progress(publisher_->broken_reason());
    if (options_.rate > 0) {
      result_.scheduled = total;
      if (publisher_ && !publisher_->broken() && publisher_->published() < total)
        progress("the publisher fell behind its schedule: " + std::to_string(publisher_->published()) +
                 " of " + std::to_string(total) + " values sent (a larger --window helps over http)");
    }
  }

  void report_progress(std::int64_t now) {
    std::string line = "t=" + std::to_string(static_cast<int>(seconds_between(publish_start_ns_, now))) + "s";
    if (publisher_)
      line += " published " + std::to_string(publisher_->published()) + ", acked " +
              std::to_string(publisher_->acked());
    line += ", delivered " + std::to_string(pool_->delivered()) + ", open " + std::to_string(pool_->open());
    progress(line);
  }

  void drain_phase() {
    std::int64_t start = monotonic_ns();
    std::int64_t next_check = start;
    bool complete = false;
    auto answered = [&] {
      return !publisher_ || publisher_->broken() ||
             publisher_->acked() + publisher_->errors() >= publisher_->published();
    };
    // Checking every survivor is O(N): do it at most every 2 ms.
    pump(
        start + seconds_to_ns(options_.drain_timeout_seconds),
        [&](std::int64_t now) {
          if (now < next_check) return false;
          next_check = now + 2'000'000;
          complete = answered() && pool_->survivors_complete(per_subscriber_);
          return complete;
        },
        [&](std::int64_t) { return next_check; }, [&](std::int64_t now) { report_progress(now); });
    result_.drain_seconds = seconds_between(start, monotonic_ns());
    if (!complete) progress("drain timed out after " + std::to_string(result_.drain_seconds) + " s");
  }

  void finish() {
    result_.server_rss_after_kb = server_rss();
    if (publisher_) {
      result_.published = publisher_->published();
      result_.acked = publisher_->acked();
      result_.publish_errors = publisher_->errors();
      if (!publisher_->first_error().empty()) progress("publish error: " + publisher_->first_error());
      if (publisher_->broken() && result_.error.empty()) result_.error = publisher_->broken_reason();
      publisher_->close_all();
    }
    if (!pool_) return;
    pool_->stop();
    result_.delivered = pool_->delivered();
    result_.expected = per_subscriber_ * static_cast<std::uint64_t>(pool_->survivors());
    result_.lost = pool_->missing_at_survivors(per_subscriber_);
    result_.gaps = pool_->gaps();
    result_.out_of_order = pool_->out_of_order();
    result_.unparsed = pool_->unparsed();
    result_.pings_answered = pool_->pings_answered();
    result_.closed_early = pool_->closed_early();
    result_.close_codes = pool_->close_codes();
    if (publish_start_ns_ == 0) return;  // never got to publishing
    result_.published_per_second = static_cast<double>(result_.published) / result_.duration_seconds;
    // Deliveries over the time they took: first publish .. last delivery.
    double delivery_span = pool_->last_delivery_ns() > publish_start_ns_
                               ? seconds_between(publish_start_ns_, pool_->last_delivery_ns())
                               : result_.duration_seconds;
    result_.delivered_per_second = static_cast<double>(result_.delivered) / delivery_span;
    result_.latency_ms = summary_of(latencies_);
    if (publisher_) result_.ack_latency_ms = summary_of(publisher_->ack_latencies());
    if (result_.tool_cpu_per_second >= saturated_tool_cpu) {
      result_.warning = "the tool saturated its core: the numbers describe the tool, not the server";
      progress("warning: " + result_.warning);
    }
  }

  static std::optional<latency_summary_ms> summary_of(const latency_histogram& h) {
    if (h.count() == 0) return std::nullopt;
    auto ms = [](std::int64_t ns) { return static_cast<double>(ns) / 1e6; };
    return latency_summary_ms{ms(h.value_at_quantile(0.50)), ms(h.value_at_quantile(0.90)),
                              ms(h.value_at_quantile(0.99)), ms(h.max())};
  }

  const bench_options& options_;
  int epoll_fd_;
  latency_histogram latencies_;
  std::unique_ptr<subscriber_pool> pool_;
  std::unique_ptr<publisher> publisher_;
  bench_result result_;
  std::int64_t publish_start_ns_ = 0;
  std::uint64_t per_subscriber_ = 0;  // envelopes each surviving subscriber should get
};

}  // namespace

bench_result run_bench(const bench_options& options, int& exit_code) {
  bench_run run(options);
  exit_code = run.run();
  return run.result();
}

}  // namespace happy_bench

