#pragma once

// A fresh directory under /tmp for one test, removed with everything in it.

#include <cstdlib>
#include <filesystem>
#include <string>

namespace happy::testing {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "happy-test-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

}  // namespace happy::testing
