#include "net/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

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
}

struct server::impl {
  impl(const config& cfg, service& actors)
      : ioc(cfg.server.io_threads),
        context{actors, connections, cfg,
                cfg.web_root.empty() ? web_assets::embedded() : web_assets::from_directory(cfg.web_root)},
        signals(ioc, SIGINT, SIGTERM),
        drain_timer(ioc) {
    auto address = asio::ip::make_address(cfg.server.host);
    acceptor = std::make_shared<listener>(ioc, asio::ip::tcp::endpoint(address, cfg.server.port),
                                          context);
  }

  void on_signal(const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    log_info(std::string("received ") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
             ": draining " + std::to_string(connections.size()) + " connection(s)");
    acceptor->stop();
    connections.shut_down_all();
    drain_deadline = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(context.settings.server.shutdown_grace_ms);
    wait_for_drain();
  }

  // Stop the I/O threads once every connection is gone, or at the deadline.
  void wait_for_drain() {
    if (connections.size() == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      if (connections.size() > 0)
        log_warning("shutdown grace over with " + std::to_string(connections.size()) +
                    " connection(s) still open");
      ioc.stop();
      return;
    }
    drain_timer.expires_after(drain_poll_interval);
    drain_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) wait_for_drain();
    });
  }

  asio::io_context ioc;
  connection_tracker connections;
  server_context context;
  asio::signal_set signals;
  asio::steady_timer drain_timer;
  std::chrono::steady_clock::time_point drain_deadline;
  std::shared_ptr<listener> acceptor;
};

server::server(const config& cfg, service& actors) : impl_(std::make_unique<impl>(cfg, actors)) {}

server::~server() = default;

std::uint16_t server::port() const { return impl_->acceptor->port(); }

void server::run() {
  impl_->signals.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    impl_->on_signal(ec, signal_number);
  });
  impl_->acceptor->run();
  std::vector<std::thread> extra_threads;
  for (int i = 1; i < impl_->context.settings.server.io_threads; ++i)
    extra_threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : extra_threads) t.join();
}

}  // namespace happy
