#include "net/service_metrics.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace happy {

namespace {

constexpr const char* rejection_names[publish_rejection_count] = {
    "invalid_json", "too_large",     "missing_token", "wrong_token",       "publishing_disabled",
    "invalid_topic", "topic_limit", "invalid_token", "not_for_this_topic"};

void header(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

std::uint64_t open_fds() {
  std::uint64_t count = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (auto* entry = readdir(dir))
      if (entry->d_name[0] != '.') ++count;
    closedir(dir);
    if (count > 0) --count;  // the descriptor opendir itself holds
  }
  return count;
}

}  // namespace

std::shared_ptr<topic_counters> service_metrics::topic(const std::string& name) {
  std::lock_guard<std::mutex> guard(mutex_);
  auto& slot = topics_[name];
  if (!slot) slot = std::make_shared<topic_counters>(name);
  return slot;
}

void service_metrics::count_rejection(publish_rejection reason) {
  ++rejections_[static_cast<std::size_t>(reason)];
}

std::string service_metrics::render(const std::vector<topic_stats>& topics,
                                    const connection_tracker& connections,
                                    const storage_status* storage,
                                    const source_counters* sources) const {
  // One writer per subsystem, in the order the README's table lists them.
  std::ostringstream out;
  write_connections(out, connections);
  write_topics(out, topics);
  write_deliveries(out);
  write_refusals(out);
  if (sources) write_sources(out, *sources);
  if (storage) write_storage(out, *storage);
  write_process(out);
  return out.str();
}

void service_metrics::write_connections(std::ostringstream& out, const connection_tracker& connections) {
  header(out, "happy_connections", "gauge", "Open connections by transport.");
  for (std::size_t i = 0; i < transport_kind_count; ++i) {
    auto kind = static_cast<transport_kind>(i);
    out << "happy_connections{transport=\"" << transport_name(kind) << "\"} " << connections.open(kind) << '\n';
  }
  header(out, "happy_connections_opened_total", "counter", "Connections opened by transport.");
  for (std::size_t i = 0; i < transport_kind_count; ++i) {
    auto kind = static_cast<transport_kind>(i);
    out << "happy_connections_opened_total{transport=\"" << transport_name(kind) << "\"} "
        << connections.opened_total(kind) << '\n';
  }
}

void service_metrics::write_topics(std::ostringstream& out, const std::vector<topic_stats>& topics) {
  header(out, "happy_topic_subscribers", "gauge", "Subscribed sessions by topic.");
  for (const auto& t : topics) out << "happy_topic_subscribers{topic=\"" << t.name << "\"} " << t.subscribers << '\n';
  header(out, "happy_topic_history", "gauge", "Envelopes held for replay by topic.");
  for (const auto& t : topics) out << "happy_topic_history{topic=\"" << t.name << "\"} " << t.history_size << '\n';
  header(out, "happy_readings_published_total", "counter",
         "Readings accepted by topic since start (the topic's seq).");
  for (const auto& t : topics) out << "happy_readings_published_total{topic=\"" << t.name << "\"} " << t.seq << '\n';
}

void service_metrics::write_deliveries(std::ostringstream& out) const {
  std::map<std::string, std::shared_ptr<topic_counters>> counters;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    counters = topics_;
  }
  header(out, "happy_readings_delivered_total", "counter", "Envelopes written to clients by topic.");
  for (const auto& [name, c] : counters)
    out << "happy_readings_delivered_total{topic=\"" << name << "\"} " << c->delivered << '\n';
  header(out, "happy_readings_dropped_total", "counter",
         "Envelopes discarded for clients that were too slow or gone, by topic.");
  for (const auto& [name, c] : counters)
    out << "happy_readings_dropped_total{topic=\"" << name << "\"} " << c->dropped << '\n';
  header(out, "happy_slow_consumer_disconnects_total", "counter",
         "Clients disconnected because their unsent data passed the limit.");
  out << "happy_slow_consumer_disconnects_total " << slow_consumer_disconnects_ << '\n';
}

void service_metrics::write_refusals(std::ostringstream& out) const {
  header(out, "happy_publish_rejections_total", "counter", "Refused publishes by reason.");
  for (std::size_t i = 0; i < publish_rejection_count; ++i)
    out << "happy_publish_rejections_total{reason=\"" << rejection_names[i] << "\"} " << rejections_[i] << '\n';
  header(out, "happy_config_reloads_total", "counter", "Config reloads by result.");
  out << "happy_config_reloads_total{result=\"ok\"} " << reloads_ok_ << '\n';
  out << "happy_config_reloads_total{result=\"failed\"} " << reloads_failed_ << '\n';
  header(out, "happy_tls_handshake_failures_total", "counter",
         "TLS handshakes that failed (plain HTTP on the TLS port, untrusted certificate, scanners).");
  out << "happy_tls_handshake_failures_total " << tls_handshake_failures_ << '\n';
}

void service_metrics::write_sources(std::ostringstream& out, const source_counters& sources) {
  auto numbers = sources.snapshot();
  if (numbers.empty()) return;
  header(out, "happy_source_readings_total", "counter", "Readings a topic's source (system, command, http) produced.");
  for (const auto& [name, n] : numbers)
    out << "happy_source_readings_total{topic=\"" << name << "\"} " << n.readings << '\n';
  header(out, "happy_source_failures_total", "counter", "Source runs that gave no reading, by topic and reason.");
  for (const auto& [name, n] : numbers)
    for (std::size_t i = 1; i < source_failure_count; ++i)
      out << "happy_source_failures_total{topic=\"" << name << "\",reason=\""
          << failure_label(static_cast<source_failure>(i)) << "\"} " << n.failures[i] << '\n';
  header(out, "happy_source_skipped_total", "counter",
         "Ticks passed over because the source's previous run was still going.");
  for (const auto& [name, n] : numbers)
    out << "happy_source_skipped_total{topic=\"" << name << "\"} " << n.skipped << '\n';
}

void service_metrics::write_storage(std::ostringstream& out, const storage_status& storage) {
  const struct {
    const char* name;
    const char* help;
    const std::atomic<std::uint64_t>& value;
  } storage_totals[] = {
      {"happy_storage_commits_total",
       "Transactions committed to the history file (with synchronous=full, one fsync each).", storage.commits},
      {"happy_storage_readings_written_total", "Readings written to the history file.", storage.readings_written},
      {"happy_storage_write_errors_total",
       "Statements on the history file that failed: writes (their publishes were answered 503), "
       "retention deletes, removals of a topic's readings.",
       storage.write_errors},
      {"happy_storage_readings_deleted_total", "Readings deleted by retention.", storage.readings_deleted},
      {"happy_storage_readings_dropped_total",
       "Readings a failing disk made the store give up on (beyond its retry buffer).", storage.readings_dropped},
  };
  for (const auto& total : storage_totals) {
    header(out, total.name, "counter", total.help);
    out << total.name << ' ' << total.value << '\n';
  }
  header(out, "happy_storage_writable", "gauge", "1 while the history file takes writes; 0 while publishes are refused.");
  out << "happy_storage_writable " << (storage.writable ? 1 : 0) << '\n';
  header(out, "happy_storage_pending_readings", "gauge", "Readings kept in memory for a retry while the disk fails.");
  out << "happy_storage_pending_readings " << storage.pending_readings << '\n';
}

void service_metrics::write_process(std::ostringstream& out) {
  header(out, "happy_build_info", "gauge", "Build information; always 1.");
  out << "happy_build_info{version=\"" << HAPPY_VERSION << "\"} 1\n";
  header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out << "process_resident_memory_bytes " << resident_bytes() << '\n';
  header(out, "process_open_fds", "gauge", "Number of open file descriptors.");
  out << "process_open_fds " << open_fds() << '\n';
}

}  // namespace happy
