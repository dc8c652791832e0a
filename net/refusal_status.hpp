#pragma once

// The one place where the reasons lower layers give for a refusal become
// HTTP: statuses for auth/ and wire/ refusals, and the reason /metrics counts
// a refused publish under.

#include <ostream>  // before Beast's status.hpp, whose string_view (Boost 1.81) needs it

#include <boost/beast/http/status.hpp>

#include "auth/refusal.hpp"
#include "net/service_metrics.hpp"
#include "wire/reading_check.hpp"

namespace happy {

// 401 when a (valid) token would let the request in, 403 when no token can
// or this one does not.
boost::beast::http::status http_status_of(access_refusal why);
// A body that is not one acceptable JSON value: 400.
boost::beast::http::status http_status_of(reading_refusal why);

publish_rejection rejection_of(access_refusal why);
publish_rejection rejection_of(reading_refusal why);

}  // namespace happy
