#pragma once

// Whether something accepts TCP connections at host:port, answered within a
// timeout. CAF's middleman connects with a blocking connect(): to a host that
// vanished (a killed container's address) that blocks the middleman, and
// with it the process's shutdown, for minutes. Probing first keeps it to
// hosts that answer.

#include <chrono>
#include <cstdint>
#include <string>

namespace happy {

bool tcp_port_open(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace happy
