#include "net/delivery_queue.hpp"

#include <boost/asio/post.hpp>
#include <chrono>

namespace happy {

namespace {
// Keep the batch buffers' memory after a burst only up to this many items.
constexpr std::size_t retained_capacity = 16384;
// How long the first push of a fan-out waits for the rest of it.
// Without it the I/O thread wakes (and, on one core, preempts the actor
// thread) for every frame.
constexpr auto linger = std::chrono::microseconds(500);
}  // namespace

void delivery_queue::push(std::shared_ptr<frame_sink> sink, frame_batch frames) {
  if (!one_io_thread_) {
    // Straight onto the sink's strand, so a close() posted after this call stays behind it.
    auto executor = sink->executor();
    boost::asio::post(executor, [sink = std::move(sink), frames = std::move(frames)] {
      if (sink->take_frames(*frames)) sink->flush_frames();
    });
    return;
  }
  bool post;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back({std::move(sink), std::move(frames)});
    post = !drain_posted_;
    drain_posted_ = true;
  }
  if (post) boost::asio::post(ioc_, [this] { drain_soon(); });
}

void delivery_queue::drain_soon() {
  if (!linger_) linger_.emplace(ioc_);
  linger_->expires_after(linger);
  linger_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) drain();
  });
}

void delivery_queue::drain_here() {
  if (one_io_thread_) drain();
}

void delivery_queue::drain() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    draining_.swap(pending_);
    drain_posted_ = false;  // a push from now on posts the next drain
  }
  // The only I/O thread runs this, so every sink's handlers are ours to run.
  for (auto& [sink, frames] : draining_)
    if (sink->take_frames(*frames)) to_flush_.push_back(sink);
  for (auto& sink : to_flush_) sink->flush_frames();
  draining_.clear();
  to_flush_.clear();
  if (draining_.capacity() > retained_capacity) std::vector<item>().swap(draining_);
  if (to_flush_.capacity() > retained_capacity) to_flush_.shrink_to_fit();
}

}  // namespace happy
