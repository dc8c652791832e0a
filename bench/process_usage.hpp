#pragma once

#include <optional>

namespace happy_bench {

// VmRSS of another process in kB, from /proc/PID/status.
std::optional<long> process_rss_kb(int pid);
// utime + stime of another process in seconds, from /proc/PID/stat.
std::optional<double> process_cpu_seconds(int pid);
// CPU this process used so far (user + system).
double own_cpu_seconds();
// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
long raise_open_file_limit();

}  // namespace happy_bench
