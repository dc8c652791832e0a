#pragma once

// Decides who may read and publish which topic (README "Private topics").
// A topic is open or token-protected (topics.<name>.access, else
// auth.default_access). Reading a protected topic takes a JWT whose `read`
// claim covers it; publishing takes a publish.tokens entry or a JWT whose
// `publish` claim covers the topic. Decisions carry a reason for the log;
// answers to clients stay generic.

#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwt_verifier.hpp"
#include "auth/refusal.hpp"
#include "config/config.hpp"

namespace happy {

struct access_decision {
  access_refusal refusal = access_refusal::none;  // net/refusal_status makes it 401 or 403
  token_refusal token = token_refusal::none;      // for token_invalid: what was wrong with it
  std::string answer;              // what the client is told: generic, a how-to at most
  std::string reason;              // for the log only: the detail (never the token)
  std::int64_t expires_at_ms = 0;  // allowed by a token: when it runs out; 0: never
  bool allowed() const { return refusal == access_refusal::none; }
};

// The caller of GET /topics and the like: no token, a valid one, or a bad one.
struct caller_identity {
  access_refusal refusal = access_refusal::none;  // a token was presented and is not valid
  token_refusal token = token_refusal::none;
  std::string reason;
  bool refused() const { return refusal != access_refusal::none; }
  std::optional<token_grant> grant;
};

// The token a request carries: "Authorization: Bearer", else ?token=, else
// the cookie named `cookie_name` (when not empty). Empty when none.
std::string_view find_presented_token(std::string_view authorization, std::string_view query_token,
                                      std::string_view cookie_header, std::string_view cookie_name);

class access_policy {
 public:
  explicit access_policy(const config& settings);

  // A reload changed topics: their access follows the new file. The default
  // and the verifier stay as started (they need a restart).
  void update_topics(const config& settings);

  bool is_protected(const std::string& topic) const;
  bool publishing_possible() const { return !publish_tokens_.empty() || verifier_.has_value(); }
  const std::string& cookie_name() const { return cookie_name_; }

  access_decision check_read(const std::string& topic, std::string_view token,
                             std::int64_t now_ms) const;
  access_decision check_publish(const std::string& topic, std::string_view token,
                                std::int64_t now_ms) const;
  caller_identity identify(std::string_view token, std::int64_t now_ms) const;
  bool may_read(const caller_identity& caller, const std::string& topic) const;

 private:
  std::optional<jwt_verifier> verifier_;
  std::vector<std::string> publish_tokens_;
  std::string cookie_name_;
  topic_access default_access_;
  mutable std::shared_mutex mutex_;  // guards topic_access_ only
  std::map<std::string, topic_access, std::less<>> topic_access_;
};

}  // namespace happy
