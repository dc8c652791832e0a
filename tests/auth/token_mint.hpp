#pragma once

// Mints tokens and keys for the unit tests with libjwt and OpenSSL directly.
// (Integration tests mint with Python's jwt package instead, so the server is
// not only checked against the library it verifies with.)

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string>

namespace happy::test {

inline const std::string test_secret = "0123456789abcdef0123456789abcdef-secret";

inline std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

// `claims_json`: the payload as JSON. `key`: secret or PEM private key.
inline std::string mint(jwt_alg_t alg, const std::string& key, const std::string& claims_json) {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
  std::unique_ptr<jwt_t, void (*)(jwt_t*)> token(raw, jwt_free);
  if (jwt_add_grants_json(token.get(), claims_json.c_str()) != 0)
    throw std::runtime_error("bad claims: " + claims_json);
  const auto* bytes = reinterpret_cast<const unsigned char*>(key.data());
  if (jwt_set_alg(token.get(), alg, alg == JWT_ALG_NONE ? nullptr : bytes,
                  alg == JWT_ALG_NONE ? 0 : static_cast<int>(key.size())) != 0)
    throw std::runtime_error("jwt_set_alg failed");
  char* text = jwt_encode_str(token.get());
  if (!text) throw std::runtime_error("jwt_encode_str failed");
  std::string out(text);
  std::free(text);
  return out;
}

inline std::string hs256(const std::string& claims_json, const std::string& secret = test_secret) {
  return mint(JWT_ALG_HS256, secret, claims_json);
}

inline std::string base64url(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

// HS256 over header and claims exactly as written: libjwt would normalize
// both (case of `alg`, duplicate keys), and these tests need the odd shapes.
inline std::string hs256_raw(const std::string& header_json, const std::string& claims_json,
                             const std::string& secret = test_secret) {
  std::string signing_input = base64url(header_json) + "." + base64url(claims_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
       &mac_size);
  return signing_input + "." + base64url(std::string(reinterpret_cast<char*>(mac), mac_size));
}

struct pem_pair {
  std::string private_pem;
  std::string public_pem;
};

inline pem_pair make_key(bool rsa) {
  EVP_PKEY* key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (!key) throw std::runtime_error("key generation failed");
  auto write = [&](bool private_part) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (private_part) PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    else PEM_write_bio_PUBKEY(bio, key);
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return out;
  };
  pem_pair pair{write(true), write(false)};
  EVP_PKEY_free(key);
  return pair;
}

}  // namespace happy::test
