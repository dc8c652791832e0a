#include <catch2/catch.hpp>

#include "actors/topic_history.hpp"

using namespace happy;

namespace {

frame make_frame(std::uint64_t seq) {
  return {seq, std::make_shared<const std::string>("{\"seq\":" + std::to_string(seq) + "}")};
}

std::vector<std::uint64_t> seqs(const frame_list& frames) {
  std::vector<std::uint64_t> out;
  for (const auto& f : frames) out.push_back(f.seq);
  return out;
}

topic_history filled(std::size_t capacity, std::uint64_t count) {
  topic_history h(capacity);
  for (std::uint64_t seq = 1; seq <= count; ++seq) h.push(make_frame(seq));
  return h;
}

}  // namespace

TEST_CASE("history ring evicts the oldest envelope when full") {
  auto h = filled(3, 5);
  CHECK(h.size() == 3);
  CHECK(h.oldest_seq() == 3);
  CHECK(seqs(h.replay(replay_request::last(10), 5)) == std::vector<std::uint64_t>{3, 4, 5});
}

TEST_CASE("since replays exactly the envelopes after the given seq") {
  auto h = filled(10, 8);
  CHECK(seqs(h.replay(replay_request::since(5), 8)) == std::vector<std::uint64_t>{6, 7, 8});
  CHECK(seqs(h.replay(replay_request::since(8), 8)).empty());
  CHECK(seqs(h.replay(replay_request::since(0), 8)).size() == 8);
}

TEST_CASE("since older than history replays everything still held") {
  auto h = filled(3, 8);
  CHECK(seqs(h.replay(replay_request::since(2), 8)) == std::vector<std::uint64_t>{6, 7, 8});
}

TEST_CASE("since beyond the current seq (server restarted) replays from the oldest held") {
  auto h = filled(4, 6);
  CHECK(seqs(h.replay(replay_request::since(1000), 6)) == std::vector<std::uint64_t>{3, 4, 5, 6});
}

TEST_CASE("last replays the newest n, and no more than are held") {
  auto h = filled(10, 6);
  CHECK(seqs(h.replay(replay_request::last(2), 6)) == std::vector<std::uint64_t>{5, 6});
  CHECK(seqs(h.replay(replay_request::last(0), 6)).empty());
  CHECK(seqs(h.replay(replay_request::last(100), 6)).size() == 6);
}

TEST_CASE("live-only subscribers get no replay, capacity 0 holds nothing") {
  auto h = filled(10, 6);
  CHECK(h.replay(replay_request::live_only(), 6).empty());
  auto none = filled(0, 6);
  CHECK(none.size() == 0);
  CHECK(none.replay(replay_request::last(5), 6).empty());
}

TEST_CASE("shrinking the capacity drops the oldest") {
  auto h = filled(10, 6);
  h.set_capacity(2);
  CHECK(seqs(h.replay(replay_request::last(10), 6)) == std::vector<std::uint64_t>{5, 6});
}

TEST_CASE("a cleared history replays nothing and takes new frames") {
  auto h = filled(5, 6);
  h.clear();
  CHECK(h.size() == 0);
  CHECK(h.replay(replay_request::last(10), 0).empty());
  h.push({1, nullptr});
  CHECK(seqs(h.replay(replay_request::last(10), 1)) == std::vector<std::uint64_t>{1});
}
