// Jobs of several processes through the real binary, as torchrun starts them: each rank a
// pdiff with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free
// MASTER_PORT chosen now. The generated models and the report's figures of 1, 2 and 3
// processes are the same bits;
// ranks with other settings stop with one line naming the key; a dead rank 0 stops the others
// with a clear error, and a relaunch completes.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "gen/generate.h"
#include "gen/model_files.h"
#include "io/file_io.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::distributed_cli_test {
namespace {

// A port nobody listens on now: the kernel's pick for a socket bound to port 0.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  return ok ? ntohs(addr.sin_port) : 29500;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> words;
  std::istringstream in(s);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// Starts `world` ranks of `pdiff COMMAND ARGS` (rank r with per_rank(r) appended); returns pids.
std::vector<pid_t> launch(int world, const std::string& command, const std::string& args, const std::string& log,
                          const std::function<std::string(int)>& per_rank = nullptr) {
  const std::string port = std::to_string(free_port()), size = std::to_string(world);
  test::ScopedEnv addr("MASTER_ADDR", "127.0.0.1"), p("MASTER_PORT", port.c_str()), w("WORLD_SIZE", size.c_str()),
      lw("LOCAL_WORLD_SIZE", size.c_str());
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    const std::string rank = std::to_string(r);
    test::ScopedEnv a("RANK", rank.c_str()), b("LOCAL_RANK", rank.c_str());
    pids.push_back(test::spawn_pdiff(command, split_words(args + (per_rank ? " " + per_rank(r) : "")),
                                     log + "." + rank));
  }
  return pids;
}

// Waits for every pid (at most `seconds`, then kills them); returns their exit codes.
std::vector<int> wait_all(const std::vector<pid_t>& pids, int seconds = 600) {
  std::vector<int> codes(pids.size(), -1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (size_t done = 0; done < pids.size();) {
    done = 0;
    for (size_t i = 0; i < pids.size(); ++i) {
      if (codes[i] != -1) {
        ++done;
        continue;
      }
      int status = 0;
      if (waitpid(pids[i], &status, WNOHANG) == pids[i]) codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), ++done;
    }
    if (done < pids.size() && std::chrono::steady_clock::now() > deadline) {
      for (size_t i = 0; i < pids.size(); ++i)
        if (codes[i] == -1) kill(pids[i], SIGKILL), waitpid(pids[i], nullptr, 0), codes[i] = 124;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return codes;
}

std::string logs(const std::string& log, int world) {
  std::string s;
  for (int r = 0; r < world; ++r) s += "--- rank " + std::to_string(r) + "\n" + test::tail(read_text_file(log + "." + std::to_string(r)), 2000);
  return s;
}

// Waits (two minutes at most) until the file `log` holds `line`.
bool wait_for_line(const std::string& log, const std::string& line) {
  for (int i = 0; i < 1200; ++i) {
    if (read_text_file(log).find(line) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Small but real: 4 generated batches of 3 (the last one short), dealt over the ranks.
std::string settings(const std::string& dir) {
  return test::tiny_pipeline(dir) + " generate.batch=3 dist.timeout=60";
}

// The report's figures (every group's accuracies, similarities, fidelity; not the timings).
void expect_same_report(const std::string& a, const std::string& b) {
  const auto x = nlohmann::json::parse(read_text_file(a + "/report.json"));
  const auto y = nlohmann::json::parse(read_text_file(b + "/report.json"));
  for (const char* key : {"groups", "similarity", "fidelity", "dominance", "verdict"})
    EXPECT_EQ(x[key], y[key]) << key << ": " << a << " vs " << b;
}

void expect_same_zoo(const std::string& a, const std::string& b) {
  const Zoo x = load_zoo(a + "/zoo.pt"), y = load_zoo(b + "/zoo.pt");
  EXPECT_TRUE(torch::equal(x.params, y.params)) << a << " vs " << b;
  EXPECT_TRUE(torch::equal(x.accuracy, y.accuracy)) << a << " vs " << b;
  EXPECT_TRUE(torch::equal(x.predictions, y.predictions)) << a << " vs " << b;
  EXPECT_EQ(x.base_accuracy, y.base_accuracy) << a << " vs " << b;
}

// Data-parallel training sums the batch's gradients in another order: the losses of every step
// agree to float precision, and the weights closely (Adam's steps on near-zero gradients turn
// rounding into differences of up to lr per step in a few weights, hence a norm, not a maximum).
constexpr double kLossTolerance = 1e-4;     // relative, every step
constexpr double kWeightTolerance = 1e-2;   // ||a - b|| / ||a|| over every weight
void expect_close_training(const std::string& a, const std::string& b) {
  auto losses = [](const std::string& csv) {
    std::vector<double> v;
    std::istringstream in(read_text_file(csv));
    std::string line;
    std::getline(in, line);  // step,loss
    while (std::getline(in, line)) v.push_back(std::stod(line.substr(line.find(',') + 1)));
    return v;
  };
  for (const char* csv : {"/ae_loss.csv", "/ldm_loss.csv"}) {
    const auto x = losses(a + csv), y = losses(b + csv);
    ASSERT_EQ(x.size(), y.size()) << csv;
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / std::abs(x[i]));
    EXPECT_LE(worst, kLossTolerance) << csv;
    std::printf("data-parallel %s: largest relative difference of a step's loss %.3g\n", csv + 1, worst);
  }
  auto compare = [&](const torch::nn::Module& x, const torch::nn::Module& y, const char* what) {
    std::vector<torch::Tensor> vx, vy;
    for (const auto& p : x.parameters()) vx.push_back(p.detach().reshape({-1}).to(torch::kFloat64));
    for (const auto& p : y.parameters()) vy.push_back(p.detach().reshape({-1}).to(torch::kFloat64));
    const torch::Tensor fx = torch::cat(vx), fy = torch::cat(vy);
    ASSERT_EQ(fx.sizes(), fy.sizes()) << what;
    const double relative = ((fx - fy).norm() / fx.norm()).item<double>();
    EXPECT_LE(relative, kWeightTolerance) << what << ": " << a << " vs " << b;
    std::printf("data-parallel %s: ||difference|| / ||weights|| %.3g, max |difference| %.3g\n", what, relative,
                (fx - fy).abs().max().item<double>());
  };
  const AeModel ax = load_ae(a + "/ae.pt"), ay = load_ae(b + "/ae.pt");
  compare(*ax.net, *ay.net, "autoencoder");
  const LdmModel lx = load_ldm(a + "/ldm.pt"), ly = load_ldm(b + "/ldm.pt");
  compare(*lx.ema, *ly.ema, "denoiser (EMA)");
}

void expect_same_generated(const std::string& a, const std::string& b) {
  const Generated x = load_generated(a + "/generated.pt"), y = load_generated(b + "/generated.pt");
  EXPECT_TRUE(torch::equal(x.params, y.params)) << a << " vs " << b;
  EXPECT_TRUE(torch::equal(x.accuracy, y.accuracy)) << a << " vs " << b;
  EXPECT_TRUE(torch::equal(x.predictions, y.predictions)) << a << " vs " << b;
}

TEST(DistributedCli, OneTwoAndThreeProcessesWriteTheSameFiles) {
  const std::string tmp = test::temp_dir("dist"), one = tmp + "/one", two = tmp + "/two", three = tmp + "/three";
  test::pdiff_ok("run " + settings(one));

  // Two ranks started by torchrun run the pipeline on the one-process run's zoo (the base and
  // the trajectory trained data-parallel: IterationModeTrainsTheBaseAndTheTrajectoryDataParallel),
  // every later stage split or data-parallel. The torchrun of the PyTorch whose LibTorch pdiff is
  // built with (its agent serves the store, in its version's protocol): Debian's 1.13, or the 2.x
  // of PDIFF_TORCH2_PYTHON. (--redirects 1 --tee 1: 1.13's torchrun fails on its default "0"
  // under Python 3.11, whose enum.IntFlag no longer lists 0.)
  std::string python = "/usr/bin/python3";
#if TORCH_VERSION_MAJOR >= 2
  const char* torch2 = std::getenv("PDIFF_TORCH2_PYTHON");
  ASSERT_TRUE(torch2 != nullptr && *torch2 != '\0') << "a LibTorch 2.x build: PDIFF_TORCH2_PYTHON names its python";
  python = torch2;
#endif
  test::run_command("mkdir -p '" + two + "'");
  for (const char* f : {"base.pt", "base.json", "zoo.pt"}) test::run_command("cp '" + one + "/" + f + "' '" + two + "/'");
  std::string out;
  const int rc = test::run_command("timeout 600 " + python + " -m torch.distributed.run --nproc_per_node 2 "
                                   "--master_port " + std::to_string(free_port()) +
                                   " --redirects 1 --tee 1 --no_python " + test::pdiff_binary() + " run" + settings(two),
                                   &out);
  ASSERT_EQ(rc, 0) << test::tail(out);
  EXPECT_CONTAINS(out, "dist: rank 0 of 2 (torchrun; local 0 of 2)");
  EXPECT_CONTAINS(out, "dist: rank 1 of 2 (torchrun; local 1 of 2)");
  EXPECT_CONTAINS(out, "== collect: up to date");
  // The other rank reports nothing but its joining: rank 0 speaks for the job.
  EXPECT_EQ(out.find("== train: running"), out.rfind("== train: running")) << out;
  for (const char* f : {"ae.pt", "ldm.pt", "generated.pt", "report.json"}) EXPECT_TRUE(file_exists(two + "/" + f)) << f;
  // The generators trained data-parallel: the same weights but for the order of the gradients'
  // sums.
  expect_close_training(one, two);

  // Three ranks generate from the one-process run's generators.
  test::run_command("mkdir -p '" + three + "'");
  for (const char* f : {"base.pt", "zoo.pt", "ae.pt", "ldm.pt"})
    test::run_command("cp '" + one + "/" + f + "' '" + three + "/'");
  auto codes = wait_all(launch(3, "generate", settings(three), tmp + "/three.log"));
  ASSERT_EQ(codes, (std::vector<int>{0, 0, 0})) << logs(tmp + "/three.log", 3);
  expect_same_generated(one, three);
  codes = wait_all(launch(3, "eval", settings(three), tmp + "/three_eval.log"));
  ASSERT_EQ(codes, (std::vector<int>{0, 0, 0})) << logs(tmp + "/three_eval.log", 3);
  expect_same_report(one, three);
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

// Separate runs (zoo.mode=scratch; seeds mode deals its runs out the same way, from the base
// plus noise) are dealt out (run k to rank k mod W), gathered in run order and aligned by rank 0
// as they come, then aligned to the zoo's average (zoo.align_rounds) by rank 0 while the others
// wait; a collection killed part way resumes at another world size; the evaluation is split too.
TEST(DistributedCli, SeparateRunsZooIsTheSameAtOneTwoAndThreeProcessesAndResumesAcrossThem) {
  const std::string tmp = test::temp_dir("dist_seeds"), one = tmp + "/one", two = tmp + "/two", three = tmp + "/three";
  const std::string args = " threads=1 data.train_limit=1000 data.test_limit=500 model.arch=mlp model.mlp_hidden=64"
                           " zoo.mode=scratch zoo.select=all zoo.align=weights zoo.align_rounds=2 zoo.lr=1e-3 zoo.k=7"
                           " zoo.batch=32 zoo.run_iters=40 dist.timeout=60 run_dir=";
  test::pdiff_ok("collect" + args + one);
  // The same base everywhere (several ranks would train it data-parallel: close, not the same bits).
  for (const std::string& dir : {two, three}) {
    test::run_command("mkdir -p '" + dir + "'");
    for (const char* f : {"base.pt", "base.json"}) test::run_command("cp '" + one + "/" + f + "' '" + dir + "/'");
  }
  auto codes = wait_all(launch(3, "collect", args + three, tmp + "/three.log"));
  ASSERT_EQ(codes, (std::vector<int>{0, 0, 0})) << logs(tmp + "/three.log", 3);
  expect_same_zoo(one, three);
  EXPECT_CONTAINS(read_text_file(tmp + "/three.log.0"), "zoo: 7 checkpoints (scratch mode)");
  EXPECT_CONTAINS(read_text_file(tmp + "/three.log.0"), "zoo.align_rounds: round 2 of 2");

  // Two ranks, killed once their first round is on disk (three rounds to go); three ranks finish.
  const auto pids = launch(2, "collect", args + two, tmp + "/two.log");
  for (int i = 0; i < 1200 && !file_exists(two + "/zoo.partial.pt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  for (pid_t p : pids) kill(p, SIGKILL);
  wait_all(pids, 60);
  ASSERT_TRUE(file_exists(two + "/zoo.partial.pt")) << logs(tmp + "/two.log", 2);
  ASSERT_FALSE(file_exists(two + "/zoo.pt"));
  codes = wait_all(launch(3, "collect", args + two, tmp + "/two_again.log"));
  ASSERT_EQ(codes, (std::vector<int>{0, 0, 0})) << logs(tmp + "/two_again.log", 3);
  EXPECT_CONTAINS(read_text_file(tmp + "/two_again.log.0"), "zoo: resuming after ");
  expect_same_zoo(one, two);
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

// Iteration mode, data-parallel: the base and the trajectory train on every rank, each a share
// of every batch (22, 21 and 21 of 64 images), batch norms' statistics summed over the ranks.
// Against one process: the same losses and weights up to the order of the sums, which 12 SGD
// steps with momentum amplify (measured: ||difference|| / ||weights|| ~1e-3 for the base).
TEST(DistributedCli, IterationModeTrainsTheBaseAndTheTrajectoryDataParallel) {
  const std::string tmp = test::temp_dir("dist_iter"), one = tmp + "/one", three = tmp + "/three";
  const std::string args = " threads=1 data.train_limit=256 data.test_limit=128 base.epochs=3 base.batch=64"
                           " zoo.mode=iteration zoo.k=6 zoo.batch=64 dist.timeout=60 run_dir=";
  test::pdiff_ok("collect" + args + one);
  const auto codes = wait_all(launch(3, "collect", args + three, tmp + "/three.log"));
  ASSERT_EQ(codes, (std::vector<int>{0, 0, 0})) << logs(tmp + "/three.log", 3);
  EXPECT_CONTAINS(read_text_file(tmp + "/three.log.0"),
                  "base training: data-parallel over 3 ranks (22 of each batch's 64 images on rank 0)");
  auto weights = [](const std::string& dir) {
    std::vector<torch::Tensor> v;
    ClassifierSpec spec;  // Fashion-MNIST's ConvNet-4
    spec.arch = "convnet4";
    for (const auto& [name, t] : state_dict(load_base(dir + "/base.pt", spec, torch::kCPU)))
      if (t.is_floating_point()) v.push_back(t.flatten().to(torch::kFloat64));
    return torch::cat(v);
  };
  const torch::Tensor a = weights(one), b = weights(three);
  const double base_difference = ((a - b).norm() / a.norm()).item<double>();
  EXPECT_LE(base_difference, kWeightTolerance);
  const Zoo x = load_zoo(one + "/zoo.pt"), y = load_zoo(three + "/zoo.pt");
  ASSERT_EQ(x.params.sizes(), y.params.sizes());
  const double zoo_difference = ((x.params - y.params).norm() / x.params.norm()).item<double>();
  EXPECT_LE(zoo_difference, kWeightTolerance);
  EXPECT_LE((x.accuracy - y.accuracy).abs().max().item<double>(), 3.0) << x.accuracy << y.accuracy;
  std::printf("data-parallel base (3 ranks): ||difference|| / ||weights|| %.3g; zoo %.3g\n", base_difference,
              zoo_difference);
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

// pdiff sweep runs each point on every rank: the collection's evaluation, the training, the
// generation and the evaluation of each point are split; rank 0 alone shares stages between
// points and writes the sweep's table.
TEST(DistributedCli, SweepRunsEachPointOnEveryRank) {
  const std::string tmp = test::temp_dir("dist_sweep"), out = tmp + "/sweeps";
  std::string args = "--out " + out + " --name eta generate.eta=0,1" + settings("");
  args.replace(args.find(" run_dir= "), 10, " ");  // the sweep names each point's run_dir
  const auto codes = wait_all(launch(2, "sweep", args, tmp + "/log"));
  ASSERT_EQ(codes, (std::vector<int>{0, 0})) << logs(tmp + "/log", 2);
  const std::string log0 = read_text_file(tmp + "/log.0");
  EXPECT_CONTAINS(log0, "== sweep: collect, autoencoder, diffusion shared with");  // the second point's zoo and generators
  EXPECT_CONTAINS(log0, "ae: data-parallel over 2 ranks (5 of each batch's 10 rows on rank 0)");  // both trained
  const auto sweep = nlohmann::json::parse(read_text_file(out + "/eta.json"));
  ASSERT_EQ(sweep["points"].size(), 2u) << sweep.dump(2);
  for (const auto& point : sweep["points"])
    EXPECT_TRUE(file_exists(point["run_dir"].get<std::string>() + "/report.json")) << point.dump();
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

TEST(DistributedCli, RanksWithOtherSettingsStopNamingTheKey) {
  const std::string tmp = test::temp_dir("dist_mismatch");
  const auto codes = wait_all(launch(2, "generate", settings(tmp + "/run"), tmp + "/log",
                                     [](int r) { return r == 1 ? "generate.n=11" : ""; }),
                              120);
  EXPECT_EQ(codes, (std::vector<int>{1, 1})) << logs(tmp + "/log", 2);
  for (int r = 0; r < 2; ++r)
    EXPECT_CONTAINS(read_text_file(tmp + "/log." + std::to_string(r)),
                    "rank 1's pdiff version and settings differs from rank 0's: 'generate.n: 11' against 'generate.n: 10'");
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

// A hung rank, then a dead rank 0, on one run: the others stop with a clear error each time,
// what was finished stays, and a relaunch completes.
TEST(DistributedCli, AHungOrDeadRankStopsTheOthersAndARelaunchCompletes) {
  const std::string tmp = test::temp_dir("dist_kill"), run = tmp + "/run";
  {
    const auto pids = launch(2, "run", test::tiny_pipeline(run) + " generate.batch=3 dist.timeout=5 ae.steps=100000",
                             tmp + "/hang");
    // Stopped while both train the autoencoder, rank 1 sends no gradients: rank 0 waits
    // dist.timeout in the step's sum and stops naming it.
    ASSERT_TRUE(wait_for_line(tmp + "/hang.0", "== train: running")) << logs(tmp + "/hang", 2);
    kill(pids[1], SIGSTOP);
    const auto codes = wait_all({pids[0]}, 300);
    kill(pids[1], SIGKILL);
    waitpid(pids[1], nullptr, 0);
    EXPECT_EQ(codes[0], 1) << logs(tmp + "/hang", 2);
    const std::string log = read_text_file(tmp + "/hang.0");
    EXPECT_CONTAINS(log, "rank 0 of 2: ae training: summing the gradients of step");
    EXPECT_CONTAINS(log, "another rank died, hung past dist.timeout = 5 s");
    EXPECT_FALSE(file_exists(run + "/ae.pt"));
    ASSERT_TRUE(file_exists(run + "/zoo.pt"));  // what was finished stays
  }
  {
    const auto pids = launch(2, "run", settings(run) + " ae.steps=100000", tmp + "/kill");  // a long training
    // Both ranks train the autoencoder, data-parallel. Kill rank 0 in the middle.
    ASSERT_TRUE(wait_for_line(tmp + "/kill.0", "ae training")) << logs(tmp + "/kill", 2);
    EXPECT_CONTAINS(read_text_file(tmp + "/kill.0"), "== collect: up to date, skipped");
    kill(pids[0], SIGKILL);
    const auto start = std::chrono::steady_clock::now();
    const auto codes = wait_all(pids, 120);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(codes[1], 1) << logs(tmp + "/kill", 2);
    EXPECT_LT(seconds, 60) << "rank 1 noticed rank 0's death only after " << seconds << " s";
    EXPECT_CONTAINS(read_text_file(tmp + "/kill.1"), "rank 1 of 2: ae training: summing the gradients of step");
  }
  // The relaunch (short training now) keeps the zoo.
  const auto again = wait_all(launch(2, "run", settings(run), tmp + "/again"));
  ASSERT_EQ(again, (std::vector<int>{0, 0})) << logs(tmp + "/again", 2);
  EXPECT_CONTAINS(read_text_file(tmp + "/again.0"), "== collect: up to date, skipped");
  EXPECT_TRUE(file_exists(run + "/report.json"));
  if (!::testing::Test::HasFailure()) test::run_command("rm -rf '" + tmp + "'");
}

}  // namespace
}  // namespace pdiff::distributed_cli_test
