#pragma once

// Raised while converting an already schema-valid config document: a rule the
// schema cannot say was broken at `pointer`.

#include <string>

namespace happy {

struct rule_violation {
  std::string pointer;  // JSON Pointer into the document, e.g. /topics/x/source
  std::string problem;  // what was expected and what was found
};

}  // namespace happy
