#include "auth/token_segments.hpp"

#include <openssl/evp.h>

#include <set>

namespace happy {

namespace {

// Names must be distinct within each object, however deep.
bool has_duplicate_keys(const rapidjson::Value& value) {
  if (value.IsArray()) {
    for (const auto& item : value.GetArray())
      if (has_duplicate_keys(item)) return true;
    return false;
  }
  if (!value.IsObject()) return false;
  std::set<std::string_view> names;
  for (const auto& member : value.GetObject()) {
    if (!names.emplace(member.name.GetString(), member.name.GetStringLength()).second) return true;
    if (has_duplicate_keys(member.value)) return true;
  }
  return false;
}

std::string_view segment(std::string_view token, int index) {
  for (int i = 0; i < index; ++i) {
    auto dot = token.find('.');
    if (dot == std::string_view::npos) return {};
    token.remove_prefix(dot + 1);
  }
  return token.substr(0, token.find('.'));
}

}  // namespace

bool decode_base64url(std::string_view segment, std::string& out) {
  // A remainder of 1 character cannot come from any byte string.
  if (segment.size() % 4 == 1) return false;
  std::string standard(segment);
  for (char& c : standard) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/' || c == '=') return false;
  }
  std::size_t padding = (4 - standard.size() % 4) % 4;
  standard.append(padding, '=');
  out.assign(standard.size() / 4 * 3, '\0');
  int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(standard.data()),
                                static_cast<int>(standard.size()));
  if (written < 0) return false;
  // EVP_DecodeBlock counts the padding's zero bytes too.
  out.resize(static_cast<std::size_t>(written) - padding);
  return true;
}

bool parse_strict_object(std::string_view json, rapidjson::Document& out, std::string& problem) {
  // Iterative parsing: a deeply nested header cannot exhaust the stack.
  out.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (out.HasParseError() || !out.IsObject()) {
    problem = "not a JSON object";
    return false;
  }
  if (has_duplicate_keys(out)) {
    problem = "a key appears twice";
    return false;
  }
  return true;
}

std::string check_token_header(std::string_view token, std::string_view expected_alg) {
  std::string json, problem;
  rapidjson::Document header;
  if (!decode_base64url(segment(token, 0), json)) return "header is not base64url";
  if (!parse_strict_object(json, header, problem)) return "header: " + problem;
  auto alg = header.FindMember("alg");
  if (alg == header.MemberEnd() || !alg->value.IsString() ||
      std::string_view(alg->value.GetString(), alg->value.GetStringLength()) != expected_alg)
    return "header 'alg' is not " + std::string(expected_alg);
  if (header.HasMember("crit")) return "header has 'crit': no extension is understood here";
  return {};
}

bool read_token_claims(std::string_view token, rapidjson::Document& out, std::string& problem) {
  std::string json;
  if (!decode_base64url(segment(token, 1), json)) {
    problem = "claims are not base64url";
    return false;
  }
  if (!parse_strict_object(json, out, problem)) {
    problem = "claims: " + problem;
    return false;
  }
  return true;
}

}  // namespace happy
