#pragma once

// Shared pieces for actor tests: a quiet actor system, a deterministic one
// (CAF's test coordinator: nothing runs until the test says so), and an
// in-memory transport that records what a session actor asks of its
// connection.

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/happy_error.hpp"
#include "actors/transport.hpp"
#include "actors/worker_pool.hpp"

namespace happy::testing {

// Actors on threads, scheduled as the service schedules them (worker_pool).
struct pooled_config : caf::actor_system_config {
  pooled_config() {
    use_worker_pool(*this);
    add_happy_error_category(*this);
  }
};

struct test_system {
  pooled_config cfg;
  caf::actor_system system{cfg};
};

struct deterministic_config : caf::actor_system_config {
  deterministic_config() {
    set("scheduler.policy", caf::atom("testing"));
    add_happy_error_category(*this);
  }
};

// Messages wait in mailboxes until run() delivers them, one actor at a time,
// so a test decides what is queued together. Actors still alive at the end
// are not waited for.
struct deterministic_system {
  deterministic_config cfg;
  caf::actor_system system{cfg};
  caf::scheduler::test_coordinator& scheduler =
      dynamic_cast<caf::scheduler::test_coordinator&>(system.scheduler());

  // Actors the test leaves running: stopped (and their ends processed) at
  // the end, so no actor outlives the system.
  std::vector<caf::actor> stop_at_end;

  deterministic_system() { system.await_actors_before_shutdown(false); }
  ~deterministic_system() {
    for (auto& a : stop_at_end) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    run();
  }
  // Processes messages until every mailbox is empty.
  void run() { scheduler.run(); }
};

class recording_transport : public transport {
 public:
  void accept(frame_list replay) override {
    record([&] {
      accepted = true;
      for (auto& f : replay) frames.push_back(std::move(f));
    });
  }
  void refuse(subscribe_refusal why) override {
    record([&] { refusal = std::move(why); });
  }
  void deliver(frame_batch batch) override {
    record([&] {
      frames.insert(frames.end(), batch->begin(), batch->end());
      batches.push_back(std::move(batch));
    });
  }
  void close(std::uint16_t code, std::string reason) override {
    record([&] {
      close_code = code;
      close_reason = std::move(reason);
    });
  }

  // Waits until `done()` holds (checked under the lock) or the timeout passes.
  template <class Predicate>
  bool wait_until(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, timeout, [&] { return done(); });
  }

  std::mutex mutex;
  std::condition_variable changed;
  bool accepted = false;
  std::optional<subscribe_refusal> refusal;
  std::vector<frame> frames;         // replay, then live, as the client would get them
  std::vector<frame_batch> batches;  // the live batches as delivered
  std::uint16_t close_code = 0;
  std::string close_reason;

 private:
  template <class F>
  void record(F f) {
    {
      std::lock_guard<std::mutex> guard(mutex);
      f();
    }
    changed.notify_all();
  }
};

// Polls `condition` until it holds or `timeout` passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace happy::testing
