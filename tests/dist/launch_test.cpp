// The launch read from torchrun's and Slurm's variables, and the shares of an index range.
#include <gtest/gtest.h>

#include <map>

#include "dist/group.h"
#include "dist/launch.h"
#include "test_util.h"

namespace pdiff::launch_test {
namespace {

EnvLookup env_of(const std::map<std::string, std::string>& vars) {
  return [vars](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(Launch, OneProcessWithoutALaunchersVariables) {
  const Launch l = launch_from_env(env_of({{"HOME", "/root"}}));
  EXPECT_FALSE(l.several());
  EXPECT_EQ(l.rank, 0);
  EXPECT_EQ(l.world, 1);
  EXPECT_EQ(l.launcher, "none");
}

TEST(Launch, TorchrunsVariables) {
  const Launch l = launch_from_env(env_of({{"RANK", "5"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"},
                                           {"LOCAL_WORLD_SIZE", "4"}, {"MASTER_ADDR", "node3"}, {"MASTER_PORT", "29611"}}));
  EXPECT_TRUE(l.several());
  EXPECT_EQ(l.launcher, "torchrun");
  EXPECT_EQ(l.rank, 5);
  EXPECT_EQ(l.world, 8);
  EXPECT_EQ(l.local_rank, 1);
  EXPECT_EQ(l.local_world, 4);
  EXPECT_EQ(l.master_addr, "node3");
  EXPECT_EQ(l.master_port, 29611);
}

TEST(Launch, SlurmsVariablesAndTheFirstHostOfTheNodeList) {
  const Launch l = launch_from_env(env_of({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "1"},
                                           {"SLURM_TASKS_PER_NODE", "2(x2)"}, {"SLURM_JOB_NODELIST", "gpu[07-08]"}}));
  EXPECT_EQ(l.launcher, "slurm");
  EXPECT_EQ(l.rank, 3);
  EXPECT_EQ(l.world, 4);
  EXPECT_EQ(l.local_rank, 1);
  EXPECT_EQ(l.local_world, 2);
  EXPECT_EQ(l.master_addr, "gpu07");
  EXPECT_EQ(l.master_port, 29500);
  EXPECT_EQ(first_slurm_host("node[07-09,12],gpu3"), "node07");
  EXPECT_EQ(first_slurm_host("a,b[1-2]"), "a");
  EXPECT_EQ(first_slurm_host("single"), "single");
  EXPECT_EQ(first_slurm_host("n[3,5]"), "n3");
  // MASTER_ADDR wins over the node list.
  EXPECT_EQ(launch_from_env(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "10.0.0.9"},
                                    {"SLURM_JOB_NODELIST", "gpu[07-08]"}}))
                .master_addr,
            "10.0.0.9");
}

TEST(Launch, InconsistentVariablesNameTheVariable) {
  EXPECT_CONTAINS(test::error_of([] { launch_from_env(env_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}})); }),
                  "RANK = 2 but the job has 2 processes");
  EXPECT_CONTAINS(test::error_of([] { launch_from_env(env_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}})); }),
                  "RANK = 'x'");
  EXPECT_CONTAINS(test::error_of([] {
                    launch_from_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}));
                  }),
                  "MASTER_PORT = 70000");
  EXPECT_CONTAINS(test::error_of([] {
                    launch_from_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "2"}}));
                  }),
                  "no MASTER_ADDR");
}

TEST(Shares, ContiguousBlocksThatCoverTheRangeOnce) {
  for (int world : {1, 2, 3, 7})
    for (int64_t n : {0, 1, 5, 30, 31}) {
      int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        const Share s = share_of(n, r, world);
        EXPECT_EQ(s.begin, next);
        EXPECT_LE(s.size(), n / world + 1);
        EXPECT_GE(s.size(), n / world);
        next = s.end;
      }
      EXPECT_EQ(next, n);
    }
}

TEST(Shares, OneProcessGathersWhatItHas) {
  const torch::Tensor rows = torch::arange(6).view({3, 2});
  EXPECT_TRUE(torch::equal(dist_gather_rows(rows, {3}, "test"), rows));
  EXPECT_EQ(dist_world(), 1);
  bool ran = false;
  on_main_rank("test", [&] { ran = true; });
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace pdiff::launch_test
