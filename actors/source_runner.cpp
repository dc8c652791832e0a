#include "actors/source_runner.hpp"

#include <chrono>
#include <exception>
#include <variant>

#include "sources/command_runner.hpp"

namespace happy {

namespace {

source_outcome run_once(source_runner_pointer self, const source_config& cfg) {
  auto timeout = std::chrono::milliseconds(cfg.timeout_ms);
  const auto& stop = *self->state.stop;
  if (cfg.kind == source_kind::command)
    return run_command(cfg.command, timeout, cfg.max_reading_bytes, stop);
  auto& fetcher = self->state.fetcher;
  if (!fetcher) fetcher = std::make_unique<http_fetcher>();
  auto got = fetcher->get(cfg.http, timeout, stop);
  if (auto* failure = std::get_if<source_outcome>(&got)) return std::move(*failure);
  return reading_from_body(cfg.http, std::get<std::string>(got), cfg.max_reading_bytes);
}

}  // namespace

source_runner_actor::behavior_type source_runner(source_runner_pointer self,
                                                 std::shared_ptr<const stop_signal> stop) {
  self->state.stop = std::move(stop);
  return {
      [self](run_atom, const source_config& cfg) -> source_outcome {
        // An exception would end the runner; the run fails instead, like any other.
        try {
          return run_once(self, cfg);
        } catch (const std::exception& e) {
          return source_outcome::failed(source_failure::start, e.what());
        }
      },
  };
}

}  // namespace happy
