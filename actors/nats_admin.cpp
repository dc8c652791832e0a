#include "actors/nats_admin.hpp"

#include <caf/send.hpp>
#include <caf/sec.hpp>

namespace happy {

namespace {

// JetStream's refusal as an error the asking actor can log.
caf::error jetstream_error(const std::string& problem) {
  return caf::make_error(caf::sec::runtime_error, problem);
}

}  // namespace

nats_admin_actor::behavior_type nats_admin(nats_admin_actor::stateful_pointer<nats_admin_state> self,
                                           std::shared_ptr<nats_connection> link) {
  self->state.link = std::move(link);
  return {
      [self](ensure_atom, const std::string& topic,
             const stream_limits& limits) -> caf::result<stream_report> {
        stream_report report;
        std::string problem;
        if (!ensure_stream(*self->state.link, topic, limits, report, problem))
          return jetstream_error(problem);
        return report;
      },
      [self](follow_atom, const std::string& topic, std::uint64_t from_seq,
             const hub_actor& hub) -> caf::result<std::shared_ptr<stream_follower>> {
        std::string problem;
        // The follower's thread hands each reading to the hub, nothing more.
        auto follower = stream_follower::start(
            *self->state.link, topic, from_seq,
            [hub](stream_reading reading) { caf::anon_send(hub, reading_atom::value, std::move(reading)); },
            problem);
        if (!follower) return jetstream_error(problem);
        return std::shared_ptr<stream_follower>(std::move(follower));
      },
      [self](streams_atom) -> caf::result<std::vector<std::string>> {
        std::vector<std::string> topics;
        std::string problem;
        if (!list_stream_topics(*self->state.link, topics, problem)) return jetstream_error(problem);
        return topics;
      },
      [self](streams_atom, const std::vector<std::string>& topics) {
        std::vector<stream_report> reports;
        for (const auto& topic : topics) {
          stream_report report;
          std::string problem;
          // A stream that cannot be described is reported without a leader.
          if (!describe_stream(*self->state.link, topic, report, problem)) report.topic = topic;
          reports.push_back(std::move(report));
        }
        return reports;
      },
      [](dispose_atom, std::shared_ptr<stream_follower>& follower) {
        // Unsubscribing waits for the server: here, not on the hub's thread.
        follower.reset();
      },
  };
}

}  // namespace happy
