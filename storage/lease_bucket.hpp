#pragma once

// Leases in a JetStream key-value bucket: which node runs a topic's
// generator or source. A lease is held by writing the key with the revision
// last seen (create when absent, update with that revision to renew); the
// bucket's TTL ends a lease its holder stopped renewing (a dead or paused
// node), and a holder that missed a renewal learns it has lost the lease
// from the refused update. Every call blocks for a JetStream round trip.

#include <cstdint>
#include <string>

#include "storage/nats_connection.hpp"

namespace happy {

inline constexpr const char* lease_bucket_name = "happy_leases";

class lease_bucket {
 public:
  // Binds to (or creates) the bucket; null with `problem` when JetStream cannot.
  static std::unique_ptr<lease_bucket> open(nats_connection& link, int replicas,
                                            std::int64_t ttl_ms, std::string& problem);
  ~lease_bucket();
  lease_bucket(const lease_bucket&) = delete;
  lease_bucket& operator=(const lease_bucket&) = delete;

  // Takes the lease for `key` when nobody holds it, or renews it when
  // `revision` (this holder's last one) is still current. The new revision,
  // or 0 when another node holds it (or JetStream did not answer: `problem`).
  std::uint64_t hold(const std::string& key, const std::string& holder, std::uint64_t revision,
                     std::string& problem);
  // Who holds `key` now; empty when nobody does.
  std::string holder_of(const std::string& key);
  // Gives the lease up at once when `holder` still holds it (a clean stop),
  // so another node need not wait for the TTL. False when it could not.
  bool release(const std::string& key, const std::string& holder);

 private:
  lease_bucket() = default;
  jsCtx* js_ = nullptr;  // its own, with a short wait: a renewal must not stall for 5 s
  kvStore* store_ = nullptr;
};

}  // namespace happy
