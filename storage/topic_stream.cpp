#include "storage/topic_stream.hpp"

#include <charconv>

#include "wire/number_text.hpp"

namespace happy {

namespace {

constexpr const char* stream_prefix = "HAPPY_";
// Retries inside this window carry the same message id and are stored once.
constexpr std::int64_t duplicate_window_ns = 120'000'000'000;
// The ordered consumer notices a stalled delivery after two missed beats.
constexpr std::int64_t follower_heartbeat_ns = 1'000'000'000;

std::string failure(const char* what, natsStatus status, jsErrCode code) {
  std::string text = std::string(what) + ": " + natsStatus_GetText(status);
  if (code != 0) text += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  return text;
}

void read_report(const jsStreamInfo& info, const std::string& topic, stream_report& report) {
  report.topic = topic;
  report.first_seq = info.State.FirstSeq;
  report.last_seq = info.State.LastSeq;
  report.leader.clear();
  report.replicas.clear();
  if (!info.Cluster) return;
  if (info.Cluster->Leader) report.leader = info.Cluster->Leader;
  for (int i = 0; i < info.Cluster->ReplicasLen; ++i) {
    const jsPeerInfo* peer = info.Cluster->Replicas[i];
    if (peer) report.replicas.push_back({peer->Name ? peer->Name : "", peer->Current, peer->Lag});
  }
}

}  // namespace

std::string stream_name_of(const std::string& topic) { return stream_prefix + topic; }

std::string stream_subject_of(const std::string& topic) { return "happy.t." + topic; }

std::string topic_of_stream(const std::string& stream) {
  std::string_view prefix = stream_prefix;
  if (stream.size() <= prefix.size() || stream.compare(0, prefix.size(), prefix) != 0) return {};
  return stream.substr(prefix.size());
}

bool ensure_stream(nats_connection& link, const std::string& topic, const stream_limits& limits,
                   stream_report& report, std::string& problem) {
  std::string name = stream_name_of(topic);
  std::string subject = stream_subject_of(topic);
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Replicas = limits.replicas;
  config.Storage = js_FileStorage;
  config.Discard = js_DiscardOld;
  config.MaxMsgs = limits.max_readings ? static_cast<int64_t>(limits.max_readings) : -1;
  config.MaxAge = limits.max_age_ms * 1'000'000;  // nanoseconds
  // The window may not exceed the retention age.
  config.Duplicates = config.MaxAge > 0 && config.MaxAge < duplicate_window_ns ? config.MaxAge
                                                                                : duplicate_window_ns;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&info, link.jetstream(), &config, nullptr, &code);
  if (s == NATS_ERR && code == JSStreamNameExistErr) {
    // It exists with other limits (the config changed): take the new ones.
    code = static_cast<jsErrCode>(0);
    s = js_UpdateStream(&info, link.jetstream(), &config, nullptr, &code);
  }
  if (s != NATS_OK) {
    jsStreamInfo_Destroy(info);
    problem = failure(("stream " + name).c_str(), s, code);
    return false;
  }
  read_report(*info, topic, report);
  jsStreamInfo_Destroy(info);
  return true;
}

bool describe_stream(nats_connection& link, const std::string& topic, stream_report& report,
                     std::string& problem) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, link.jetstream(), stream_name_of(topic).c_str(), nullptr, &code);
  if (s != NATS_OK) {
    jsStreamInfo_Destroy(info);
    problem = failure(("stream " + stream_name_of(topic)).c_str(), s, code);
    return false;
  }
  read_report(*info, topic, report);
  jsStreamInfo_Destroy(info);
  return true;
}

bool list_stream_topics(nats_connection& link, std::vector<std::string>& topics, std::string& problem) {
  jsStreamNamesList* names = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_StreamNames(&names, link.jetstream(), nullptr, &code);
  if (s == NATS_NOT_FOUND) return true;  // no stream at all yet
  if (s != NATS_OK) {
    problem = failure("stream names", s, code);
    return false;
  }
  for (int i = 0; i < names->Count; ++i)
    if (auto topic = topic_of_stream(names->List[i]); !topic.empty()) topics.push_back(std::move(topic));
  jsStreamNamesList_Destroy(names);
  return true;
}

std::unique_ptr<stream_follower> stream_follower::start(nats_connection& link, const std::string& topic,
                                                        std::uint64_t from_seq, deliver_fn deliver,
                                                        std::string& problem) {
  std::unique_ptr<stream_follower> follower(new stream_follower);
  follower->delivery_ = new delivery{std::move(deliver)};
  std::string stream = stream_name_of(topic);
  jsSubOptions options;
  jsSubOptions_Init(&options);  // leaves the ack policy unset, as an ordered consumer needs
  options.Stream = stream.c_str();
  options.Ordered = true;
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = from_seq == 0 ? 1 : from_seq;
  options.Config.Heartbeat = follower_heartbeat_ns;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_Subscribe(&follower->subscription_, link.jetstream(), stream_subject_of(topic).c_str(),
                              on_message, follower->delivery_, nullptr, &options, &code);
  if (s == NATS_OK)
    s = natsSubscription_SetOnCompleteCB(follower->subscription_, on_complete, follower->delivery_);
  if (s != NATS_OK) {
    problem = failure(("following stream " + stream).c_str(), s, code);
    if (follower->subscription_) {
      natsSubscription_Destroy(follower->subscription_);
      follower->subscription_ = nullptr;
    } else {
      delete follower->delivery_;
    }
    // With a subscription, on_complete frees the delivery (or it leaks
    // only if the client never completes it, which it does on destroy).
    follower->delivery_ = nullptr;
    return nullptr;
  }
  return follower;
}

stream_follower::~stream_follower() {
  if (!subscription_) return;
  // Unsubscribe removes the ephemeral consumer; the delivery is freed by
  // on_complete once the last callback has returned.
  natsSubscription_Unsubscribe(subscription_);
  natsSubscription_Destroy(subscription_);
}

void stream_follower::on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* target = static_cast<delivery*>(closure);
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
    stream_reading reading;
    reading.seq = meta->Sequence.Stream;
    reading.accepted_ms = meta->Timestamp / 1'000'000;
    const char* accepted = nullptr;
    if (natsMsgHeader_Get(msg, accepted_at_header, &accepted) == NATS_OK && accepted) {
      // Ours, digits only; anything else (another writer) keeps the stream's own time.
      auto ms = parse_unsigned(accepted);
      if (ms && *ms > 0 && *ms <= static_cast<std::uint64_t>(INT64_MAX))
        reading.accepted_ms = static_cast<std::int64_t>(*ms);
    }
    reading.value_json.assign(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    jsMsgMetaData_Destroy(meta);
    target->deliver(std::move(reading));
  }
  natsMsg_Destroy(msg);
}

void stream_follower::on_complete(void* closure) { delete static_cast<delivery*>(closure); }

}  // namespace happy
