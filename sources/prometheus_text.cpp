#include "sources/prometheus_text.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstdlib>
#include <optional>
#include <vector>

#include "sources/reading_text.hpp"

namespace happy {

namespace {

struct sample_line {
  std::string_view name;
  std::map<std::string, std::string> labels;
  std::string_view value;
};

bool name_char(char c, bool first) {
  bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  return letter || (!first && c >= '0' && c <= '9');
}

void skip_blanks(std::string_view line, std::size_t& i) {
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
}

// `name{label="value",...} value [timestamp]`; nullopt for lines that are not
// well-formed samples (they are skipped, as Prometheus would reject them).
std::optional<sample_line> parse_sample(std::string_view line) {
  sample_line out;
  std::size_t i = 0;
  skip_blanks(line, i);
  std::size_t start = i;
  while (i < line.size() && name_char(line[i], i == start)) ++i;
  if (i == start) return std::nullopt;
  out.name = line.substr(start, i - start);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      skip_blanks(line, i);
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      std::size_t label_start = i;
      while (i < line.size() && name_char(line[i], i == label_start) && line[i] != ':') ++i;
      if (i == label_start) return std::nullopt;
      std::string label(line.substr(label_start, i - label_start));
      skip_blanks(line, i);
      if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') return std::nullopt;
      i += 2;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) {
          char escaped = line[++i];
          value += escaped == 'n' ? '\n' : escaped;
        } else {
          value += line[i];
        }
        ++i;
      }
      if (i >= line.size()) return std::nullopt;
      ++i;  // closing quote
      out.labels[label] = std::move(value);
      skip_blanks(line, i);
      if (i < line.size() && line[i] == ',') ++i;
    }
  }
  skip_blanks(line, i);
  std::size_t value_start = i;
  while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
  if (i == value_start) return std::nullopt;
  out.value = line.substr(value_start, i - value_start);
  return out;
}

std::optional<double> parse_value(std::string_view text) {
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

std::string describe(const std::string& metric, const std::map<std::string, std::string>& labels) {
  std::string out = metric;
  if (labels.empty()) return out;
  out += '{';
  for (const auto& [name, value] : labels) {
    if (out.back() != '{') out += ',';
    out += name + "=\"" + value + '"';
  }
  return out + '}';
}

}  // namespace

source_outcome prometheus_sample(std::string_view text, const std::string& metric,
                                 const std::map<std::string, std::string>& labels) {
  std::vector<sample_line> matches;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    auto sample = parse_sample(line);
    if (!sample || sample->name != metric) continue;
    bool wanted = true;
    for (const auto& [name, value] : labels) {
      auto found = sample->labels.find(name);
      if (found == sample->labels.end() || found->second != value) wanted = false;
    }
    if (wanted) matches.push_back(std::move(*sample));
  }
  std::string wanted = describe(metric, labels);
  if (matches.empty())
    return source_outcome::failed(source_failure::bad_output, "no sample " + wanted + " in the body");
  if (matches.size() > 1)
    return source_outcome::failed(
        source_failure::bad_output,
        std::to_string(matches.size()) + " samples match " + wanted + " (e.g. " +
            describe(metric, matches[0].labels) + " and " + describe(metric, matches[1].labels) +
            "): add labels that pick one");
  auto value = parse_value(matches[0].value);
  if (!value || !std::isfinite(*value))
    return source_outcome::failed(source_failure::bad_output,
                                  "sample " + wanted + " has the value '" +
                                      excerpt(matches[0].value) + "', not a finite number");
  // Written by RapidJSON, not copied: "+1", ".5" and "1e3" are Prometheus numbers, not all JSON.
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  if (*value == std::floor(*value) && std::fabs(*value) < 9e15)
    writer.Int64(static_cast<std::int64_t>(*value));  // counters read as integers
  else
    writer.Double(*value);
  return source_outcome::value(std::string(buffer.GetString(), buffer.GetSize()));
}

}  // namespace happy
