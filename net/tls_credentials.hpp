#pragma once

// server.tls: the certificate chain and private key new TLS handshakes use.
// TLS 1.2 and 1.3 only, with forward-secret AEAD ciphers. SIGHUP re-reads the
// pair (certificate renewal) without touching open connections: each one
// keeps the context its handshake used.

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

namespace happy {

class tls_credentials {
 public:
  // A context for `cert_file` (PEM chain) and `key_file` (PEM key), or what is wrong.
  static std::variant<std::shared_ptr<boost::asio::ssl::context>, std::string> load(
      const std::string& cert_file, const std::string& key_file);

  tls_credentials(std::string cert_file, std::string key_file,
                  std::shared_ptr<boost::asio::ssl::context> first);

  std::shared_ptr<boost::asio::ssl::context> current() const;
  // Re-reads both files; on a problem the running pair stays. Returns the problem, if any.
  std::optional<std::string> reload();

 private:
  std::string cert_file_;
  std::string key_file_;
  mutable std::mutex mutex_;  // guards current_ only
  std::shared_ptr<boost::asio::ssl::context> current_;
};

}  // namespace happy
