#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <variant>

#include "sources/http_fetcher.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

// A loopback listener on a free port; connections wait in its backlog.
class listener {
 public:
  listener() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof at;
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&at), size) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&at), &size) == 0);
    port_ = ntohs(at.sin_port);
  }
  ~listener() { ::close(fd_); }
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Accepts one connection, reads the request head and answers `response`.
  std::string answer_once(const std::string& response) {
    int client = ::accept(fd_, nullptr, nullptr);
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(client, buffer, sizeof buffer);
      if (n <= 0) break;
      request.append(buffer, static_cast<std::size_t>(n));
    }
    if (::write(client, response.data(), response.size()) < 0) request.clear();
    ::close(client);
    return request;
  }

 private:
  int fd_;
  unsigned short port_ = 0;
};

http_source source_at(const std::string& url) {
  http_source source;
  source.url = url;
  return source;
}

}  // namespace

TEST_CASE("an http source gets the body of a 200 with its headers sent") {
  listener server;
  std::string request;
  std::thread answering([&] {
    request = server.answer_once(
        "HTTP/1.1 200 OK\r\nContent-Length: 17\r\nConnection: close\r\n\r\n{\"temp\": [21.5]}\n");
  });
  auto source = source_at(server.url("/sensor?room=1"));
  source.headers = {{"Authorization", "Bearer abc"}};
  source.json_pointer = "/temp/0";
  http_fetcher fetcher;
  stop_signal never_stopped;
  auto got = fetcher.get(source, 2000ms, never_stopped);
  answering.join();
  REQUIRE(std::holds_alternative<std::string>(got));
  CHECK(reading_from_body(source, std::get<std::string>(got), 100).reading == "21.5");
  CHECK_THAT(request, Catch::StartsWith("GET /sensor?room=1 HTTP/1.1\r\n"));
  CHECK_THAT(request, Catch::Contains("Authorization: Bearer abc\r\n"));
}

TEST_CASE("a status other than 200 is a failure that names it") {
  listener server;
  std::thread answering(
      [&] { server.answer_once("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"); });
  http_fetcher fetcher;
  stop_signal never_stopped;
  auto got = fetcher.get(source_at(server.url("/")), 2000ms, never_stopped);
  answering.join();
  REQUIRE(std::holds_alternative<source_outcome>(got));
  CHECK(std::get<source_outcome>(got).failure == source_failure::http_status);
  CHECK(std::get<source_outcome>(got).problem == "answered 503 Service Unavailable");
}

TEST_CASE("a server that never answers: the timeout, or a stop before it") {
  listener silent;  // the connection is made (backlog) but no answer ever comes
  http_fetcher fetcher;
  stop_signal never_stopped;
  auto started = std::chrono::steady_clock::now();
  auto timed_out = fetcher.get(source_at(silent.url("/")), 300ms, never_stopped);
  CHECK(std::get<source_outcome>(timed_out).failure == source_failure::timeout);
  CHECK(std::chrono::steady_clock::now() - started < 2s);

  stop_signal stop;
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(300ms);
    stop.raise();
  });
  started = std::chrono::steady_clock::now();
  auto stopped = fetcher.get(source_at(silent.url("/")), 20000ms, stop);
  auto took = std::chrono::steady_clock::now() - started;
  stopper.join();
  CHECK(std::get<source_outcome>(stopped).failure == source_failure::stopped);
  CHECK(took < 2s);
}
