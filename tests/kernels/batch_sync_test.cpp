#include "kernels/batch_sync.h"

#include <gtest/gtest.h>

#include <thread>

namespace pdiff::batch_sync_test {
namespace {

TEST(BatchSync, EveryWorkerGetsTheSumRoundAfterRound) {
  const int workers = 3, rounds = 200;
  BatchSync sync(workers);
  std::vector<std::vector<double>> last(workers);
  std::vector<int> wrong(workers, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      for (int r = 0; r < rounds; ++r) {
        auto s = sync.all_reduce(w, {double(w + 1), double(r)});
        if (s != std::vector<double>{6.0, 3.0 * r}) ++wrong[w];
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, std::vector<int>(workers, 0));
}

TEST(BatchSync, AbortWakesAWaitingWorker) {
  BatchSync sync(2);
  std::string error;
  std::thread waiting([&] {
    try {
      sync.all_reduce(0, {1.0});
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  sync.abort();
  waiting.join();
  EXPECT_NE(error.find("aborted"), std::string::npos) << error;
  EXPECT_THROW(sync.all_reduce(1, {1.0}), BatchSplitAborted);
}

TEST(BatchSync, ScopeSetsTheThreadsSplitAndRestoresIt) {
  BatchSync sync(1);
  EXPECT_EQ(current_batch_split(), nullptr);
  {
    SplitBatchScope scope(sync, 0);
    ASSERT_NE(current_batch_split(), nullptr);
    EXPECT_EQ(current_batch_split()->sync, &sync);
    auto t = sum_over_split(current_batch_split(), torch::tensor({1.5, 2.5}, torch::kFloat64));
    EXPECT_TRUE(torch::equal(t, torch::tensor({1.5, 2.5}, torch::kFloat64)));
  }
  EXPECT_EQ(current_batch_split(), nullptr);
}

}  // namespace
}  // namespace pdiff::batch_sync_test
