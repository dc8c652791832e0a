#include "actors/cluster/rendezvous.hpp"

namespace happy {

namespace {

// FNV-1a, then a splitmix64 finalizer: FNV alone leaves similar names
// (node-1, node-2) with correlated weights.
std::uint64_t fnv1a(std::uint64_t hash, std::string_view text) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::uint64_t rendezvous_weight(std::string_view member, std::string_view key) {
  std::uint64_t hash = fnv1a(0xcbf29ce484222325ULL, member);
  hash = fnv1a(hash, std::string_view("\0", 1));
  return mix(fnv1a(hash, key));
}

std::string rendezvous_owner(const std::vector<std::string>& members, std::string_view key) {
  const std::string* best = nullptr;
  std::uint64_t best_weight = 0;
  for (const auto& member : members) {
    auto weight = rendezvous_weight(member, key);
    // Ties (practically never) go to the smaller name, so all nodes agree.
    if (!best || weight > best_weight || (weight == best_weight && member < *best)) {
      best = &member;
      best_weight = weight;
    }
  }
  return best ? *best : std::string{};
}

}  // namespace happy
