#pragma once

// Answers from the actors arrive on an actor thread, but a connection's
// objects may be touched only on its strand: on_strand(strand, f) is f,
// called on the strand instead, with the same arguments. Each such callback
// is called once, so f and the arguments are moved, not copied.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <tuple>
#include <utility>

namespace happy {

template <class F>
auto on_strand(boost::asio::any_io_executor strand, F f) {
  return [strand = std::move(strand), f = std::move(f)](auto... args) mutable {
    boost::asio::post(strand, [f = std::move(f), args = std::make_tuple(std::move(args)...)]() mutable {
      std::apply(f, std::move(args));
    });
  };
}

}  // namespace happy
