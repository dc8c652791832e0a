#include "actors/history_reader.hpp"

#include "actors/happy_error.hpp"
#include "log/log.hpp"

namespace happy {

history_reader_actor::behavior_type history_reader(history_reader_actor::pointer,
                                                   std::shared_ptr<history_db> db) {
  return {
      [db](history_atom, const std::string& topic, std::int64_t from, std::int64_t to,
           std::uint32_t points) -> caf::result<history_series> {
        auto answer = db->downsample(topic, from, to, points);
        if (auto* series = std::get_if<history_series>(&answer)) return std::move(*series);
        log_warning("storage: the history file could not answer for topic '" + topic +
                    "': " + std::get<std::string>(answer));
        return make_error(happy_errc::storage_unavailable);
      },
  };
}

}  // namespace happy
