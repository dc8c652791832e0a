#include "net/jetstream_metrics.hpp"

#include <sstream>

namespace happy {

std::string jetstream_metrics(const nats_connection& nats) {
  std::ostringstream out;
  auto write = [&out](const char* name, const char* type, const char* help, std::uint64_t value) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
        << name << ' ' << value << '\n';
  };
  write("happy_nats_connected", "gauge", "1 while a NATS server answers, else 0.", nats.connected() ? 1 : 0);
  write("happy_nats_disconnects_total", "counter", "Times the NATS connection was lost.", nats.disconnects);
  write("happy_nats_reconnects_total", "counter", "Times the NATS connection came back.", nats.reconnects);
  write("happy_jetstream_publishes_acked_total", "counter",
        "Readings a JetStream quorum stored (then answered 202 or acked).", nats.publishes_acked);
  out << "# HELP happy_jetstream_publish_ack_seconds_sum Publish to JetStream ack, summed over the "
         "acked readings (with their retries); divide by the acked total for the mean.\n"
         "# TYPE happy_jetstream_publish_ack_seconds_sum counter\n"
         "happy_jetstream_publish_ack_seconds_sum "
      << static_cast<double>(nats.ack_latency_us_sum.load()) / 1e6 << '\n';
  write("happy_jetstream_publish_retries_total", "counter",
        "Publishes sent again after no answer or no stream leader.", nats.publish_retries);
  write("happy_jetstream_publishes_failed_total", "counter",
        "Publishes refused (503) after nats.publish_timeout_ms without a quorum.", nats.publishes_failed);
  write("happy_jetstream_publishes_fenced_total", "counter",
        "Generator or source readings refused because another node published since (a lost lease).",
        nats.publishes_fenced);
  write("happy_jetstream_readings_followed_total", "counter",
        "Readings this node's stream followers handed to its hubs.", nats.readings_followed);
  return out.str();
}

}  // namespace happy
