#include "net/content_security_policy.hpp"

#include <boost/url/parse.hpp>

namespace happy {

std::string content_security_policy(const std::string& token_url) {
  std::string connect = "'self'";
  // An absolute token URL names another origin the page must be allowed to fetch from.
  if (auto url = boost::urls::parse_absolute_uri(token_url); url && url->has_authority() &&
                                                             (url->scheme() == "https" || url->scheme() == "http"))
    connect += " " + std::string(url->scheme()) + "://" + std::string(url->encoded_host_and_port());
  return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "font-src 'self'; connect-src " + connect +
         "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

}  // namespace happy
