#pragma once

// What one run of a source gave: a reading (compact JSON text) or why not.

#include <cstddef>
#include <string>

namespace happy {

enum class source_failure {
  none,
  timeout,      // the run took longer than timeout_ms
  exit_status,  // the command exited non-zero or was killed by a signal
  bad_output,   // not one JSON value; no value at the JSON Pointer; no such sample
  too_large,    // output or body over its limit
  http_status,  // a status other than 200
  connection,   // the host could not be resolved, refused, reset the connection
  start,        // the program could not be started, /proc could not be read
  stopped,      // the source went away during the run (never counted: no one is left to)
};
// The failures /metrics counts: all but `stopped`.
inline constexpr std::size_t source_failure_count = 8;

// The label /metrics shows for a failure ("timeout", "exit_status", ...).
const char* failure_label(source_failure failure);

struct source_outcome {
  std::string reading;  // compact JSON; empty when failed
  source_failure failure = source_failure::none;
  std::string problem;  // for the log: what went wrong, in a sentence

  bool ok() const { return failure == source_failure::none; }
  static source_outcome value(std::string json) { return {std::move(json), source_failure::none, {}}; }
  static source_outcome failed(source_failure why, std::string problem) {
    return {{}, why, std::move(problem)};
  }
};

}  // namespace happy
