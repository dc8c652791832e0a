#include "net/route.hpp"

#include <boost/url/encoding_opts.hpp>
#include <boost/url/param.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "config/topic_name.hpp"
#include "wire/number_text.hpp"
#include "wire/text_excerpt.hpp"

namespace happy {

namespace {

route bad_request(std::string why) {
  route r;
  r.what = route::kind::bad_request;
  r.error = std::move(why);
  return r;
}

// Calls visit(key, value) for every key=value pair of the query, both
// percent-decoded ('+' stays a plus: this is not a form body).
template <class Visit>
void for_each_parameter(const boost::urls::url_view& target, Visit&& visit) {
  for (auto param : target.params(boost::urls::encoding_opts{false}))
    visit(std::string_view(param.key), std::string_view(param.value));
}

// A query value or target in an error message.
std::string quoted(std::string_view text) { return "'" + excerpt(text, 40) + "'"; }


// Paths that name one thing, whatever the query says.
struct fixed_path {
  std::string_view path;
  route::kind what;
};
constexpr fixed_path fixed_paths[] = {
    {"/", route::kind::index},           {"/index.html", route::kind::index},
    {"/healthz", route::kind::health},   {"/readyz", route::kind::ready},
    {"/metrics", route::kind::metrics},  {"/cluster", route::kind::cluster},
    {"/api/auth", route::kind::auth_info},
    // With a token, the protected topics it reads too.
    {"/topics", route::kind::topic_list}, {"/topics/", route::kind::topic_list},
};

// GET /topics/<name>/history?from=&to=&points=
route history_route(std::string_view name, const boost::urls::url_view& url, route r) {
  r.what = route::kind::history;
  r.topic = std::string(name);
  std::string problem;
  for_each_parameter(url, [&](std::string_view key, std::string_view value) {
    if (!problem.empty()) return;
    if (key != "from" && key != "to" && key != "points") return;
    std::uint64_t number = parse_unsigned(value).value_or(0);
    if (key == "points") {
      if (number == 0 || number > max_history_points)
        problem = "invalid query parameter 'points': expected 1 to " + std::to_string(max_history_points) +
                  ", got " + quoted(value);
      r.points = static_cast<std::uint32_t>(number);
      return;
    }
    // Unix milliseconds: up to the year 2286 fits 13 digits.
    if (number == 0 || number >= 10'000'000'000'000ull) {
      problem = "invalid query parameter '" + std::string(key) + "': expected Unix time in milliseconds, got " +
                quoted(value);
      return;
    }
    (key == "from" ? r.from_ms : r.to_ms) = static_cast<std::int64_t>(number);
  });
  if (problem.empty() && r.from_ms && r.to_ms && r.from_ms >= r.to_ms) problem = "'from' must be before 'to'";
  return problem.empty() ? r : bad_request(problem);
}

// /topics/<name>/publish?ack=1&keyed=1 (a WebSocket publisher)
route publisher_route(std::string_view name, const boost::urls::url_view& url, route r) {
  r.what = route::kind::publisher;
  r.topic = std::string(name);
  for_each_parameter(url, [&](std::string_view key, std::string_view value) {
    if (key == "ack") r.ack = value == "1" || value == "true";
    if (key == "keyed") r.keyed = value == "1" || value == "true";
  });
  return r;
}

// /topics/<name> or /<name>?since=|last=&poll=&timeout=
route topic_route(std::string_view name, const boost::urls::url_view& url, route r) {
  r.what = route::kind::topic;
  r.topic = std::string(name);
  bool has_since = false, has_last = false;
  std::string problem;
  for_each_parameter(url, [&](std::string_view key, std::string_view value) {
    if (!problem.empty()) return;
    if (key == "poll") {
      if (value != "1" && value != "0" && value != "true" && value != "false")
        problem = "invalid query parameter 'poll': expected 1 or 0, got " + quoted(value);
      r.poll = value == "1" || value == "true";
      return;
    }
    if (key == "timeout") {
      auto seconds = parse_unsigned(value);
      if (!seconds || *seconds > 60)
        problem = "invalid query parameter 'timeout': expected seconds from 0 to 60, got " + quoted(value);
      r.poll_timeout_s = seconds.value_or(0);
      return;
    }
    if (key != "since" && key != "last") return;
    auto number = parse_unsigned(value);
    if (!number) {
      problem = "invalid query parameter '" + std::string(key) + "': expected an unsigned 64-bit integer, got " +
                quoted(value);
      return;
    }
    (key == "since" ? has_since : has_last) = true;
    r.replay = key == "since" ? replay_request::since(*number) : replay_request::last(*number);
  });
  if (!problem.empty()) return bad_request(problem);
  if (has_since && has_last) return bad_request("use either 'since' or 'last', not both");
  return r;
}

// Routes under /topics/<name>/<suffix>.
struct topic_suffix {
  std::string_view suffix;
  route (*make)(std::string_view name, const boost::urls::url_view& url, route r);
};
constexpr topic_suffix topic_suffixes[] = {{"/history", history_route}, {"/publish", publisher_route}};

}  // namespace


route parse_route(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed)
    return bad_request("invalid request target " + quoted(target) + ": " + parsed.error().message());
  const auto& url = *parsed;
  // Segments are decoded one by one, so an encoded '/' would join two of
  // them ("/topics%2Fsecret" read as "/topics/secret") behind a proxy that
  // filters on the raw path. No name here contains '/': refuse it.
  for (auto raw : url.encoded_segments())
    if (raw.find("%2F") != std::string_view::npos || raw.find("%2f") != std::string_view::npos)
      return bad_request("an encoded '/' (%2F) inside a path segment is not allowed: " + quoted(target));
  const std::string decoded_path = url.path();
  std::string_view path = decoded_path;

  route r;
  // Wherever access is checked the token may come as ?token=: browsers cannot
  // set headers on a WebSocket or an EventSource. Other routes ignore it.
  for_each_parameter(url, [&](std::string_view key, std::string_view value) {
    if (key == "token") r.token = std::string(value);
  });
  for (const auto& fixed : fixed_paths)
    if (path == fixed.path) {
      r.what = fixed.what;
      return r;
    }
  if (path == "/favicon.ico" || path.substr(0, 8) == "/assets/") {
    r.what = route::kind::asset;
    // Browsers ask for the icon on JSON pages too.
    r.asset = path == "/favicon.ico" ? "favicon.svg" : std::string(path.substr(8));
    return r;
  }
  constexpr std::string_view topics = "/topics/";
  bool under_topics = path.substr(0, topics.size()) == topics;
  for (const auto& [suffix, make] : topic_suffixes)
    if (under_topics && path.size() > topics.size() + suffix.size() &&
        path.substr(path.size() - suffix.size()) == suffix) {
      auto name = path.substr(topics.size(), path.size() - topics.size() - suffix.size());
      return is_valid_topic_name(name) ? make(name, url, std::move(r)) : r;  // else not_found
    }
  std::string_view name = under_topics ? path.substr(topics.size())
                                       : path.size() > 1 && path[0] == '/' ? path.substr(1) : std::string_view{};
  if (name.empty() || !is_valid_topic_name(name)) return r;  // not_found
  return topic_route(name, url, std::move(r));
}

}  // namespace happy
