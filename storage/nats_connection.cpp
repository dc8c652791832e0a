#include "storage/nats_connection.hpp"

#include <chrono>
#include <vector>

namespace happy {

namespace {

// A dead or frozen server is noticed after two missed pings (about 4 s), so
// the client moves to another one well within a publish's deadline.
constexpr std::int64_t ping_interval_ms = 2000;
constexpr int max_pings_out = 2;
constexpr std::int64_t reconnect_wait_ms = 250;
constexpr std::int64_t connect_timeout_ms = 2000;
// Async publishes in flight before js_PublishMsgAsync would stall the caller
// (an actor thread): far above what the hubs' own windows let through.
constexpr int max_pending_publishes = 1 << 16;

std::string status_text(natsStatus status) {
  const char* last = nats_GetLastError(nullptr);
  std::string text = natsStatus_GetText(status);
  // The client's own text starts with "(file.c:line): ": the reason follows.
  if (last && *last) {
    std::string detail = last;
    if (auto colon = detail.find("): "); detail.front() == '(' && colon != std::string::npos)
      detail = detail.substr(colon + 3);
    text += ": " + detail;
  }
  return text;
}

// The settings' credentials and TLS, checked where the client checks them.
natsStatus apply_security(natsOptions* options, const nats_config& settings) {
  natsStatus s = NATS_OK;
  if (!settings.user.empty())
    s = natsOptions_SetUserInfo(options, settings.user.c_str(), settings.password.c_str());
  if (s == NATS_OK && !settings.token.empty()) s = natsOptions_SetToken(options, settings.token.c_str());
  if (s == NATS_OK && !settings.credentials_file.empty())
    s = natsOptions_SetUserCredentialsFromFiles(options, settings.credentials_file.c_str(), nullptr);
  if (s == NATS_OK && !settings.tls_ca_file.empty()) {
    s = natsOptions_SetSecure(options, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(options, settings.tls_ca_file.c_str());
  }
  return s;
}

}  // namespace

nats_connection::nats_connection(nats_config settings, state_change on_change)
    : settings_(std::move(settings)), on_change_(std::move(on_change)) {}

std::unique_ptr<nats_connection> nats_connection::open(const nats_config& settings,
                                                       state_change on_change, std::string& problem) {
  std::unique_ptr<nats_connection> link(new nats_connection(settings, std::move(on_change)));
  std::vector<const char*> servers;
  for (const auto& url : settings.servers) servers.push_back(url.c_str());
  natsOptions* options = nullptr;
  natsStatus s = natsOptions_Create(&options);
  link->options_ = options;
  if (s == NATS_OK) s = natsOptions_SetServers(options, servers.data(), static_cast<int>(servers.size()));
  if (s == NATS_OK) s = natsOptions_SetName(options, ("happy-dashboard " + settings.node).c_str());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options, -1);  // forever: the service outlives outages
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(options, reconnect_wait_ms);
  if (s == NATS_OK) s = natsOptions_SetTimeout(options, connect_timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetPingInterval(options, ping_interval_ms);
  if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(options, max_pings_out);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(options, on_disconnected, link.get());
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(options, on_reconnected, link.get());
  if (s == NATS_OK) s = natsOptions_SetClosedCB(options, on_closed, link.get());
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(options, on_async_error, link.get());
  if (s != NATS_OK) {
    problem = "nats: the connection settings were refused: " + status_text(s);
    return nullptr;
  }
  if (s = apply_security(options, settings); s != NATS_OK) {
    problem = "nats: the credentials or TLS settings cannot be used: " + status_text(s);
    return nullptr;
  }
  // First one plain attempt: refused credentials or a TLS mismatch end the
  // start here, with the reason; only "nobody answers" is worth waiting for.
  natsConnection* connection = nullptr;
  s = natsConnection_Connect(&connection, options);
  if (s == NATS_NO_SERVER) {
    natsStatus retry = natsOptions_SetRetryOnFailedConnect(options, true, on_connected, link.get());
    if (retry == NATS_OK) s = natsConnection_Connect(&connection, options);
    if (s == NATS_NOT_YET_CONNECTED) s = NATS_OK;  // keeps trying in the background
  } else if (s == NATS_OK) {
    link->connected_ = true;
  }
  if (s != NATS_OK) {
    natsConnection_Destroy(connection);
    problem = "nats: cannot connect to " + settings.servers.front() +
              (settings.servers.size() > 1 ? " (or the other servers)" : "") + ": " + status_text(s);
    return nullptr;
  }
  link->connection_ = connection;
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.PublishAsync.MaxPending = max_pending_publishes;
  js_options.PublishAsync.AckHandler = on_ack;
  js_options.PublishAsync.AckHandlerClosure = link.get();
  s = natsConnection_JetStream(&link->js_, connection, &js_options);
  if (s != NATS_OK) {
    problem = "nats: no JetStream context: " + status_text(s);
    return nullptr;
  }
  return link;
}

nats_connection::~nats_connection() {
  // Order matters to the client: the context before its connection.
  if (js_) jsCtx_Destroy(js_);
  if (connection_) {
    // Callbacks come in order on the client's thread, the closed one last:
    // once it ran, none will touch this object any more.
    {
      std::lock_guard lock(closed_mutex_);
      closing_ = true;
    }
    natsConnection_Close(connection_);
    std::unique_lock lock(closed_mutex_);
    closed_changed_.wait_for(lock, std::chrono::seconds(5), [this] { return closed_; });
    lock.unlock();
    natsConnection_Destroy(connection_);
  }
  if (options_) natsOptions_Destroy(options_);
  // Whatever never got an answer gets one now, so no promise dangles.
  std::unordered_map<const natsMsg*, publish_done> left;
  {
    std::lock_guard lock(pending_mutex_);
    left.swap(pending_);
  }
  for (auto& entry : left) entry.second({false, 0, false, true, false, "the service is stopping"});
}

std::string nats_connection::connected_url() const {
  char url[256] = {0};
  if (!connection_ || natsConnection_GetConnectedUrl(connection_, url, sizeof url) != NATS_OK) return {};
  return url;
}

void nats_connection::publish(const std::string& subject, std::string_view data,
                              const std::string& message_id, std::int64_t accepted_ms,
                              std::uint64_t expect_last_seq, std::int64_t max_wait_ms,
                              publish_done done) {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, data.data(), static_cast<int>(data.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(msg, accepted_at_header, std::to_string(accepted_ms).c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(msg);
    return done({false, 0, false, false, false, "cannot build the message: " + status_text(s)});
  }
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = message_id.c_str();
  options.ExpectLastSeq = expect_last_seq;
  // Without MaxWait a lost ack would leave the publish pending forever.
  options.MaxWait = max_wait_ms;
  {
    // Before the call: the ack may arrive before it returns.
    std::lock_guard lock(pending_mutex_);
    pending_.emplace(msg, std::move(done));
  }
  s = js_PublishMsgAsync(js_, &msg, &options);
  if (s == NATS_OK) return;  // the client owns msg now; on_ack answers
  publish_done failed;
  {
    std::lock_guard lock(pending_mutex_);
    auto it = pending_.find(msg);
    failed = std::move(it->second);
    pending_.erase(it);
  }
  natsMsg_Destroy(msg);
  failed({false, 0, false, true, false, "not sent: " + status_text(s)});
}

void nats_connection::on_ack(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* failure,
                             void* closure) {
  auto* self = static_cast<nats_connection*>(closure);
  publish_done done;
  {
    // Erase before the message is destroyed: its address may be reused at once.
    std::lock_guard lock(self->pending_mutex_);
    auto it = self->pending_.find(msg);
    if (it != self->pending_.end()) {
      done = std::move(it->second);
      self->pending_.erase(it);
    }
  }
  natsMsg_Destroy(msg);  // with an ack handler the message is ours
  if (!done) return;
  if (ack) return done({true, ack->Sequence, ack->Duplicate, false, false, {}});
  publish_outcome outcome;
  natsStatus status = failure ? failure->Err : NATS_ERR;
  jsErrCode code = failure ? failure->ErrCode : static_cast<jsErrCode>(0);
  outcome.sequence_moved = code == JSStreamWrongLastSequenceErr;
  // No answer in time, or no stream leader to answer (during an election).
  outcome.retryable = status == NATS_TIMEOUT || status == NATS_NO_RESPONDERS;
  outcome.error = std::string(natsStatus_GetText(status));
  if (failure && failure->ErrText && *failure->ErrText) outcome.error += ": " + std::string(failure->ErrText);
  done(std::move(outcome));
}

std::string nats_connection::last_complaint() const {
  std::lock_guard lock(error_mutex_);
  return last_error_;
}

std::string nats_connection::unavailable_reason() const {
  std::string complaint = last_complaint();
  if (closed_for_good_)
    return "the NATS client gave up" + (complaint.empty() ? std::string{} : " after: " + complaint) +
           "; this node connects again only after a restart";
  if (!complaint.empty()) return "NATS answers but refuses: " + complaint;
  return "no NATS server answers; publishes are refused until one does";
}

void nats_connection::remember_error(natsConnection* connection, natsStatus status) {
  const char* text = nullptr;
  std::string complaint = natsStatus_GetText(status);
  if (connection && natsConnection_GetLastError(connection, &text) != NATS_OK && text && *text)
    complaint = text;
  std::lock_guard lock(error_mutex_);
  last_error_ = std::move(complaint);
}

void nats_connection::on_async_error(natsConnection* connection, natsSubscription*, natsStatus status,
                                     void* closure) {
  auto* self = static_cast<nats_connection*>(closure);
  // Slow-consumer reports name a subscription: the ordered consumers recover
  // from those by themselves. The rest are the servers' complaints.
  if (status == NATS_SLOW_CONSUMER) return;
  self->remember_error(connection, status);
  if (!self->on_change_) return;
  if (self->connected_)
    self->on_change_(true, "the server reported: " + self->last_complaint());
  else
    self->on_change_(false, self->unavailable_reason());
}

void nats_connection::on_disconnected(natsConnection*, void* closure) {
  auto* self = static_cast<nats_connection*>(closure);
  ++self->disconnects;
  self->connected_ = false;
  {
    std::lock_guard lock(self->closed_mutex_);
    if (self->closing_) return;  // this node is stopping: not a loss worth a word
  }
  if (self->on_change_) self->on_change_(false, self->unavailable_reason());
}

void nats_connection::on_reconnected(natsConnection*, void* closure) {
  auto* self = static_cast<nats_connection*>(closure);
  ++self->reconnects;
  self->connected_ = true;
  {
    std::lock_guard lock(self->error_mutex_);
    self->last_error_.clear();
  }
  if (self->on_change_) self->on_change_(true, {});
}

void nats_connection::on_closed(natsConnection* connection, void* closure) {
  auto* self = static_cast<nats_connection*>(closure);
  bool ours;
  {
    std::lock_guard lock(self->closed_mutex_);
    ours = self->closing_;
  }
  if (!ours) {
    // The client gave up (it does after two refusals of the credentials in
    // a row): say so, with the servers' reason, instead of going quiet.
    self->connected_ = false;
    if (connection) {
      const char* text = nullptr;
      if (natsConnection_GetLastError(connection, &text) != NATS_OK && text && *text) {
        std::lock_guard lock(self->error_mutex_);
        self->last_error_ = text;
      }
    }
    self->closed_for_good_ = true;
    if (self->on_change_) self->on_change_(false, self->unavailable_reason());
  }
  {
    std::lock_guard lock(self->closed_mutex_);
    self->closed_ = true;
  }
  self->closed_changed_.notify_all();
}

void nats_connection::on_connected(natsConnection*, void* closure) {
  auto* self = static_cast<nats_connection*>(closure);
  self->connected_ = true;
  {
    std::lock_guard lock(self->error_mutex_);
    self->last_error_.clear();
  }
  if (self->on_change_) self->on_change_(true, {});
}

}  // namespace happy
