#include <catch2/catch.hpp>

#include "net/route.hpp"

using namespace happy;

TEST_CASE("topic URLs: /topics/<name> and the /<name> alias") {
  for (auto target : {"/happiness", "/topics/happiness"}) {
    auto r = parse_route(target);
    CHECK(r.what == route::kind::topic);
    CHECK(r.topic == "happiness");
    CHECK(r.replay.kind == replay_request::mode::none);
  }
}

TEST_CASE("fixed endpoints") {
  CHECK(parse_route("/").what == route::kind::index);
  CHECK(parse_route("/topics").what == route::kind::topic_list);
  CHECK(parse_route("/topics?x=1").what == route::kind::topic_list);
  CHECK(parse_route("/healthz").what == route::kind::health);
  CHECK(parse_route("/readyz").what == route::kind::ready);
  CHECK(parse_route("/metrics").what == route::kind::metrics);
}

TEST_CASE("page assets and the favicon") {
  auto a = parse_route("/assets/app.js?v=2");
  CHECK(a.what == route::kind::asset);
  CHECK(a.asset == "app.js");
  CHECK(parse_route("/favicon.ico").asset == "favicon.svg");
  CHECK(parse_route("/?topics=a,b").what == route::kind::index);
}

TEST_CASE("a token may come in the query") {
  CHECK(parse_route("/topics/t?token=secret-1").token == "secret-1");
}

TEST_CASE("paths that are no topic are not found") {
  for (auto target : {"/robots.txt", "/a/b", "/topics/a/b", "/Happy", "/metrics", "//", "/topics/"})
    CHECK(parse_route(target).what != route::kind::topic);
  CHECK(parse_route("/robots.txt").what == route::kind::not_found);
}

TEST_CASE("targets are percent-decoded, path and query") {
  auto since = parse_route("/topics/%68appiness?since=%34%32");
  CHECK(since.what == route::kind::topic);
  CHECK(since.topic == "happiness");
  CHECK(since.replay.kind == replay_request::mode::since);
  CHECK(since.replay.value == 42);
  CHECK(parse_route("/topics/t?token=a%2Bb%2Fc").token == "a+b/c");
  CHECK(parse_route("/topics/t?token=a+b").token == "a+b");  // a plus is a plus, not a space
  CHECK(parse_route("/happiness?since=%2D1").what == route::kind::bad_request);
  // In the query an encoded slash is data.
  CHECK(parse_route("/topics/t?token=a%2Fb").what == route::kind::topic);
}

TEST_CASE("an encoded slash inside a path segment is refused, not routed") {
  // "/topics%2Fsecret" must not reach /topics/secret past a proxy that filters on the raw path.
  for (auto target : {"/topics%2Fsecret", "/topics%2fsecret", "/topics/a%2Fb", "/%2F",
                      "/topics/x%2F/history", "/topics/t%2Fpublish", "/metrics%2F"}) {
    auto r = parse_route(target);
    CHECK(r.what == route::kind::bad_request);
    CHECK_THAT(r.error, Catch::Contains("%2F"));
  }
}

TEST_CASE("a target that is not a valid origin-form is a bad request") {
  for (auto target : {"/happiness?since=%3", "/hap%zzpiness", "happiness", "/a b", "*"}) {
    auto r = parse_route(target);
    CHECK(r.what == route::kind::bad_request);
    CHECK_THAT(r.error, Catch::StartsWith("invalid request target"));
  }
}

TEST_CASE("since and last are parsed, other parameters are ignored") {
  auto since = parse_route("/happiness?since=42&cachebust=7");
  CHECK(since.replay.kind == replay_request::mode::since);
  CHECK(since.replay.value == 42);
  auto last = parse_route("/topics/happiness?last=5");
  CHECK(last.replay.kind == replay_request::mode::last);
  CHECK(last.replay.value == 5);
  CHECK(parse_route("/happiness?since=18446744073709551615").replay.value ==
        18446744073709551615ull);
}

TEST_CASE("invalid query values are a bad request with a reason") {
  auto negative = parse_route("/happiness?since=-1");
  CHECK(negative.what == route::kind::bad_request);
  CHECK(negative.error ==
        "invalid query parameter 'since': expected an unsigned 64-bit integer, got '-1'");
  CHECK(parse_route("/happiness?last=abc").what == route::kind::bad_request);
  CHECK(parse_route("/happiness?last=").what == route::kind::bad_request);
  CHECK(parse_route("/happiness?since=18446744073709551616").what == route::kind::bad_request);
  CHECK(parse_route("/happiness?since=1&last=2").error == "use either 'since' or 'last', not both");
}

TEST_CASE("long-poll parameters") {
  auto r = parse_route("/happiness?poll=1&since=4&timeout=5");
  CHECK(r.poll);
  CHECK(r.poll_timeout_s == 5);
  CHECK(r.replay.value == 4);
  CHECK(parse_route("/happiness?poll=1").poll_timeout_s == 25);
  CHECK(parse_route("/happiness?poll=1&timeout=61").what == route::kind::bad_request);
  CHECK(parse_route("/happiness?poll=yes").what == route::kind::bad_request);
}

TEST_CASE("the WebSocket publisher endpoint") {
  auto r = parse_route("/topics/orders/publish?token=abc&ack=1");
  CHECK(r.what == route::kind::publisher);
  CHECK(r.topic == "orders");
  CHECK(r.token == "abc");
  CHECK(r.ack);
  CHECK(parse_route("/topics/metrics/publish").what == route::kind::not_found);
  CHECK(parse_route("/orders/publish").what == route::kind::not_found);
}


TEST_CASE("history: window and points, each checked") {
  auto r = parse_route("/topics/sales/history?from=1700000000000&to=1700003600000&points=100");
  CHECK(r.what == route::kind::history);
  CHECK(r.topic == "sales");
  CHECK(r.from_ms == 1700000000000);
  CHECK(r.to_ms == 1700003600000);
  CHECK(r.points == 100);
  auto defaults = parse_route("/topics/sales/history");
  CHECK(defaults.what == route::kind::history);
  CHECK(defaults.from_ms == 0);
  CHECK(defaults.points == 500);
  for (const char* bad : {"/topics/s/history?points=0", "/topics/s/history?points=2001",
                          "/topics/s/history?from=-5", "/topics/s/history?to=abc",
                          "/topics/s/history?from=20&to=10"}) {
    auto refused = parse_route(bad);
    CHECK(refused.what == route::kind::bad_request);
    CHECK_FALSE(refused.error.empty());
  }
  CHECK(parse_route("/topics/s/history?points=2001").error ==
        "invalid query parameter 'points': expected 1 to 2000, got '2001'");
}
