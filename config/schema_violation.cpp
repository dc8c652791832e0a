#include "config/schema_violation.hpp"

#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

using rapidjson::Value;

std::string json_text(const Value& v, std::size_t max_chars) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  std::string text = buffer.GetString();
  if (text.size() > max_chars) text = text.substr(0, max_chars) + "...";
  return text;
}

std::string join_keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

namespace {

std::string type_name(const Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsInt64() || v.IsUint64()) return "an integer";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an array";
  return "an object";
}

std::string expected_types(const Value& type) {
  auto article = [](const std::string& t) {
    if (t == "integer" || t == "array" || t == "object") return "an " + t;
    return "a " + t;
  };
  if (type.IsString()) return article(type.GetString());
  std::vector<std::string> names;
  for (const auto& t : type.GetArray()) names.push_back(article(t.GetString()));
  return join_keys(names);
}

std::string number_text(const Value& v) { return json_text(v); }

// Turns RapidJSON's (schema keyword, schema node, document node) into a sentence.
std::string describe_violation(const std::string& keyword, const Value& rule, const Value& found) {
  if (keyword == "type")
    return "expected " + expected_types(rule["type"]) + ", got " + type_name(found) + " " +
           json_text(found);
  if (keyword == "minimum")
    return "expected a number >= " + number_text(rule["minimum"]) + ", got " + json_text(found);
  if (keyword == "maximum")
    return "expected a number <= " + number_text(rule["maximum"]) + ", got " + json_text(found);
  if (keyword == "enum") {
    std::vector<std::string> choices;
    for (const auto& c : rule["enum"].GetArray()) choices.push_back(json_text(c));
    return "expected one of " + join_keys(choices) + ", got " + json_text(found);
  }
  // The rule's own words, where the schema gives them (patterns, choices of shape).
  if (rule.HasMember("description") && rule["description"].IsString() &&
      (keyword == "pattern" || keyword == "oneOf" || keyword == "anyOf"))
    return std::string("expected ") + rule["description"].GetString() + ", got " + json_text(found);
  if (keyword == "pattern")
    return std::string("expected a string matching ") + rule["pattern"].GetString() + ", got " +
           json_text(found);
  if (keyword == "minLength") {
    auto least = rule["minLength"].GetUint64();
    return (least == 1 ? std::string("expected a non-empty string")
                       : "expected a string of at least " + std::to_string(least) + " characters") +
           ", got " + json_text(found);
  }
  if (keyword == "maxLength" && found.IsString())
    return "expected a string of at most " + number_text(rule["maxLength"]) + " characters, got " +
           std::to_string(found.GetStringLength());
  if (keyword == "minItems")
    return "expected at least " + number_text(rule["minItems"]) + " item(s), got " + json_text(found);
  if (keyword == "maxItems" && found.IsArray())
    return "expected at most " + number_text(rule["maxItems"]) + " item(s), got " +
           std::to_string(found.Size());
  if (keyword == "required" && found.IsObject()) {
    std::vector<std::string> missing;
    for (const auto& r : rule["required"].GetArray())
      if (!found.HasMember(r)) missing.push_back(std::string("'") + r.GetString() + "'");
    return "missing required key " + join_keys(missing);
  }
  return "does not satisfy the schema rule '" + keyword + "' (" + json_text(rule) + "), got " +
         json_text(found);
}

std::string pointer_text(const rapidjson::Pointer& pointer) {
  rapidjson::StringBuffer buffer;
  pointer.Stringify(buffer);
  std::string text = buffer.GetString();
  return text.empty() ? "/" : text;
}

}  // namespace

schema_failure describe_schema_failure(const rapidjson::SchemaValidator& validator,
                                       const Value& schema_root, const Value& document) {
  const Value* rule = validator.GetInvalidSchemaPointer().Get(schema_root);
  rapidjson::Pointer where = validator.GetInvalidDocumentPointer();
  std::string keyword = validator.GetInvalidSchemaKeyword();
  if (keyword == "additionalProperties" && where.GetTokenCount() > 0) {
    // RapidJSON points at the unexpected member; report it at its object.
    const auto& last = where.GetTokens()[where.GetTokenCount() - 1];
    std::string key(last.name, last.length);
    rapidjson::Pointer parent(where.GetTokens(), where.GetTokenCount() - 1);
    std::vector<std::string> allowed;
    if (rule && rule->HasMember("properties"))
      for (auto it = (*rule)["properties"].MemberBegin(); it != (*rule)["properties"].MemberEnd(); ++it)
        allowed.emplace_back(it->name.GetString());
    return {pointer_text(parent), "unknown key '" + key + "'" +
                                      (allowed.empty() ? "" : " (allowed: " + join_keys(allowed) + ")")};
  }
  const Value* found = where.Get(document);
  std::string problem = (rule && found) ? describe_violation(keyword, *rule, *found)
                                        : "violates the schema rule '" + keyword + "'";
  return {pointer_text(where), problem};
}

}  // namespace happy
