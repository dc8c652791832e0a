#pragma once

// The CAF scheduler this service runs its actors on: worker threads that
// take ready actors from one shared queue and sleep on a condition variable
// when there is none (CAF's work-sharing policy, without its polling).
//
// Why not CAF's own coordinator: Debian's CAF build spends ~2,000
// instructions per actor resume in its worker loop on logging bookkeeping
// (a dynamic_cast of every job to find its actor id, and a thread-id map
// behind a spinlock), even with logging compiled out. With one session actor
// per client, a reading costs one resume per client: that bookkeeping was
// half of all the service's instructions per delivery (BENCHMARKS.md).

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace happy {

class worker_pool : public caf::scheduler::abstract_coordinator {
 public:
  explicit worker_pool(caf::actor_system& system);
  ~worker_pool() override;

  // Queues a ready actor, from any thread.
  void enqueue(caf::resumable* job) override;
  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

 protected:
  void start() override;
  void stop() override;

 private:
  class worker;
  void run(worker& self);
  // The next ready actor, waiting for one; null once the pool stops.
  caf::resumable* next_job();

  std::mutex mutex_;  // guards jobs_, idle_workers_ and stopping_
  std::condition_variable job_ready_;
  std::deque<caf::resumable*> jobs_;  // each holds a reference
  std::size_t idle_workers_ = 0;
  bool stopping_ = false;
  std::vector<std::unique_ptr<worker>> workers_;
  caf::detail::thread_safe_actor_clock clock_;  // timeouts and delayed messages
  std::thread clock_thread_;
};

// Makes actor systems built from `cfg` schedule on a worker_pool
// (scheduler.max-threads workers).
void use_worker_pool(caf::actor_system_config& cfg);

}  // namespace happy
