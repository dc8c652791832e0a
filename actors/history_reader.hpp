#pragma once

// Answers GET /topics/<name>/history: buckets a topic's stored readings in
// SQL, through its own read connection (WAL readers never wait for the
// writer) on its own thread, so a day-long query delays neither the store's
// commits nor the scheduler. Its interface is history_reader_actor.

#include <memory>

#include "actors/actors.hpp"
#include "storage/history_db.hpp"

namespace happy {

history_reader_actor::behavior_type history_reader(history_reader_actor::pointer self,
                                                   std::shared_ptr<history_db> db);

}  // namespace happy
