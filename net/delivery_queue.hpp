#pragma once

// Frame batches on their way from session actors (actor threads) to their
// connections (the I/O thread). Each session hands over each batch its hub
// sent it with one locked push; the I/O thread wakes once for everything
// pushed meanwhile, so a hub's fan-out to 10,000 sessions costs one wake-up,
// not one posted handler (and thread switch) per client. The first push
// lingers for at most half a millisecond for the rest of the fan-out.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "wire/vocabulary.hpp"

namespace happy {

// A connection that takes frames on its own executor (its strand). A drain
// hands it every batch pushed for it, then asks it once to write them.
class frame_sink {
 public:
  virtual ~frame_sink() = default;
  virtual boost::asio::any_io_executor executor() = 0;

  // Queues a batch (shared: read only); true when the sink is not yet on
  // this drain's list of sinks to flush.
  bool take_frames(const frame_list& frames) {
    for (const auto& f : frames) queue_frame(f);
    return !std::exchange(flush_wanted_, true);
  }
  // Writes what the drain queued.
  void flush_frames() {
    flush_wanted_ = false;
    write_queued_frames();
  }

 protected:
  virtual void queue_frame(const frame& f) = 0;
  virtual void write_queued_frames() = 0;

 private:
  bool flush_wanted_ = false;
};

class delivery_queue {
 public:
  // With one I/O thread every handler already runs on it, so batches are
  // applied in place; with more, each frame is posted to its sink's strand.
  // Only keeps `ioc`: it may be constructed after this queue.
  delivery_queue(boost::asio::io_context& ioc, bool one_io_thread)
      : ioc_(ioc), one_io_thread_(one_io_thread) {}

  // From any thread. Batches for one sink keep their order; a handler posted
  // to the sink's executor later may run before the batch is taken, unless it
  // calls drain_here() first.
  void push(std::shared_ptr<frame_sink> sink, frame_batch frames);

  // On the I/O thread: applies what waits now (a sink's close handler calls
  // this, so frames delivered before a close are not overtaken by it). Does
  // nothing with more than one I/O thread, where frames are posted directly.
  void drain_here();

  // Before the io_context goes away: drops the timer that lives on it.
  void stop() { linger_.reset(); }

 private:
  struct item {
    std::shared_ptr<frame_sink> sink;
    frame_batch frames;
  };
  void drain_soon();
  void drain();

  boost::asio::io_context& ioc_;
  bool one_io_thread_;
  std::optional<boost::asio::steady_timer> linger_;  // made on the I/O thread, first use
  std::mutex mutex_;                                 // guards pending_ and drain_posted_
  std::vector<item> pending_;
  bool drain_posted_ = false;
  std::vector<item> draining_;  // I/O thread only
  std::vector<std::shared_ptr<frame_sink>> to_flush_;
};

}  // namespace happy
