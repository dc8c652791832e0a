#pragma once

// Text files compiled into the binary by CMake (see CMakeLists.txt).
namespace happy::embedded {
extern const char* const config_schema_json;
extern const char* const default_config_json;
}  // namespace happy::embedded
