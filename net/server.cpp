#include "net/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <thread>
#include <vector>

#include "log/log.hpp"
#include "net/connection_tracker.hpp"
#include "net/listener.hpp"
#include "net/server_context.hpp"

namespace happy {

namespace asio = boost::asio;

namespace {

constexpr auto drain_poll_interval = std::chrono::milliseconds(20);
constexpr auto config_watch_interval = std::chrono::seconds(1);
// One timer for all connections' keep-alive and close deadlines, instead of one each.
constexpr auto housekeeping_interval = std::chrono::seconds(5);

// Modification time and size, enough to notice an edited or replaced file.
std::pair<std::int64_t, std::int64_t> file_stamp(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return {0, 0};
  return {static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec,
          static_cast<std::int64_t>(info.st_size)};
}

}  // namespace

struct server::impl {
  impl(const config& cfg, service& actors)
      : context(actors, connections, cfg,
                cfg.web_root.empty() ? web_assets::embedded() : web_assets::from_directory(cfg.web_root),
                ioc),
        ioc(cfg.server.io_threads),
        stop_signals(ioc, SIGINT, SIGTERM),
        reload_signal(ioc, SIGHUP),
        drain_timer(ioc),
        watch_timer(ioc),
        housekeeping_timer(ioc) {
    if (cfg.server.tls_enabled()) {
      auto loaded = tls_credentials::load(cfg.server.tls_cert_file, cfg.server.tls_key_file);
      if (auto* problem = std::get_if<std::string>(&loaded)) throw tls_setup_error(*problem);
      context.tls = std::make_shared<tls_credentials>(cfg.server.tls_cert_file, cfg.server.tls_key_file,
                                                      std::get<0>(std::move(loaded)));
    }
    auto address = asio::ip::make_address(cfg.server.host);
    acceptor = std::make_shared<listener>(ioc, asio::ip::tcp::endpoint(address, cfg.server.port),
                                          context);
  }

  void wait_for_stop_signal() {
    stop_signals.async_wait([this](const boost::system::error_code& ec, int signal_number) {
      if (ec) return;
      if (context.draining) {
        log_warning("second stop signal: exiting without waiting for clients");
        ioc.stop();
        return;
      }
      begin_drain(signal_number);
      wait_for_stop_signal();
    });
  }

  // /readyz turns 503 and new subscriptions are refused; every WebSocket is
  // closed with 1001 and every stream ends. The listener stays open for
  // health and readiness probes until the last subscriber is gone.
  void begin_drain(int signal_number) {
    context.draining = true;
    log_info(std::string("received ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
             ": draining " + std::to_string(connections.long_lived()) + " connection(s)");
    connections.shut_down_subscribers();
    drain_deadline = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(context.settings.server.shutdown_grace_ms);
    wait_for_drain();
  }

  void wait_for_drain() {
    bool drained = connections.long_lived() == 0;
    if (drained || std::chrono::steady_clock::now() >= drain_deadline) {
      if (!drained)
        log_warning("shutdown grace over with " + std::to_string(connections.long_lived()) +
                    " connection(s) still open");
      acceptor->stop();
      connections.shut_down_all();
      ioc.stop();
      return;
    }
    drain_timer.expires_after(drain_poll_interval);
    drain_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) wait_for_drain();
    });
  }

  void wait_for_reload_signal() {
    reload_signal.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      log_info("received SIGHUP: reloading the config");
      reload();
      wait_for_reload_signal();
    });
  }

  void reload() {
    // New handshakes use the re-read pair; open connections keep theirs.
    if (context.tls) {
      if (auto problem = context.tls->reload())
        log_error("TLS reload failed, keeping the running certificate: " + *problem);
      else
        log_info("TLS: re-read " + context.settings.server.tls_cert_file + " and " +
                 context.settings.server.tls_key_file + " for new connections");
    }
    if (!reload_handler) {
      log_warning("reload requested, but no config file was given (--config): nothing to reload");
      return;
    }
    context.metrics.count_reload(reload_handler());
    // A SIGHUP already read the current file: the watcher must not read it again.
    if (!watched_path.empty()) watched_stamp = file_stamp(watched_path);
  }

  void keep_house() {
    housekeeping_timer.expires_after(housekeeping_interval);
    housekeeping_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      connections.tick(transport_kind::websocket);
      keep_house();
    });
  }

  void watch_config() {
    watch_timer.expires_after(config_watch_interval);
    watch_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      auto stamp = file_stamp(watched_path);
      if (stamp != watched_stamp) {
        watched_stamp = stamp;
        log_info("config file " + watched_path + " changed: reloading");
        reload();
      }
      watch_config();
    });
  }

  ~impl() { context.deliveries.stop(); }

  // Declared before the io_context, so they outlive it: destroying it
  // destroys handlers that still own connections, whose destructors
  // unregister from `connections` (e.g. after the shutdown grace ran out).
  connection_tracker connections;
  server_context context;
  asio::io_context ioc;
  asio::signal_set stop_signals;
  asio::signal_set reload_signal;
  asio::steady_timer drain_timer;
  asio::steady_timer watch_timer;
  asio::steady_timer housekeeping_timer;
  std::chrono::steady_clock::time_point drain_deadline;
  std::shared_ptr<listener> acceptor;
  std::function<bool()> reload_handler;
  std::string watched_path;
  std::pair<std::int64_t, std::int64_t> watched_stamp;
};

server::server(const config& cfg, service& actors) : impl_(std::make_unique<impl>(cfg, actors)) {}

server::~server() = default;

std::uint16_t server::port() const { return impl_->acceptor->port(); }

void server::on_reload(std::function<bool()> reload) { impl_->reload_handler = std::move(reload); }

void server::apply_topic_access(const config& next) { impl_->context.access.update_topics(next); }

void server::watch_config_file(const std::string& path) {
  impl_->watched_path = path;
  impl_->watched_stamp = file_stamp(path);
}

void server::run() {
  impl_->wait_for_stop_signal();
  impl_->wait_for_reload_signal();
  if (!impl_->watched_path.empty()) impl_->watch_config();
  impl_->keep_house();
  impl_->acceptor->run();
  std::vector<std::thread> extra_threads;
  for (int i = 1; i < impl_->context.settings.server.io_threads; ++i)
    extra_threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : extra_threads) t.join();
}

}  // namespace happy
