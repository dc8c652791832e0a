#include "storage/history_db.hpp"

#include <SQLiteCpp/Database.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "wire/envelope.hpp"
#include "temp_dir.hpp"

using namespace happy;

namespace {

std::unique_ptr<history_db> open_writer(const std::string& path) {
  auto opened = history_db::open(path, history_db::mode::write);
  if (auto* problem = std::get_if<std::string>(&opened)) FAIL(*problem);
  return std::move(std::get<0>(opened));
}

std::string open_problem(const std::string& path) {
  auto opened = history_db::open(path, history_db::mode::write);
  auto* problem = std::get_if<std::string>(&opened);
  return problem ? *problem : std::string();
}

frame envelope_frame(const std::string& topic, const std::string& value, std::uint64_t seq,
                     std::int64_t ts) {
  return {seq, std::make_shared<const std::string>(make_envelope(topic, value, seq, ts))};
}

topic_frames batch(const std::string& topic, frame_list frames) {
  return {topic, std::make_shared<const frame_list>(std::move(frames))};
}

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

auto keep(std::size_t n) {
  return [n](const std::string&) { return n; };
}

std::vector<stored_topic> loaded(std::variant<std::vector<stored_topic>, std::string> result) {
  if (auto* problem = std::get_if<std::string>(&result)) FAIL(*problem);
  return std::move(std::get<0>(result));
}

history_series series_of(std::variant<history_series, std::string> result) {
  if (auto* problem = std::get_if<std::string>(&result)) FAIL(*problem);
  return std::move(std::get<0>(result));
}

std::uint64_t count_of(history_db& db) {
  auto n = db.reading_count();
  REQUIRE(n.has_value());
  return *n;
}

std::uint64_t trimmed(trim_result result) {
  if (result.failure) FAIL(result.failure->message);
  return result.deleted;
}

}  // namespace

TEST_CASE("an envelope splits back into its value and timestamp") {
  auto env = make_envelope("orders", R"({"topic":"orders","seq":5,"x":[1]})", 42, 1700000000123);
  auto parts = split_envelope("orders", env);
  REQUIRE(parts);
  CHECK(parts->value_json == R"({"topic":"orders","seq":5,"x":[1]})");
  CHECK(parts->ts_ms == 1700000000123);
  CHECK_FALSE(split_envelope("other", env));
  CHECK_FALSE(split_envelope("orders", R"({"orders":1})"));
  // A ts beyond int64 (or not digits) is not an envelope make_envelope wrote.
  CHECK_FALSE(split_envelope("orders", R"({"orders":1,"topic":"orders","seq":1,"ts":9999999999999999999})"));
  CHECK_FALSE(split_envelope("orders", R"({"orders":1,"topic":"orders","seq":1,"ts":-5})"));
  CHECK_FALSE(split_envelope("orders", R"({"orders":1,"topic":"orders","seq":1,"ts":})"));
  CHECK(split_envelope("orders", R"({"orders":1,"topic":"orders","seq":1,"ts":9223372036854775807})")->ts_ms ==
        9223372036854775807);
}

TEST_CASE("readings written to the history file come back after reopening, newest kept") {
  testing::temp_dir dir;
  auto path = dir.file("history.db");
  {
    auto db = open_writer(path);
    frame_list frames;
    for (std::uint64_t seq = 1; seq <= 5; ++seq)
      frames.push_back(envelope_frame("orders", std::to_string(seq * 10), seq, 1000 + seq));
    REQUIRE_FALSE(db->write({batch("orders", frames), batch("temp", {envelope_frame("temp", R"({"c":21.5})", 7, 2000)})}));
    REQUIRE_FALSE(db->mark_clean_shutdown());
  }
  auto db = open_writer(path);
  CHECK(db->previous_run_ended_cleanly());
  auto topics = loaded(db->load(keep(3), 1000));
  REQUIRE(topics.size() == 2);
  CHECK(topics[0].name == "orders");
  CHECK(topics[0].last_seq == 5);
  REQUIRE(topics[0].recent.size() == 3);
  CHECK(topics[0].recent.front().seq == 3);
  // Byte for byte what the hub sent the first time.
  CHECK(*topics[0].recent.back().json == make_envelope("orders", "50", 5, 1005));
  CHECK(topics[1].name == "temp");
  CHECK(topics[1].last_seq == 7);
  CHECK(*topics[1].recent.front().json == make_envelope("temp", R"({"c":21.5})", 7, 2000));
}

TEST_CASE("after a run that did not stop cleanly, seqs continue above a margin") {
  testing::temp_dir dir;
  auto path = dir.file("history.db");
  {
    auto db = open_writer(path);
    REQUIRE_FALSE(db->write({batch("orders", {envelope_frame("orders", "1", 9, 1)})}));
  }  // no mark_clean_shutdown: as after SIGKILL
  auto db = open_writer(path);
  CHECK_FALSE(db->previous_run_ended_cleanly());
  auto topics = loaded(db->load(keep(10), 1000));
  REQUIRE(topics.size() == 1);
  CHECK(topics[0].last_seq == 1009);
  CHECK(topics[0].recent.size() == 1);
}

TEST_CASE("a repeated seq (a replica seen twice) is stored once") {
  testing::temp_dir dir;
  auto db = open_writer(dir.file("h.db"));
  REQUIRE_FALSE(db->write({batch("t", {envelope_frame("t", "1", 1, 1)})}));
  REQUIRE_FALSE(db->write({batch("t", {envelope_frame("t", "1", 1, 1), envelope_frame("t", "2", 2, 2)})}));
  CHECK(count_of(*db) == 2);
}

TEST_CASE("files that are not happy-dashboard history are refused and left as they were") {
  testing::temp_dir dir;
  SECTION("not SQLite at all") {
    auto path = dir.file("notes.txt");
    std::ofstream(path) << "my precious notes, not a database, but long enough to look like one.......................................";
    auto before = file_text(path);
    CHECK_THAT(open_problem(path), Catch::Contains("is not a SQLite database"));
    CHECK(file_text(path) == before);
  }
  SECTION("another application's SQLite database") {
    auto path = dir.file("other.db");
    SQLite::Database(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)
        .exec("CREATE TABLE accounts (id INTEGER); INSERT INTO accounts VALUES (1);");
    auto before = file_text(path);
    CHECK_THAT(open_problem(path), Catch::Contains("another application"));
    CHECK(file_text(path) == before);
  }
  SECTION("a history file whose pages are damaged") {
    auto path = dir.file("h.db");
    {
      auto db = open_writer(path);
      frame_list frames;
      for (std::uint64_t seq = 1; seq <= 3000; ++seq)
        frames.push_back(envelope_frame("t", std::to_string(seq), seq, static_cast<std::int64_t>(seq)));
      REQUIRE_FALSE(db->write({batch("t", frames)}));
      REQUIRE_FALSE(db->mark_clean_shutdown());
    }
    {  // checkpointed into the main file, then scribbled over in the middle
      SQLite::Database raw(path, SQLite::OPEN_READWRITE);
      raw.exec("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
      // Pages 2 to 4 (b-tree pages) get garbage headers.
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      std::string garbage(64, '\x5a');
      for (int page = 1; page <= 3; ++page) {
        f.seekp(4096 * page);
        f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
      }
    }
    CHECK_THAT(open_problem(path), Catch::Contains("is damaged"));
  }
  SECTION("a directory that does not exist") {
    CHECK_THAT(open_problem(dir.file("missing/h.db")), Catch::Contains("cannot be opened"));
  }
}

TEST_CASE("retention deletes readings beyond the count and older than the age, in chunks") {
  testing::temp_dir dir;
  auto db = open_writer(dir.file("h.db"));
  frame_list frames;
  for (std::uint64_t seq = 1; seq <= 100; ++seq)
    frames.push_back(envelope_frame("t", "1", seq, static_cast<std::int64_t>(seq) * 1000));
  REQUIRE_FALSE(db->write({batch("t", frames)}));
  SECTION("by count: the newest 30 stay") {
    CHECK(trimmed(db->trim(0, 30, 1000)) == 70);
    auto topics = loaded(db->load(keep(1000), 0));
    CHECK(topics[0].recent.size() == 30);
    CHECK(topics[0].recent.front().seq == 71);
  }
  SECTION("by age: older than seq 61's time goes, 10 per chunk") {
    CHECK(trimmed(db->trim(61 * 1000, 1000, 10)) == 10);
    std::uint64_t total = 10;
    while (auto n = trimmed(db->trim(61 * 1000, 1000, 10))) total += n;
    CHECK(total == 60);
    CHECK(count_of(*db) == 40);
  }
  SECTION("the seq survives even when every reading is gone") {
    CHECK(trimmed(db->trim(1'000'000, 1000, 1000)) == 100);
    CHECK(count_of(*db) == 0);
    CHECK(loaded(db->load(keep(10), 0))[0].last_seq == 100);
  }
}

TEST_CASE("history is bucketed in SQL: min, avg, max and count per bucket and field") {
  testing::temp_dir dir;
  auto db = open_writer(dir.file("h.db"));
  // Numbers 1..10 at t = 0..9 s; objects with two numeric members and one text.
  frame_list numbers, objects;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    numbers.push_back(envelope_frame("n", std::to_string(i), i, static_cast<std::int64_t>(i - 1) * 1000));
    objects.push_back(envelope_frame("o", R"({"cpu":)" + std::to_string(i) + R"(,"mem":100,"host":"a"})", i,
                                     static_cast<std::int64_t>(i - 1) * 1000));
  }
  REQUIRE_FALSE(db->write({batch("n", numbers), batch("o", objects)}));
  auto series = series_of(db->downsample("n", 0, 10000, 2));
  CHECK(series.bucket_ms == 5000);
  REQUIRE(series.buckets.size() == 2);
  CHECK(series.buckets[0].count == 5);
  CHECK(series.buckets[0].time == 2000);  // the mean time of its readings
  REQUIRE(series.buckets[0].fields.size() == 1);
  CHECK(series.buckets[0].fields[0].name.empty());
  CHECK(series.buckets[0].fields[0].min == 1);
  CHECK(series.buckets[0].fields[0].avg == 3);
  CHECK(series.buckets[0].fields[0].max == 5);
  CHECK(series.buckets[1].fields[0].avg == 8);
  // More points than readings: each reading its own bucket at its own time.
  auto raw = series_of(db->downsample("n", 0, 10000, 2000));
  REQUIRE(raw.buckets.size() == 10);
  CHECK(raw.buckets[3].time == 3000);
  CHECK(raw.buckets[3].fields[0].avg == 4);

  auto obj = series_of(db->downsample("o", 5000, 10000, 1));
  REQUIRE(obj.buckets.size() == 1);
  REQUIRE(obj.buckets[0].fields.size() == 2);  // "host" is text: not charted
  CHECK(obj.buckets[0].fields[0].name == "cpu");
  CHECK(obj.buckets[0].fields[0].min == 6);
  CHECK(obj.buckets[0].fields[0].max == 10);
  CHECK(obj.buckets[0].fields[1].name == "mem");
  CHECK(obj.buckets[0].fields[1].avg == 100);
  CHECK(series_of(db->downsample("unknown", 0, 10000, 10)).buckets.empty());
}

TEST_CASE("a file locked by another process: writes and deletes say so, nothing is half-written, then it works") {
  // The sqlite3 shell or a backup holding the file: after the busy timeout
  // (5 s) each statement fails with SQLite's reason, not silently.
  testing::temp_dir dir;
  auto path = dir.file("h.db");
  auto db = open_writer(path);
  REQUIRE_FALSE(db->write({batch("t", {envelope_frame("t", "1", 1, 1000)})}));
  auto two_topics = std::vector<topic_frames>{batch("t", {envelope_frame("t", "2", 2, 2000)}),
                                              batch("new", {envelope_frame("new", "1", 1, 2000)})};
  {
    SQLite::Database other(path, SQLite::OPEN_READWRITE);
    other.exec("BEGIN EXCLUSIVE");
    auto failure = db->write(two_topics);
    REQUIRE(failure);
    CHECK_THAT(failure->message, Catch::Contains("locked"));
    CHECK_FALSE(failure->disk);  // a lock is not a broken disk
    auto forgotten = db->forget("t");
    REQUIRE(forgotten);
    CHECK_THAT(forgotten->message, Catch::Contains("locked"));
    other.exec("ROLLBACK");
  }
  CHECK(count_of(*db) == 1);  // the failed transaction left nothing behind
  REQUIRE_FALSE(db->write(two_topics));  // the same statements work again
  auto topics = loaded(db->load(keep(10), 0));
  REQUIRE(topics.size() == 2);
  CHECK(topics[0].name == "new");
  CHECK(topics[1].last_seq == 2);
  REQUIRE_FALSE(db->forget("t"));
  CHECK(count_of(*db) == 1);
}
