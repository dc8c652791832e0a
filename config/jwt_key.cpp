#include "config/jwt_key.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace happy {

namespace {

constexpr std::size_t max_key_file_bytes = 64 * 1024;
constexpr int min_rsa_bits = 2048;

struct pkey_free {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct bio_free {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

// Empty when `pem` is a public key fit for `algorithm`, otherwise why not.
std::string public_key_problem(const std::string& pem, jwt_algorithm algorithm) {
  std::unique_ptr<BIO, bio_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, pkey_free> key(
      bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key)
    return "expected a PEM public key (-----BEGIN PUBLIC KEY-----); this file is not one "
           "(a private key or certificate does not do)";
  int type = EVP_PKEY_get_base_id(key.get());
  if (algorithm == jwt_algorithm::rs256) {
    if (type != EVP_PKEY_RSA) return "expected an RSA public key for RS256";
    if (EVP_PKEY_get_bits(key.get()) < min_rsa_bits)
      return "expected an RSA key of at least 2048 bits, got " +
             std::to_string(EVP_PKEY_get_bits(key.get()));
    return {};
  }
  char group[64] = {};
  std::size_t length = 0;
  if (type != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key.get(), group, sizeof group, &length) != 1 ||
      std::strcmp(group, "prime256v1") != 0)
    return "expected an EC public key on curve P-256 (prime256v1) for ES256";
  return {};
}

}  // namespace

std::optional<jwt_key_problem> load_jwt_key(jwt_config& jwt) {
  if (jwt.algorithm == jwt_algorithm::hs256) {
    if (!jwt.secret_env.empty()) {
      const char* value = std::getenv(jwt.secret_env.c_str());
      if (!value || !*value)
        return jwt_key_problem{"/auth/jwt/secret_env",
                               "the environment variable " + jwt.secret_env + " is not set"};
      jwt.key = value;
    } else {
      jwt.key = jwt.secret;
    }
    if (jwt.key.size() < min_hs256_secret_bytes)
      return jwt_key_problem{jwt.secret_env.empty() ? "/auth/jwt/secret" : "/auth/jwt/secret_env",
                             "expected an HS256 secret of at least 32 bytes, got " +
                                 std::to_string(jwt.key.size())};
    return std::nullopt;
  }
  std::ifstream in(jwt.public_key_file, std::ios::binary);
  if (!in)
    return jwt_key_problem{"/auth/jwt/public_key_file",
                           "cannot read '" + jwt.public_key_file + "': " + std::strerror(errno)};
  std::string pem(max_key_file_bytes + 1, '\0');
  in.read(pem.data(), static_cast<std::streamsize>(pem.size()));
  pem.resize(static_cast<std::size_t>(in.gcount()));
  if (pem.size() > max_key_file_bytes)
    return jwt_key_problem{"/auth/jwt/public_key_file",
                           "'" + jwt.public_key_file + "' is larger than 64 KiB; expected a PEM public key"};
  if (auto problem = public_key_problem(pem, jwt.algorithm); !problem.empty())
    return jwt_key_problem{"/auth/jwt/public_key_file", "'" + jwt.public_key_file + "': " + problem};
  jwt.key = std::move(pem);
  return std::nullopt;
}

}  // namespace happy
