// The scheduler the service runs on: real threads, real CAF actors.

#include <atomic>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <catch2/catch.hpp>
#include <chrono>

#include "actor_test_support.hpp"

using namespace happy;
using namespace std::chrono_literals;

namespace {

using ping_atom = caf::atom_constant<caf::atom("ping")>;

struct three_workers : caf::actor_system_config {
  three_workers() {
    use_worker_pool(*this);
    set("scheduler.max-threads", std::size_t{3});
  }
};

// Answers n with n + step. (Every actor here takes an argument: CAF 0.17
// dereferences a null tuple for argument-less function actors, which UBSan rejects.)
caf::behavior incrementer(caf::event_based_actor*, int step) {
  return {[step](ping_atom, int n) { return n + step; }};
}

// Bounces a count between two actors until it reaches `until`, then tells `done`.
caf::behavior bouncer(caf::event_based_actor* self, caf::actor done, int until) {
  return {[self, done, until](ping_atom, int n, caf::actor other) {
    if (n >= until) return caf::anon_send(done, n);
    self->send(other, ping_atom::value, n + 1, caf::actor_cast<caf::actor>(self));
  }};
}

}  // namespace

TEST_CASE("the service's actor systems schedule on the worker pool with the configured threads") {
  three_workers cfg;
  caf::actor_system system{cfg};
  auto* pool = dynamic_cast<worker_pool*>(&system.scheduler());
  REQUIRE(pool != nullptr);
  CHECK(pool->num_workers() == 3);
}

TEST_CASE("actors on the worker pool answer requests and relay messages to each other") {
  three_workers cfg;
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  auto inc = system.spawn(incrementer, 1);
  int n = 0;
  for (int i = 0; i < 1000; ++i)
    self->request(inc, 2s, ping_atom::value, n).receive([&](int r) { n = r; }, [](caf::error&) {});
  CHECK(n == 1000);
  // Many pairs at once: each actor's messages stay in order across threads.
  std::vector<caf::actor> pairs;
  for (int i = 0; i < 50; ++i) {
    auto a = system.spawn(bouncer, caf::actor{self}, 2000);
    auto b = system.spawn(bouncer, caf::actor{self}, 2000);
    self->send(a, ping_atom::value, 0, b);
  }
  int finished = 0;
  self->receive_for(finished, 50)([](int count) { CHECK(count == 2000); });
  CHECK(finished == 50);
  caf::anon_send_exit(inc, caf::exit_reason::user_shutdown);
}

TEST_CASE("the worker pool runs CAF's clock: delayed messages and request timeouts arrive") {
  three_workers cfg;
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  auto started = std::chrono::steady_clock::now();
  self->delayed_send(self, 100ms, ping_atom::value, 7);
  int got = 0;
  self->receive([&](ping_atom, int n) { got = n; }, caf::after(5s) >> [] {});
  CHECK(got == 7);
  CHECK(std::chrono::steady_clock::now() - started >= 100ms);
  // An actor that never answers: the request fails by its timeout.
  auto silent = system.spawn(
      [](caf::event_based_actor*, int) -> caf::behavior {
        return {[](ping_atom, int) { return caf::skip(); }};
      },
      0);
  bool timed_out = false;
  self->request(silent, 100ms, ping_atom::value, 1)
      .receive([](int) {}, [&](caf::error& e) { timed_out = e == caf::sec::request_timeout; });
  CHECK(timed_out);
  caf::anon_send_exit(silent, caf::exit_reason::user_shutdown);
}

TEST_CASE("an actor system on the worker pool ends cleanly after a busy actor is stopped") {
  std::atomic<int> handled{0};
  {
    three_workers cfg;
    caf::actor_system system{cfg};
    auto busy = system.spawn(
        [&handled](caf::event_based_actor* self, int) -> caf::behavior {
          return {[self, &handled](ping_atom, int n) {
            ++handled;
            if (n > 0) self->send(self, ping_atom::value, n - 1);
          }};
        },
        0);
    caf::anon_send(busy, ping_atom::value, 1000000);
    std::this_thread::sleep_for(20ms);
    caf::anon_send_exit(busy, caf::exit_reason::user_shutdown);
  }  // the system waits for the actor to end, then stops the pool
  CHECK(handled > 0);
  CHECK(handled < 1000000);
}
