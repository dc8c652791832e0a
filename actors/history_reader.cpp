#include "actors/history_reader.hpp"

namespace happy {

history_reader_actor::behavior_type history_reader(history_reader_actor::pointer,
                                                   std::shared_ptr<history_db> db) {
  return {
      [db](history_atom, const std::string& topic, std::int64_t from, std::int64_t to,
           std::uint32_t points) { return db->downsample(topic, from, to, points); },
  };
}

}  // namespace happy
