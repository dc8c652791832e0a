// libFuzzer target: what a command prints or an HTTP source answers, through
// the functions that turn it into a reading (sources/reading_text,
// sources/prometheus_text). Those bytes come from programs and servers the
// service does not control.
//
// Input: a first line (a JSON Pointer, or a metric name and one label) and
// the body after it. Invariants: nothing crashes or recurses without bound,
// and every reading is one compact JSON value within the size limit that the
// publish gate accepts.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "sources/prometheus_text.hpp"
#include "sources/reading_text.hpp"
#include "wire/publish_body.hpp"

namespace {

constexpr std::size_t limit = 4096;

void require(bool ok, const char* what, std::string_view value) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s (reading %.*s)\n", what,
               static_cast<int>(value.size() > 200 ? 200 : value.size()), value.data());
  std::abort();
}

void check(const happy::source_outcome& outcome) {
  if (!outcome.ok()) {
    require(outcome.reading.empty(), "a failure carries no reading", outcome.reading);
    require(!outcome.problem.empty(), "a failure says why", outcome.reading);
    return;
  }
  require(outcome.reading.size() <= limit, "within the size limit", outcome.reading);
  auto gate = happy::check_publish_body(outcome.reading);
  require(gate.status == 0, "the publish gate accepts the reading", outcome.reading);
  // Not "unchanged": RapidJSON's default number parsing may move a long
  // mantissa by a unit in the last place, so a second pass can differ there.
  require(gate.value_json.find_first_of(" \n\t") == std::string::npos ||
              outcome.reading.find('"') != std::string::npos,
          "the reading is compact", outcome.reading);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto newline = input.find('\n');
  std::string_view head = newline == std::string_view::npos ? input : input.substr(0, newline);
  std::string_view body = newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);

  check(happy::reading_from_text(input, limit));
  check(happy::reading_at_pointer(body, std::string(head), limit));
  // "metric label=value": the label is optional.
  auto space = head.find(' ');
  std::string metric(head.substr(0, space));
  std::map<std::string, std::string> labels;
  if (space != std::string_view::npos) {
    auto pair = head.substr(space + 1);
    auto equals = pair.find('=');
    if (equals != std::string_view::npos)
      labels.emplace(std::string(pair.substr(0, equals)), std::string(pair.substr(equals + 1)));
  }
  check(happy::prometheus_sample(body, metric, labels));
  return 0;
}
