#pragma once

// The JetStream part of GET /metrics (README "Clustering"): one writer per
// subsystem, appended to what service_metrics renders.

#include <string>

#include "storage/nats_connection.hpp"

namespace happy {

std::string jetstream_metrics(const nats_connection& nats);

}  // namespace happy
