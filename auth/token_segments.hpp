#pragma once

// Reads a JWT's header and claims from its own bytes, strictly, before and
// after libjwt checks the signature. libjwt (through jansson) keeps the last
// of two equal keys and compares `alg` without case, so a token it accepts
// may say something else to a stricter reader; this is the one reading the
// service acts on (RFC 7515 §4, RFC 7519 §4).

#include <rapidjson/document.h>

#include <string>
#include <string_view>

namespace happy {

// Decodes one base64url segment (no padding, RFC 7515 §2); false on anything else.
bool decode_base64url(std::string_view segment, std::string& out);

// Parses `json` as one JSON object whose members (at every level) have
// distinct names; otherwise false with `problem` saying why.
bool parse_strict_object(std::string_view json, rapidjson::Document& out, std::string& problem);

// The token's header, checked: a JSON object with distinct keys, `alg` equal
// to `expected_alg` to the letter, and no `crit` (this service understands no
// extension, so RFC 7515 §4.1.11 says refuse). Empty when fine, else why not.
std::string check_token_header(std::string_view token, std::string_view expected_alg);

// The token's claims (second segment) as a strict JSON object.
bool read_token_claims(std::string_view token, rapidjson::Document& out, std::string& problem);

}  // namespace happy
