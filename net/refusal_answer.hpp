#pragma once

// How a refused subscription reads over HTTP: the session actor says why in
// facts (subscribe_refusal); this gives the status and the JSON body.

#include <functional>
#include <string>

#include "wire/vocabulary.hpp"

namespace happy {

struct refusal_answer {
  unsigned status = 0;
  std::string json_body;
};

// Unknown topic: 404 with the topics that exist and `may_read` lets through,
// so a caller learns no name of a topic it may not read. Shutting down: 503.
refusal_answer answer_for(const subscribe_refusal& why,
                          const std::function<bool(const std::string&)>& may_read);

}  // namespace happy
