#include "auth/access_policy.hpp"

#include <mutex>

#include "auth/constant_time.hpp"

namespace happy {

namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string_view cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto end = header.find(';');
    std::string_view pair = trim(header.substr(0, end));
    header = end == std::string_view::npos ? std::string_view{} : header.substr(end + 1);
    auto equals = pair.find('=');
    if (equals == std::string_view::npos || trim(pair.substr(0, equals)) != name) continue;
    std::string_view value = trim(pair.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return value;
  }
  return {};
}

bool looks_like_jwt(std::string_view token) {
  auto first = token.find('.');
  return first != std::string_view::npos && token.find('.', first + 1) != std::string_view::npos;
}

}  // namespace

std::string_view find_presented_token(std::string_view authorization, std::string_view query_token,
                                      std::string_view cookie_header, std::string_view cookie_name) {
  authorization = trim(authorization);
  if (starts_with_ignoring_case(authorization, "bearer "))
    if (auto token = trim(authorization.substr(7)); !token.empty()) return token;
  if (!query_token.empty()) return query_token;
  if (!cookie_name.empty()) return cookie_value(cookie_header, cookie_name);
  return {};
}

access_policy::access_policy(const config& settings)
    : publish_tokens_(settings.publish_tokens),
      cookie_name_(settings.auth.cookie),
      default_access_(settings.auth.default_access) {
  if (settings.auth.jwt) verifier_.emplace(*settings.auth.jwt);
  update_topics(settings);
}

void access_policy::update_topics(const config& settings) {
  std::map<std::string, topic_access, std::less<>> next;
  for (const auto& [name, topic] : settings.topics)
    if (topic.access) next.emplace(name, *topic.access);
  std::unique_lock lock(mutex_);
  topic_access_.swap(next);
}

bool access_policy::is_protected(const std::string& topic) const {
  std::shared_lock lock(mutex_);
  auto it = topic_access_.find(topic);
  return (it == topic_access_.end() ? default_access_ : it->second) == topic_access::token;
}

caller_identity access_policy::identify(std::string_view token, std::int64_t now_ms) const {
  caller_identity caller;
  if (token.empty()) return caller;
  if (!verifier_) {
    caller.refusal = access_refusal::no_verifier;
    caller.reason = "a token was sent, but this server verifies none (no auth.jwt)";
    return caller;
  }
  auto verdict = verifier_->verify(token, now_ms);
  if (!verdict.valid()) {
    caller.refusal = access_refusal::token_invalid;
    caller.token = verdict.refusal;
    caller.reason = std::move(verdict.reason);
    return caller;
  }
  caller.grant = std::move(verdict.grant);
  return caller;
}

bool access_policy::may_read(const caller_identity& caller, const std::string& topic) const {
  if (!is_protected(topic)) return true;
  return caller.grant && caller.grant->may_read(topic);
}

access_decision access_policy::check_read(const std::string& topic, std::string_view token,
                                          std::int64_t now_ms) const {
  // An open topic ignores tokens: the original clients send none.
  if (!is_protected(topic)) return {};
  const std::string needs_token = "this topic needs a valid token: 'Authorization: Bearer <token>' or ?token=";
  if (!verifier_) return {access_refusal::no_verifier, {}, needs_token, "topic is token-protected, but no auth.jwt verifies tokens", 0};
  if (token.empty()) return {access_refusal::token_missing, {}, needs_token, "no token", 0};
  auto verdict = verifier_->verify(token, now_ms);
  if (!verdict.valid()) return {access_refusal::token_invalid, verdict.refusal, needs_token, std::move(verdict.reason), 0};
  if (!verdict.grant.may_read(topic))
    return {access_refusal::not_for_this_topic, {}, "the token does not allow reading this topic",
            "read claim does not cover the topic", 0};
  return {access_refusal::none, {}, {}, {}, verdict.grant.expires_at_ms};
}

access_decision access_policy::check_publish(const std::string& topic, std::string_view token,
                                             std::int64_t now_ms) const {
  if (!publishing_possible())
    return {access_refusal::publishing_disabled, {},
            "publishing is disabled: add a token to publish.tokens in the config or set "
            "HAPPY_PUBLISH_TOKENS (or configure auth.jwt), then send it as 'Authorization: Bearer <token>'",
            "no publish.tokens and no auth.jwt", 0};
  if (token.empty())
    return {access_refusal::token_missing, {}, "a publish token is required: 'Authorization: Bearer <token>' or ?token=",
            "no token", 0};
  bool static_match = false;
  for (const auto& candidate : publish_tokens_) static_match |= equal_in_constant_time(token, candidate);
  if (static_match) return {};
  if (!verifier_ || !looks_like_jwt(token))
    return {access_refusal::wrong_publish_token, {}, "the publish token is not valid", "not one of publish.tokens", 0};
  auto verdict = verifier_->verify(token, now_ms);
  if (!verdict.valid())
    return {access_refusal::token_invalid, verdict.refusal, "the token is not valid", std::move(verdict.reason), 0};
  if (!verdict.grant.may_publish(topic))
    return {access_refusal::not_for_this_topic, {}, "the token does not allow publishing to this topic",
            "publish claim does not cover the topic", 0};
  return {access_refusal::none, {}, {}, {}, verdict.grant.expires_at_ms};
}

}  // namespace happy
