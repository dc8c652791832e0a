#include "net/history_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace happy {

namespace {

template <class Writer>
void write_stats(Writer& w, const history_field& f) {
  w.Key("min");
  w.Double(f.min);
  w.Key("avg");
  w.Double(f.avg);
  w.Key("max");
  w.Double(f.max);
}

}  // namespace

std::string history_json(const history_series& series) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("topic");
  w.String(series.topic.c_str());
  w.Key("from");
  w.Int64(series.from);
  w.Key("to");
  w.Int64(series.to);
  w.Key("bucket_ms");
  w.Int64(series.bucket_ms);
  w.Key("buckets");
  w.StartArray();
  for (const auto& b : series.buckets) {
    w.StartObject();
    w.Key("time");
    w.Int64(b.time);
    w.Key("count");
    w.Uint64(b.count);
    bool has_members = false;
    for (const auto& f : b.fields) {
      if (f.name.empty())
        write_stats(w, f);
      else
        has_members = true;
    }
    if (has_members) {
      w.Key("fields");
      w.StartObject();
      for (const auto& f : b.fields) {
        if (f.name.empty()) continue;
        w.Key(f.name.c_str(), static_cast<rapidjson::SizeType>(f.name.size()));
        w.StartObject();
        write_stats(w, f);
        w.Key("count");
        w.Uint64(f.count);
        w.EndObject();
      }
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buffer.GetString();
}

}  // namespace happy
