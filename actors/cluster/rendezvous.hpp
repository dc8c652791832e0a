#pragma once

// Rendezvous (highest random weight) hashing: every node that knows the same
// member list picks the same owner for a key, and losing a member moves only
// the keys it owned.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace happy {

std::uint64_t rendezvous_weight(std::string_view member, std::string_view key);

// The member with the highest weight for `key`; empty when `members` is.
std::string rendezvous_owner(const std::vector<std::string>& members, std::string_view key);

}  // namespace happy
