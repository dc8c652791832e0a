// happy-bench: N WebSocket subscribers + one optional publisher on a single
// epoll thread; prints one JSON line describing the run. See bench_usage().
#include "bench_options.hpp"
#include "bench_report.hpp"
#include "bench_run.hpp"
#include "process_usage.hpp"
#include "tls_client.hpp"

#include <csignal>
#include <iostream>

int main(int argc, char** argv) {
  using namespace happy_bench;
  std::signal(SIGPIPE, SIG_IGN);
  auto parsed = parse_bench_options(argc, argv);
  if (parsed.result == option_parse_result::outcome::help) {
    std::cout << bench_usage();
    return 0;
  }
  if (parsed.result == option_parse_result::outcome::error) {
    std::cerr << "happy-bench: " << parsed.error << " (see --help)\n";
    return 2;
  }
  const bench_options& options = parsed.options;
  long open_files = raise_open_file_limit();
  long publisher_sockets = options.publish == publish_mode::http ? options.window
                           : options.publish == publish_mode::ws ? 1
                                                                 : 0;
  long needed = options.subscribers + publisher_sockets + 8;  // + stdio, epoll, /proc reads
  if (needed > open_files) {
    std::cerr << "happy-bench: " << options.subscribers << " subscribers + " << publisher_sockets
              << " publisher sockets need about " << needed << " file descriptors; the limit is "
              << open_files << "\n";
    return 2;
  }
  if (options.tls) enable_tls();
  int exit_code = 0;
  bench_result result = run_bench(options, exit_code);
  std::cout << to_json_line(result) << std::endl;
  return exit_code;
}
