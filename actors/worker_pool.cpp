#include "actors/worker_pool.hpp"

#include <caf/execution_unit.hpp>
#include <caf/logger.hpp>

namespace happy {

// A worker thread, and the execution context its actors send from.
class worker_pool::worker : public caf::execution_unit {
 public:
  explicit worker(worker_pool& pool) : caf::execution_unit(&pool.system()), pool_(pool) {}

  // An actor this worker runs made another one ready.
  void exec_later(caf::resumable* job) override { pool_.enqueue(job); }

  void start() {
    thread_ = std::thread([this] {
      pool_.system().thread_started();
      pool_.run(*this);
      pool_.system().thread_terminates();
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  worker_pool& pool_;
  std::thread thread_;
};

worker_pool::worker_pool(caf::actor_system& system) : abstract_coordinator(system) {}

worker_pool::~worker_pool() = default;

void worker_pool::enqueue(caf::resumable* job) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(job);
    wake = idle_workers_ > 0;
  }
  // A busy worker comes back for the job by itself: only a sleeping one needs waking.
  if (wake) job_ready_.notify_one();
}

caf::resumable* worker_pool::next_job() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (jobs_.empty() && !stopping_) {
    ++idle_workers_;
    job_ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    --idle_workers_;
  }
  if (stopping_) return nullptr;
  auto* job = jobs_.front();
  jobs_.pop_front();
  return job;
}

void worker_pool::run(worker& self) {
  while (auto* job = next_job()) {
    // An actor's first resume makes the system's logger this thread's; without
    // one CAF skips the logging bookkeeping of every later resume (Debian's
    // build compiles its log statements out, so nothing is lost).
    if (caf::logger::current_logger()) caf::logger::set_current_actor_system(nullptr);
    switch (job->resume(&self, max_throughput())) {
      case caf::resumable::resume_later:  // it used up its throughput: back of the queue
        enqueue(job);
        break;
      case caf::resumable::awaiting_message:  // its next message schedules it again
      case caf::resumable::done:
        caf::intrusive_ptr_release(job);
        break;
      case caf::resumable::shutdown_execution_unit:
        return;
    }
  }
}

void worker_pool::start() {
  for (std::size_t i = 0; i < num_workers(); ++i)
    workers_.push_back(std::make_unique<worker>(*this));
  for (auto& w : workers_) w->start();
  clock_thread_ = std::thread([this] {
    system().thread_started();
    clock_.run_dispatch_loop();
    system().thread_terminates();
  });
  abstract_coordinator::start();  // the utility actors
}

void worker_pool::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  job_ready_.notify_all();
  stop_actors();
  for (auto& w : workers_) w->join();
  // Whatever was still queued lost its chance to run.
  for (auto* job : jobs_) cleanup_and_release(job);
  jobs_.clear();
  clock_.cancel_dispatch_loop();
  if (clock_thread_.joinable()) clock_thread_.join();
}

void use_worker_pool(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back([](caf::actor_system& system) -> caf::actor_system::module* {
    return new worker_pool(system);
  });
}

}  // namespace happy
