#include "sources/system_sampler.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "wire/number_text.hpp"
#include "wire/text_excerpt.hpp"

namespace happy {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

source_outcome unreadable(const std::string& path) {
  return source_outcome::failed(source_failure::start, "cannot read " + path);
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::vector<std::string> words_of(std::string_view line) {
  std::istringstream in{std::string(line)};
  std::vector<std::string> out;
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

// A whole word of /proc text as a number.
std::uint64_t number_of(const std::string& word) {
  if (auto n = parse_unsigned(word)) return *n;
  throw garbled_proc_text("'" + excerpt(word, 40) + "' where a number belongs");
}

double decimal_of(const std::string& word) {
  if (auto n = parse_decimal(word)) return *n;
  throw garbled_proc_text("'" + excerpt(word, 40) + "' where a number belongs");
}

double rounded(double value, double step) { return std::round(value / step) * step; }

source_outcome object_of(const std::vector<std::pair<std::string, double>>& fields) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  for (const auto& [name, value] : fields) {
    w.Key(name.c_str());
    // Whole numbers (bytes) stay integers; percentages and loads keep decimals.
    if (value == std::floor(value) && std::fabs(value) < 9e15)
      w.Int64(static_cast<std::int64_t>(value));
    else
      w.Double(value);
  }
  w.EndObject();
  return source_outcome::value(std::string(buffer.GetString(), buffer.GetSize()));
}

// A block device with a `device` link is hardware (or a virtual disk); loop,
// ram, device-mapper and md devices are built from others and would count
// the same bytes twice.
std::vector<std::string> physical_disks(const std::string& sys_block) {
  std::vector<std::string> out;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(sys_block, error))
    if (std::filesystem::exists(entry.path() / "device", error))
      out.push_back(entry.path().filename().string());
  return out;
}

}  // namespace

std::optional<cpu_times> parse_proc_stat(std::string_view text) {
  for (auto line : lines_of(text)) {
    auto words = words_of(line);
    if (words.size() < 5 || words[0] != "cpu") continue;
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    std::vector<std::uint64_t> v;
    for (std::size_t i = 1; i < words.size() && i <= 8; ++i) v.push_back(number_of(words[i]));
    v.resize(8, 0);
    cpu_times out;
    out.user = v[0] + v[1];
    out.system = v[2] + v[5] + v[6];
    out.iowait = v[4];
    for (auto part : v) out.total += part;
    return out;
  }
  return std::nullopt;
}

std::map<std::string, byte_counters> parse_net_dev(std::string_view text) {
  std::map<std::string, byte_counters> out;
  for (auto line : lines_of(text)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // the two header lines
    auto name = words_of(line.substr(0, colon));
    auto fields = words_of(line.substr(colon + 1));
    if (name.size() != 1 || fields.size() < 9 || name[0] == "lo") continue;
    out[name[0]] = {number_of(fields[0]), number_of(fields[8])};
  }
  return out;
}

std::map<std::string, byte_counters> parse_diskstats(std::string_view text) {
  std::map<std::string, byte_counters> out;
  for (auto line : lines_of(text)) {
    // major minor name reads merged sectors_read ms writes merged sectors_written ...
    auto words = words_of(line);
    if (words.size() < 10) continue;
    // The kernel counts 512-byte sectors here whatever the device's own size.
    out[words[2]] = {number_of(words[5]) * 512, number_of(words[9]) * 512};
  }
  return out;
}

system_sampler::system_sampler(system_metric metric, std::string proc_root, std::string sys_block)
    : metric_(metric), proc_root_(std::move(proc_root)), sys_block_(std::move(sys_block)) {}

std::optional<source_outcome> system_sampler::sample(std::chrono::steady_clock::time_point now) {
  try {
    return sample_unchecked(now);
  } catch (const garbled_proc_text& e) {
    return source_outcome::failed(source_failure::bad_output,
                                  "garbled text in " + proc_root_ + file_of(metric_) + ": " + e.what());
  }
}

const char* system_sampler::file_of(system_metric metric) {
  switch (metric) {
    case system_metric::cpu: return "/stat";
    case system_metric::memory: return "/meminfo";
    case system_metric::load: return "/loadavg";
    case system_metric::network: return "/net/dev";
    case system_metric::disk: return "/diskstats";
  }
  return "";
}

std::optional<source_outcome> system_sampler::sample_unchecked(std::chrono::steady_clock::time_point now) {
  switch (metric_) {
    case system_metric::cpu: return cpu();
    case system_metric::memory: return memory();
    case system_metric::load: return load();
    case system_metric::network: {
      auto path = proc_root_ + "/net/dev";
      auto text = read_file(path);
      if (!text) return unreadable(path);
      std::map<std::string, byte_counters> totals;
      for (const auto& [name, bytes] : parse_net_dev(*text)) {
        totals[name + "_rx"] = {bytes.in, 0};
        totals[name + "_tx"] = {bytes.out, 0};
      }
      return rates(totals, now);
    }
    case system_metric::disk: {
      auto path = proc_root_ + "/diskstats";
      auto text = read_file(path);
      if (!text) return unreadable(path);
      auto stats = parse_diskstats(*text);
      byte_counters sum;
      for (const auto& name : physical_disks(sys_block_))
        if (auto it = stats.find(name); it != stats.end()) {
          sum.in += it->second.in;
          sum.out += it->second.out;
        }
      return rates({{"read", {sum.in, 0}}, {"write", {sum.out, 0}}}, now);
    }
  }
  return std::nullopt;
}

std::optional<source_outcome> system_sampler::cpu() {
  auto path = proc_root_ + "/stat";
  auto text = read_file(path);
  if (!text) return unreadable(path);
  auto times = parse_proc_stat(*text);
  if (!times) return source_outcome::failed(source_failure::start, "no cpu line in " + path);
  auto previous = last_cpu_;
  last_cpu_ = times;
  if (!previous || times->total <= previous->total) return std::nullopt;
  double total = static_cast<double>(times->total - previous->total);
  auto percent = [&](std::uint64_t now, std::uint64_t before) {
    return now < before ? 0.0 : rounded(100.0 * static_cast<double>(now - before) / total, 0.01);
  };
  return object_of({{"user", percent(times->user, previous->user)},
                    {"system", percent(times->system, previous->system)},
                    {"iowait", percent(times->iowait, previous->iowait)}});
}

source_outcome system_sampler::memory() {
  auto path = proc_root_ + "/meminfo";
  auto text = read_file(path);
  if (!text) return unreadable(path);
  std::optional<std::uint64_t> total, available;
  for (auto line : lines_of(*text)) {
    auto words = words_of(line);
    if (words.size() < 2) continue;
    if (words[0] == "MemTotal:") total = number_of(words[1]) * 1024;
    if (words[0] == "MemAvailable:") available = number_of(words[1]) * 1024;
  }
  if (!total || !available || *available > *total)
    return source_outcome::failed(source_failure::start,
                                  "no MemTotal and MemAvailable in " + path);
  return object_of({{"used", static_cast<double>(*total - *available)},
                    {"available", static_cast<double>(*available)}});
}

source_outcome system_sampler::load() {
  auto path = proc_root_ + "/loadavg";
  auto text = read_file(path);
  if (!text) return unreadable(path);
  auto words = words_of(*text);
  if (words.size() < 3) return source_outcome::failed(source_failure::start, "no load averages in " + path);
  return object_of({{"1m", decimal_of(words[0])}, {"5m", decimal_of(words[1])}, {"15m", decimal_of(words[2])}});
}

std::optional<source_outcome> system_sampler::rates(
    const std::map<std::string, byte_counters>& totals, std::chrono::steady_clock::time_point now) {
  auto previous = std::move(last_totals_);
  auto previous_at = last_at_;
  last_totals_ = totals;
  last_at_ = now;
  if (!previous_at || now <= *previous_at) return std::nullopt;
  double seconds = std::chrono::duration<double>(now - *previous_at).count();
  std::vector<std::pair<std::string, double>> fields;
  for (const auto& [name, bytes] : totals) {
    auto before = previous.find(name);
    // A counter that went back (an interface re-created) starts a new baseline.
    double delta = before == previous.end() || bytes.in < before->second.in
                       ? 0.0
                       : static_cast<double>(bytes.in - before->second.in);
    fields.emplace_back(name, std::round(delta / seconds));
  }
  return object_of(fields);
}

}  // namespace happy
