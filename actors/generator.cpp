#include "actors/generator.hpp"

#include <caf/send.hpp>

#include <random>

#include "wire/envelope.hpp"

namespace happy {

namespace {

void schedule_next(generator_pointer self) {
  auto& s = self->state;
  // Aim at the planned time rather than "now + interval" so processing time
  // does not make the cadence drift.
  s.next_due += std::chrono::milliseconds(s.cfg.interval_ms);
  auto now = std::chrono::steady_clock::now();
  if (s.next_due < now) s.next_due = now;
  self->delayed_send(self, s.next_due - now, tick_atom::value, s.schedule);
}

void restart_schedule(generator_pointer self) {
  ++self->state.schedule;
  self->state.next_due = std::chrono::steady_clock::now();
  schedule_next(self);
}

}  // namespace

generator_actor::behavior_type generator(generator_pointer self, hub_actor hub,
                                         generator_config cfg) {
  self->state.hub = std::move(hub);
  self->state.cfg = cfg;
  self->state.source.emplace(cfg, std::random_device{}());
  restart_schedule(self);
  return {
      [self](tick_atom, std::uint64_t schedule) {
        auto& s = self->state;
        if (schedule != s.schedule) return;  // left over from an older interval
        // Anonymous: the hub answers publishes with their seq, which a generator does not need.
        caf::anon_send(s.hub, publish_atom::value, number_json(s.source->next(unix_millis_now())));
        schedule_next(self);
      },
      [self](reconfigure_atom, const generator_config& cfg) {
        auto& s = self->state;
        bool interval_changed = cfg.interval_ms != s.cfg.interval_ms;
        s.cfg = cfg;
        s.source->reconfigure(cfg);
        if (interval_changed) restart_schedule(self);
      },
  };
}

}  // namespace happy
