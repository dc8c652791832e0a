#include "actors/source.hpp"

#include <caf/exit_reason.hpp>
#include <caf/system_messages.hpp>
#include <caf/send.hpp>

#include "actors/source_runner.hpp"
#include "config/source_reader.hpp"
#include "log/log.hpp"

namespace happy {

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto repeat_log_every = std::chrono::minutes(1);

void schedule_next(source_pointer self) {
  auto& s = self->state;
  // The planned time, not "now + interval", so run times do not make the cadence drift.
  s.next_due += std::chrono::milliseconds(s.cfg.interval_ms);
  auto now = clock_type::now();
  if (s.next_due < now) s.next_due = now;
  self->delayed_send(self, s.next_due - now, tick_atom::value);
}

void note_failure(source_pointer self, const source_outcome& outcome) {
  auto& s = self->state;
  s.counters->count_failure(s.topic, outcome.failure);
  auto& log = s.log;
  ++log.in_a_row;
  auto now = clock_type::now();
  // Keyed on the kind, not the text: a program that prints a time or a
  // counter to stderr must not turn every run into a log line.
  if (outcome.failure == log.last_failure && now - log.last_logged < repeat_log_every) {
    ++log.unlogged;
    return;
  }
  std::string repeats =
      log.unlogged > 0 ? " (" + std::to_string(log.unlogged) + " more failures since the last line)"
                       : "";
  log_warning("source of topic '" + s.topic + "' (" + describe_source(s.cfg) + ") gave no reading: " +
              failure_label(outcome.failure) + ": " + outcome.problem + repeats);
  log.last_failure = outcome.failure;
  log.last_logged = now;
  log.unlogged = 0;
}

void take(source_pointer self, const source_outcome& outcome) {
  auto& s = self->state;
  if (outcome.failure == source_failure::stopped) return;  // only while ending
  if (!outcome.ok()) return note_failure(self, outcome);
  if (s.log.in_a_row > 0)
    log_info("source of topic '" + s.topic + "' works again after " +
             std::to_string(s.log.in_a_row) + " failed runs");
  s.log = {};
  s.counters->count_reading(s.topic);
  // Anonymous: the hub answers a publish with its seq, which a source does not need.
  caf::anon_send(s.hub, publish_atom::value, outcome.reading);
}

void start_run(source_pointer self) {
  auto& s = self->state;
  if (s.running) {
    s.counters->count_skipped(s.topic);
    return;
  }
  // Linked: it ends with its source (once a run in flight is over).
  if (!s.runner) s.runner = self->spawn<caf::detached + caf::linked>(source_runner, s.stop);
  s.running = true;
  // The runner bounds every run by timeout_ms itself; no second deadline here.
  self->request(s.runner, caf::infinite, run_atom::value, s.cfg)
      .then(
          [self](source_outcome& outcome) {
            self->state.running = false;
            take(self, outcome);
          },
          [self](caf::error& error) {
            auto& s = self->state;
            s.running = false;
            take(self, source_outcome::failed(source_failure::start,
                                              "the runner ended: " + self->system().render(error)));
          });
}

}  // namespace

source_actor::behavior_type source(source_pointer self, std::string topic, hub_actor hub,
                                   source_config cfg, std::shared_ptr<source_counters> counters) {
  auto& s = self->state;
  s.topic = std::move(topic);
  s.hub = std::move(hub);
  s.cfg = std::move(cfg);
  s.counters = std::move(counters);
  if (s.cfg.kind == source_kind::system) {
    s.sampler.emplace(s.cfg.metric);
    s.sampler->sample(clock_type::now());  // rates need a baseline one interval before the first reading
  } else {
    s.stop = std::make_shared<stop_signal>();
    // Runs at the end whatever ends the source (the state may be gone then,
    // so the functor holds its own reference).
    self->attach_functor([stop = s.stop] { stop->raise(); });
  }
  // A runner that ended (it should not) must not take the source, and with
  // it the registry, down: the next tick makes a new one. Any other exit
  // message (the registry stopping the source) ends the source.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    auto& s = self->state;
    if (s.runner && msg.source == s.runner.address()) {
      s.runner = nullptr;
      s.running = false;
      return;
    }
    self->quit(msg.reason);
  });
  s.next_due = clock_type::now();
  schedule_next(self);
  return {
      [self](tick_atom) {
        auto& s = self->state;
        schedule_next(self);
        if (!s.sampler) return start_run(self);
        if (auto outcome = s.sampler->sample(clock_type::now())) take(self, *outcome);
      },
  };
}

}  // namespace happy
