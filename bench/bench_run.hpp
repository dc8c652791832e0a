#pragma once

#include "bench_options.hpp"
#include "bench_report.hpp"

namespace happy_bench {

// Runs one benchmark; always returns by itself (every phase has a deadline).
// exit_code: 0 completed (even with losses), 1 could not be done.
bench_result run_bench(const bench_options& options, int& exit_code);

}  // namespace happy_bench
