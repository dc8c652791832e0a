#pragma once

// Ask several actors the same question and act once on all the answers.
// CAF 0.17 has no fan_out_request; this is the one place that counts answers.

#include <caf/error.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace happy {

// Sends `question...` to every actor in `targets` (typed handles answering
// `Answer`) and calls `done(std::vector<Answer>)` exactly once, when each has
// answered, failed, or stayed silent past `timeout`. Only answers are kept;
// `done` runs in `self`'s context. With no targets, `done` runs at once.
template <class Answer, class Self, class Handle, class Done, class... Question>
void gather(Self* self, const std::vector<Handle>& targets, std::chrono::milliseconds timeout,
            Done done, const Question&... question) {
  if (targets.empty()) {
    done(std::vector<Answer>{});
    return;
  }
  struct collection {
    std::vector<Answer> answers;
    std::size_t missing;
    Done done;
    void settle_one() {
      if (--missing == 0) done(std::move(answers));
    }
  };
  auto pending = std::make_shared<collection>(collection{{}, targets.size(), std::move(done)});
  for (const auto& target : targets)
    self->request(target, timeout, question...)
        .then(
            [pending](Answer& answer) {
              pending->answers.push_back(std::move(answer));
              pending->settle_one();
            },
            [pending](const caf::error&) { pending->settle_one(); });
}

}  // namespace happy
