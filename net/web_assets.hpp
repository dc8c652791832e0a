#pragma once

// The dashboard page and its assets: compiled into the binary by default, or
// read from a directory on every request (--web-root, for front-end work).
//
// URL layout (the same for both sources):
//   /, /index.html          -> index.html
//   /assets/uPlot.esm.js    -> node_modules/uplot/dist/uPlot.esm.js
//   /assets/uPlot.min.css   -> node_modules/uplot/dist/uPlot.min.css
//   /assets/<file>          -> src/<file>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace happy {

struct web_asset {
  std::string_view content_type;
  std::shared_ptr<const std::string> body;
  std::string etag;  // quoted, as sent in the ETag header
};

class web_assets {
 public:
  // Serves what the build embedded.
  static web_assets embedded();
  // Serves from `root` (a checkout's web/ folder), reading files per request.
  static web_assets from_directory(std::string root);

  // `name` is "index.html" or the <file> part of /assets/<file>.
  std::optional<web_asset> find(std::string_view name) const;

  // Where a name lives below web/, or empty when the name is not servable.
  static std::string source_path(std::string_view name);
  static std::string_view content_type_of(std::string_view name);
  static std::string etag_of(std::string_view body);

 private:
  std::string root_;  // empty: embedded
};

}  // namespace happy
