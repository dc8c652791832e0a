#include "storage/lease_bucket.hpp"

namespace happy {

namespace {

// Each bucket call waits at most this long (the client's default is 5 s):
// well inside the renew interval, so an election delays one round, no more.
constexpr std::int64_t lease_call_wait_ms = 1000;

}  // namespace

std::unique_ptr<lease_bucket> lease_bucket::open(nats_connection& link, int replicas,
                                                 std::int64_t ttl_ms, std::string& problem) {
  std::unique_ptr<lease_bucket> bucket(new lease_bucket);
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = lease_call_wait_ms;
  if (natsStatus s = natsConnection_JetStream(&bucket->js_, link.connection(), &options); s != NATS_OK) {
    problem = std::string("lease bucket: no JetStream context: ") + natsStatus_GetText(s);
    return nullptr;
  }
  kvConfig config;
  kvConfig_Init(&config);
  config.Bucket = lease_bucket_name;
  config.History = 1;
  config.TTL = ttl_ms * 1'000'000;  // nanoseconds
  config.Replicas = replicas;
  // Bind first: every node creating the bucket at once makes all but one
  // wait out JetStream's timeout. Create only when it is not there yet.
  natsStatus s = js_KeyValue(&bucket->store_, bucket->js_, lease_bucket_name);
  if (s != NATS_OK) s = js_CreateKeyValue(&bucket->store_, bucket->js_, &config);
  // Another node made it in between: use it as it is.
  if (s != NATS_OK) s = js_KeyValue(&bucket->store_, bucket->js_, lease_bucket_name);
  if (s != NATS_OK) {
    problem = std::string("lease bucket ") + lease_bucket_name + ": " + natsStatus_GetText(s);
    return nullptr;
  }
  return bucket;
}

lease_bucket::~lease_bucket() {
  if (store_) kvStore_Destroy(store_);
  if (js_) jsCtx_Destroy(js_);
}

std::uint64_t lease_bucket::hold(const std::string& key, const std::string& holder,
                                 std::uint64_t revision, std::string& problem) {
  std::uint64_t next = 0;
  const auto* data = holder.data();
  int size = static_cast<int>(holder.size());
  natsStatus s = revision == 0 ? kvStore_Create(&next, store_, key.c_str(), data, size)
                               : kvStore_Update(&next, store_, key.c_str(), data, size, revision);
  if (s == NATS_OK) return next;
  // A plain error is the bucket saying "wrong last sequence": someone else
  // holds it (or took it over after our TTL ran out). Anything else: no answer.
  if (s != NATS_ERR) problem = std::string("lease '") + key + "': " + natsStatus_GetText(s);
  return 0;
}

std::string lease_bucket::holder_of(const std::string& key) {
  kvEntry* entry = nullptr;
  if (kvStore_Get(&entry, store_, key.c_str()) != NATS_OK) return {};
  std::string holder(static_cast<const char*>(kvEntry_Value(entry)),
                     static_cast<std::size_t>(kvEntry_ValueLen(entry)));
  kvEntry_Destroy(entry);
  return holder;
}

bool lease_bucket::release(const std::string& key, const std::string& holder) {
  // Only a lease that is still ours. (Another node taking it between these
  // two calls would lose it again; its writes are fenced, so nothing doubles.)
  if (holder_of(key) != holder) return true;
  return kvStore_Delete(store_, key.c_str()) == NATS_OK;
}

}  // namespace happy
