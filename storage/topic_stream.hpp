#pragma once

// One topic's JetStream stream: its name and subject, making sure it exists
// as the config says, what it reports (leader, replicas, lag), and following
// it in order from a seq. Every call here but the follower's callback blocks
// for a JetStream round trip: actors make them on threads of their own.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/nats_connection.hpp"

namespace happy {

std::string stream_name_of(const std::string& topic);     // HAPPY_<topic>
std::string stream_subject_of(const std::string& topic);  // happy.t.<topic>
// The topic a stream name stands for; empty for streams that are not ours.
std::string topic_of_stream(const std::string& stream);

struct stream_limits {
  int replicas = 3;
  std::uint64_t max_readings = 0;  // 0: no limit
  std::int64_t max_age_ms = 0;     // 0: no limit
};

struct stream_replica {
  std::string name;
  bool current = false;
  std::uint64_t lag = 0;
};

struct stream_report {
  std::string topic;
  std::uint64_t first_seq = 0;
  std::uint64_t last_seq = 0;
  std::string leader;  // empty during an election
  std::vector<stream_replica> replicas;  // the others beside the leader
};

// Creates the stream, or updates it to `limits`; false with `problem` when
// JetStream cannot (no quorum, say). `report` tells where it stands.
bool ensure_stream(nats_connection& link, const std::string& topic, const stream_limits& limits,
                   stream_report& report, std::string& problem);
bool describe_stream(nats_connection& link, const std::string& topic, stream_report& report,
                     std::string& problem);
// The topics whose streams exist.
bool list_stream_topics(nats_connection& link, std::vector<std::string>& topics, std::string& problem);

// A reading as a stream holds it.
struct stream_reading {
  std::uint64_t seq = 0;
  std::int64_t accepted_ms = 0;
  std::string value_json;
};

// An ordered consumer: every reading from `from_seq` on, in order, each once,
// across reconnects and leader changes (the client re-creates the consumer
// at the last seq it saw + 1). `deliver` runs on the subscription's thread.
class stream_follower {
 public:
  using deliver_fn = std::function<void(stream_reading)>;
  static std::unique_ptr<stream_follower> start(nats_connection& link, const std::string& topic,
                                                std::uint64_t from_seq, deliver_fn deliver,
                                                std::string& problem);
  ~stream_follower();
  stream_follower(const stream_follower&) = delete;
  stream_follower& operator=(const stream_follower&) = delete;

 private:
  stream_follower() = default;
  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  static void on_complete(void* closure);

  natsSubscription* subscription_ = nullptr;
  // Owned by the subscription until its last callback has returned.
  struct delivery {
    deliver_fn deliver;
  };
  delivery* delivery_ = nullptr;
};

}  // namespace happy
