#pragma once

#include <string>

#include "actors/service.hpp"

namespace happy {

// GET /cluster with JetStream: {"enabled":true,"engine":"jetstream","node":…,
// "nats":{"connected":…,"url":…},"topics":[{"name":…,"stream":…,"first_seq":…,
// "last_seq":…,"leader":…|null,"replicas":[{"name":…,"current":…,"lag":…}],
// "lease_holder":…|null}, …]}
std::string jetstream_status_json(const jetstream_status& status);

}  // namespace happy
