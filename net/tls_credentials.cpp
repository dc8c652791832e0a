#include "net/tls_credentials.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>

namespace happy {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites with forward secrecy and AEAD (Mozilla's "intermediate"
// list); TLS 1.3 suites are OpenSSL's defaults, all of them modern.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

std::string openssl_reason(const boost::system::error_code& ec) {
  std::string text = ec.message();
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    char buffer[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buffer, sizeof buffer);
    text = buffer;
  }
  return text;
}

// What OpenSSL's error queue holds, oldest first; the queue is left empty.
std::string openssl_error_queue() {
  std::string text;
  char buffer[256];
  while (unsigned long code = ERR_get_error()) {
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "no reason given" : text;
}

}  // namespace

std::variant<std::shared_ptr<ssl::context>, std::string> tls_credentials::load(
    const std::string& cert_file, const std::string& key_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  if (ec) return "server.tls: OpenSSL refused the protocol options: " + openssl_reason(ec);
  SSL_CTX* native = context->native_handle();
  // An OpenSSL that refuses these (a stricter system policy) must not serve
  // with weaker settings than the README promises: the start stops instead.
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1)
    return "server.tls: OpenSSL refused TLS 1.2 as the oldest version: " + openssl_error_queue();
  if (SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1)
    return std::string("server.tls: OpenSSL refused the TLS 1.2 cipher list '") + tls12_ciphers +
           "': " + openssl_error_queue();
  const auto wanted = static_cast<std::uint64_t>(SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  if ((static_cast<std::uint64_t>(SSL_CTX_set_options(native, wanted)) & wanted) != wanted)
    return "server.tls: OpenSSL refused server cipher preference and no renegotiation";
  // An idle dashboard connection gives its ~34 KB of record buffers back between reads.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) return "server.tls.cert_file '" + cert_file + "': " + openssl_reason(ec) +
                 " (expected a PEM certificate chain)";
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec && ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH)
    return "server.tls.key_file '" + key_file + "' does not belong to the certificate in '" +
           cert_file + "'";
  if (ec) return "server.tls.key_file '" + key_file + "': " + openssl_reason(ec) +
                 " (expected a PEM private key)";
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return "server.tls.key_file '" + key_file + "' does not belong to the certificate in '" +
           cert_file + "'";
  }
  return context;
}

tls_credentials::tls_credentials(std::string cert_file, std::string key_file,
                                 std::shared_ptr<ssl::context> first)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), current_(std::move(first)) {}

std::shared_ptr<ssl::context> tls_credentials::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::optional<std::string> tls_credentials::reload() {
  auto loaded = load(cert_file_, key_file_);
  if (auto* problem = std::get_if<std::string>(&loaded)) return *problem;
  std::lock_guard lock(mutex_);
  current_ = std::move(std::get<0>(loaded));
  return std::nullopt;
}

}  // namespace happy
