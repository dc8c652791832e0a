#include "sources/command_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "sources/reading_text.hpp"

namespace happy {

namespace {

constexpr std::size_t stderr_kept_bytes = 512;
constexpr const char* default_path = "PATH=/usr/local/bin:/usr/bin:/bin";

using clock_type = std::chrono::steady_clock;

class pipe_pair {
 public:
  pipe_pair() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) fds_[0] = fds_[1] = -1;
  }
  ~pipe_pair() {
    close_read();
    close_write();
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  bool ok() const { return fds_[0] >= 0; }
  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void close_read() { close_fd(fds_[0]); }
  void close_write() { close_fd(fds_[1]); }

 private:
  static void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fds_[2];
};

struct spawn_setup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  spawn_setup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
  }
  ~spawn_setup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
};

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int milliseconds_until(clock_type::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Waits for the program up to the deadline or a stop; true with its status,
// false if it is still running.
bool wait_until(pid_t pid, clock_type::time_point deadline, const stop_signal& stop, int& status) {
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) return true;
    if (clock_type::now() >= deadline || stop.raised()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// What the program printed, and how reading it ended.
struct pumped {
  std::string output, errors;
  bool too_large = false, timed_out = false;
  std::string read_failure;  // poll or read failed: the output is not known whole
};

// Starts argv[0] with stdout and stderr on the pipes; 0 and its pid, or errno.
int spawn(const command_source& command, const pipe_pair& out, const pipe_pair& err, pid_t& pid) {
  spawn_setup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out.write_end(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err.write_end(), 2);
  // Asio's sockets are not close-on-exec: without this the program would
  // hold the service's listening socket and client connections.
  posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);
  if (!command.cwd.empty()) posix_spawn_file_actions_addchdir_np(&setup.actions, command.cwd.c_str());
  // Its own process group, so a timeout kills what it started too; default
  // signal handling and an empty mask whatever the service's threads use.
  sigset_t no_signals, defaults;
  sigemptyset(&no_signals);
  sigemptyset(&defaults);
  for (int signal : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&defaults, signal);
  posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&setup.attributes, 0);
  posix_spawnattr_setsigmask(&setup.attributes, &no_signals);
  posix_spawnattr_setsigdefault(&setup.attributes, &defaults);

  std::vector<std::string> argv = command.argv, env;
  bool has_path = false;
  for (const auto& [name, value] : command.env) {
    env.push_back(name + "=" + value);
    has_path = has_path || name == "PATH";
  }
  if (!has_path) env.emplace_back(default_path);
  auto argv_c = c_strings(argv);
  auto env_c = c_strings(env);
  return ::posix_spawn(&pid, argv[0].c_str(), &setup.actions, &setup.attributes, argv_c.data(),
                       env_c.data());
}

// Reads stdout (up to max_output_bytes) and stderr until both close, the
// deadline passes, or the source stops.
pumped pump(const pipe_pair& out, const pipe_pair& err, const stop_signal& stop,
            clock_type::time_point deadline, std::size_t max_output_bytes) {
  pumped got;
  // The third descriptor wakes the wait when the source goes away.
  pollfd fds[3] = {
      {out.read_end(), POLLIN, 0}, {err.read_end(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
  int open_pipes = 2;
  char buffer[16384];
  while (open_pipes > 0 && !got.too_large && got.read_failure.empty() && !stop.raised()) {
    int wait_ms = milliseconds_until(deadline);
    if (wait_ms == 0) {
      got.timed_out = true;
      break;
    }
    int ready = ::poll(fds, 3, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) {
      got.read_failure = std::string("poll: ") + std::strerror(errno);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        got.read_failure = std::string("read: ") + std::strerror(errno);
        break;
      }
      if (n == 0) {
        fds[i].fd = -1;  // poll skips negative descriptors
        --open_pipes;
        continue;
      }
      auto& kept = i == 0 ? got.output : got.errors;
      std::size_t room = i == 0 ? max_output_bytes + 1 : stderr_kept_bytes;
      kept.append(buffer, std::min<std::size_t>(static_cast<std::size_t>(n),
                                                room > kept.size() ? room - kept.size() : 0));
      if (i == 0 && got.output.size() > max_output_bytes) got.too_large = true;
    }
  }
  return got;
}

// The outcome of a run whose output `got` holds; ends what is left of it.
source_outcome classify(const std::string& program, pid_t pid, const pumped& got,
                        clock_type::time_point deadline, const stop_signal& stop,
                        std::chrono::milliseconds timeout, std::size_t max_output_bytes) {
  int status = 0;
  bool exited = got.read_failure.empty() && !got.timed_out && !got.too_large && !stop.raised() &&
                wait_until(pid, deadline, stop, status);
  if (!exited) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    if (!got.read_failure.empty())
      return source_outcome::failed(source_failure::bad_output, "cannot read what " + program +
                                                                    " printed (" + got.read_failure + "; killed)");
    if (stop.raised() && !got.timed_out && !got.too_large)
      return source_outcome::failed(source_failure::stopped, program + " was stopped with its source (killed)");
    if (got.too_large)
      return source_outcome::failed(source_failure::too_large, program + " printed more than " +
                                                                   std::to_string(max_output_bytes) + " bytes");
    return source_outcome::failed(source_failure::timeout, program + " did not finish within " +
                                                               std::to_string(timeout.count()) + " ms (killed)");
  }
  // What the program left running in its group must not outlive the run.
  ::kill(-pid, SIGKILL);
  std::string said = got.errors.empty() ? std::string() : ": " + excerpt(got.errors, 200);
  if (WIFSIGNALED(status))
    return source_outcome::failed(source_failure::exit_status, program + " was killed by signal " +
                                                                   std::to_string(WTERMSIG(status)) + said);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return source_outcome::failed(source_failure::exit_status, program + " exited with status " +
                                                                   std::to_string(WEXITSTATUS(status)) + said);
  return reading_from_text(got.output, max_output_bytes);
}

}  // namespace

source_outcome run_command(const command_source& command, std::chrono::milliseconds timeout,
                           std::size_t max_output_bytes, const stop_signal& stop) {
  if (stop.raised()) return source_outcome::failed(source_failure::stopped, "the source stopped");
  pipe_pair out, err;
  if (!out.ok() || !err.ok())
    return source_outcome::failed(source_failure::start,
                                  std::string("cannot make a pipe: ") + std::strerror(errno));
  auto deadline = clock_type::now() + timeout;
  pid_t pid = 0;
  if (int spawned = spawn(command, out, err, pid); spawned != 0)
    return source_outcome::failed(source_failure::start,
                                  "cannot start " + command.argv[0] + ": " + std::strerror(spawned));
  out.close_write();
  err.close_write();
  auto got = pump(out, err, stop, deadline, max_output_bytes);
  return classify(command.argv[0], pid, got, deadline, stop, timeout, max_output_bytes);
}

}  // namespace happy
