#include "wire/text_excerpt.hpp"

namespace happy {

std::string excerpt(std::string_view text, std::size_t max_chars) {
  std::string out;
  for (char c : text.substr(0, max_chars)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += u == '\n' ? ' ' : (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (text.size() > max_chars) out += "...";
  return out;
}

}  // namespace happy
