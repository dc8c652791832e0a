#include <catch2/catch.hpp>

#include "sources/prometheus_text.hpp"

using namespace happy;

namespace {

const char* exposition = R"(# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method="get",code="200"} 1027 1395066363000
http_requests_total{method="post",code="200"} 3
http_requests_total{method="post",code="400"}    3e1
# a comment with a sample-looking text: up 5
up 1
temperature_celsius{room="a \"quoted\" name",floor="1"} 21.5
errors_ratio NaN
big_bytes +1.5e+09
bad line without value
)";

std::string sample(const std::string& metric, std::map<std::string, std::string> labels = {}) {
  auto outcome = prometheus_sample(exposition, metric, labels);
  return outcome.ok() ? outcome.reading : "failed: " + outcome.problem;
}

}  // namespace

TEST_CASE("a Prometheus sample is found by name and labels") {
  CHECK(sample("up") == "1");
  CHECK(sample("http_requests_total", {{"method", "get"}}) == "1027");
  CHECK(sample("http_requests_total", {{"method", "post"}, {"code", "400"}}) == "30");
  CHECK(sample("temperature_celsius", {{"room", "a \"quoted\" name"}}) == "21.5");
  CHECK(sample("big_bytes") == "1500000000");
}

TEST_CASE("no match, several matches and values without a JSON form are failures") {
  CHECK_THAT(sample("down"), Catch::StartsWith("failed: no sample down in the body"));
  CHECK_THAT(sample("http_requests_total", {{"method", "put"}}),
             Catch::StartsWith("failed: no sample http_requests_total{method=\"put\"}"));
  CHECK_THAT(sample("http_requests_total", {{"method", "post"}}),
             Catch::StartsWith("failed: 2 samples match") && Catch::Contains("add labels"));
  CHECK_THAT(sample("errors_ratio"), Catch::Contains("not a finite number"));
  CHECK(prometheus_sample(exposition, "down", {}).failure == source_failure::bad_output);
}

TEST_CASE("text that is not an exposition has no samples") {
  CHECK_FALSE(prometheus_sample("<html>404</html>", "up", {}).ok());
  CHECK_FALSE(prometheus_sample("", "up", {}).ok());
  CHECK_FALSE(prometheus_sample("up{job=\"x\" 1\n", "up", {}).ok());
}
