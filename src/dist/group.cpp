#include "dist/group.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "core/runtime.h"

namespace pdiff {

namespace {

struct Group {
  Launch launch;
  std::chrono::seconds timeout{300};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;  // a ProcessGroup in 1.13, a Backend in 2.x: used as itself
  int64_t steps = 0;  // store keys are numbered per call: every rank makes the same calls in order
  bool solo = false;  // rank 0 inside on_main_rank: the others wait, so it works as one process
  bool joined() const { return pg && !solo; }
};

Group& group() {
  static Group g;
  return g;
}

// c10d reports a dead or hung peer as a c10::Error deep in Gloo; the user needs the step.
template <class F>
void collective(const std::string& what, F&& f, const std::string& hint = "") {
  try {
    f();
  } catch (const std::exception& e) {
    std::string cause = e.what();
    cause = cause.substr(0, cause.find('\n'));
    const std::string why = !hint.empty() ? hint
                                          : "another rank died, hung past dist.timeout = " +
                                                std::to_string(group().timeout.count()) + " s, or left early";
    throw Error("rank " + std::to_string(group().launch.rank) + " of " + std::to_string(group().launch.world) +
                ": " + what + " failed: " + why + " (" + cause +
                "); the run directory keeps what was finished: launch the job again to resume");
  }
}

std::string text_of(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

}  // namespace

void join_group(const Launch& launch, const DistOptions& opts) {
  Group& g = group();
  if (g.pg || g.launch.several()) return;
  g.launch = launch;
  g.timeout = opts.timeout;
  set_process_rank(launch.rank);
  if (!launch.several()) return;
  check(opts.backend == "auto" || opts.backend == "gloo",
        "dist.backend = " + opts.backend + ": this build has Gloo only (NCCL needs a CUDA build of pdiff); use auto or gloo");
  const std::string where = launch.master_addr + ":" + std::to_string(launch.master_port);
  collective("joining the job at " + where, [&] {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(launch.master_port);
    // torchrun's agent already serves a store there (TORCHELASTIC_USE_AGENT_STORE): every rank
    // is its client, under a prefix of its own per restart, as torch.distributed does.
    so.isServer = launch.rank == 0 && !launch.agent_store;
    so.numWorkers = launch.world;
    so.waitWorkers = true;
    so.timeout = opts.timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, so);
    g.store = c10::make_intrusive<c10d::PrefixStore>("pdiff/" + std::to_string(launch.restart), tcp);
    auto po = c10d::ProcessGroupGloo::Options::create(opts.timeout);
    // Which interface Gloo's own connections use, as torch.distributed picks it: those named by
    // GLOO_SOCKET_IFNAME (comma-separated), else the address this machine's hostname resolves to.
    const char* ifnames = std::getenv("GLOO_SOCKET_IFNAME");
    std::stringstream names(ifnames != nullptr ? ifnames : "");
    for (std::string name; std::getline(names, name, ',');)
      if (!name.empty()) po->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    if (po->devices.empty()) po->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    po->threads = 2;
    g.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g.store, launch.rank, launch.world, po);
  }, launch.rank == 0 && !launch.agent_store
         ? "rank 0 could not serve the rendezvous there: is MASTER_PORT taken by another job? choose another"
         : "no rendezvous reached there within dist.timeout: is rank 0 running, and MASTER_ADDR:MASTER_PORT its "
           "address?");
  std::fprintf(stderr, "dist: rank %d of %d (%s; local %d of %d), Gloo over %s:%d, timeout %lld s\n", launch.rank,
               launch.world, launch.launcher.c_str(), launch.local_rank, launch.local_world,
               launch.master_addr.c_str(), launch.master_port, (long long)opts.timeout.count());
}

int dist_rank() { return group().launch.rank; }
int dist_world() { return group().joined() ? group().launch.world : 1; }
const Launch& dist_launch() { return group().launch; }

void dist_barrier(const std::string& what) {
  Group& g = group();
  if (!g.joined()) return;
  collective(what, [&] { g.pg->barrier()->wait(); });
}

void dist_check_same(const std::string& label, const std::string& text) {
  Group& g = group();
  if (!g.joined()) return;
  const std::string key = "check" + std::to_string(g.steps++) + "/";
  std::vector<std::string> texts(g.launch.world);
  collective("comparing the ranks' " + label, [&] {
    g.store->set(key + std::to_string(g.launch.rank), std::vector<uint8_t>(text.begin(), text.end()));
    for (int r = 0; r < g.launch.world; ++r) texts[r] = text_of(g.store->get(key + std::to_string(r)));
  });
  for (int r = 1; r < g.launch.world; ++r) {
    if (texts[r] == texts[0]) continue;
    std::istringstream a(texts[0]), b(texts[r]);
    std::string la, lb;
    while (true) {
      const bool more_a = static_cast<bool>(std::getline(a, la)), more_b = static_cast<bool>(std::getline(b, lb));
      if (!more_a) la = "(nothing)";
      if (!more_b) lb = "(nothing)";
      if (la != lb || (!more_a && !more_b)) break;
    }
    throw Error("rank " + std::to_string(r) + "'s " + label + " differs from rank 0's: '" + lb + "' against '" + la +
                "'; every rank must run the same pdiff with the same settings (the same command and files on "
                "every machine)");
  }
}

void dist_check_same_weights(const torch::nn::Module& module, const std::string& what) {
  if (!group().joined()) return;
  std::ostringstream sums;
  sums << std::hexfloat;
  for (const auto& t : module.named_parameters()) {
    const torch::Tensor v = t.value().detach().to(torch::kFloat64);
    sums << t.key() << " " << v.sum().item<double>() << " " << v.square().sum().item<double>() << "\n";
  }
  for (const auto& t : module.named_buffers()) {
    const torch::Tensor v = t.value().detach().to(torch::kFloat64);
    sums << t.key() << " " << v.sum().item<double>() << "\n";
  }
  dist_check_same(what, sums.str());
}

Share share_of(int64_t n, int rank, int world) {
  const int64_t base = n / world, extra = n % world;
  Share s;
  s.begin = rank * base + std::min<int64_t>(rank, extra);
  s.end = s.begin + base + (rank < extra ? 1 : 0);
  return s;
}

torch::Tensor dist_gather_rows(const torch::Tensor& mine, const std::vector<int64_t>& counts, const std::string& what) {
  Group& g = group();
  if (!g.joined()) return mine;
  const int world = g.launch.world;
  check(static_cast<int>(counts.size()) == world && mine.size(0) == counts[g.launch.rank],
        "dist_gather_rows: " + what + ": rank " + std::to_string(g.launch.rank) + " holds " +
            std::to_string(mine.size(0)) + " rows, not its count");
  // Gloo gathers equal sizes: every rank's rows padded to the most any rank has.
  const int64_t longest = *std::max_element(counts.begin(), counts.end());
  std::vector<int64_t> shape = mine.sizes().vec();
  shape[0] = longest;
  torch::Tensor padded = torch::zeros(shape, mine.options().device(torch::kCPU));
  if (mine.size(0) > 0) padded.narrow(0, 0, mine.size(0)).copy_(mine);
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < world; ++r) out[0].push_back(torch::empty_like(padded));
  std::vector<at::Tensor> in{padded};
  collective(what, [&] { g.pg->allgather(out, in)->wait(); });
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < world; ++r) parts.push_back(out[0][r].narrow(0, 0, counts[r]));
  return torch::cat(parts);
}

void dist_sum(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  Group& g = group();
  if (!g.joined() || tensors.empty()) return;
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors) flat.push_back(t.reshape({-1}));
  std::vector<at::Tensor> buffer{torch::cat(flat)};
  collective(what, [&] { g.pg->allreduce(buffer)->wait(); });
  int64_t at = 0;
  for (const auto& t : tensors) {
    t.copy_(buffer[0].narrow(0, at, t.numel()).view_as(t));
    at += t.numel();
  }
}

torch::Tensor dist_scatter_rows(const torch::Tensor& rows, const std::vector<int64_t>& counts, const std::string& what) {
  Group& g = group();
  if (!g.joined()) return rows;
  const int world = g.launch.world, rank = g.launch.rank;
  check(static_cast<int>(counts.size()) == world, "dist_scatter_rows: " + what + ": one count per rank expected");
  // Gloo scatters equal sizes: every rank's rows padded to the most any rank gets.
  const int64_t longest = *std::max_element(counts.begin(), counts.end());
  std::vector<int64_t> shape = rows.sizes().vec();
  shape[0] = longest;
  const auto options = rows.options().device(torch::kCPU);
  std::vector<at::Tensor> out{torch::empty(shape, options)};
  std::vector<std::vector<at::Tensor>> in;
  if (rank == 0) {
    in.emplace_back();
    int64_t at = 0;
    for (int r = 0; r < world; ++r) {
      torch::Tensor padded = torch::zeros(shape, options);
      if (counts[r] > 0) padded.narrow(0, 0, counts[r]).copy_(rows.narrow(0, at, counts[r]));
      at += counts[r];
      in[0].push_back(padded);
    }
    check(at == rows.size(0), "dist_scatter_rows: " + what + ": " + std::to_string(rows.size(0)) +
                                  " rows for counts that add up to " + std::to_string(at));
  }
  c10d::ScatterOptions so;
  so.rootRank = 0;
  collective(what, [&] { g.pg->scatter(out, in, so)->wait(); });
  return out[0].narrow(0, 0, counts[rank]);
}

int64_t dist_broadcast_int(int64_t value, const std::string& what) {
  Group& g = group();
  if (!g.joined()) return value;
  std::vector<int64_t> counts(g.launch.world, 0);
  counts[0] = 1;
  const torch::Tensor mine = g.launch.rank == 0 ? torch::full({1}, value, torch::kInt64) : torch::empty({0}, torch::kInt64);
  return dist_gather_rows(mine, counts, what)[0].item<int64_t>();
}

std::string dist_broadcast_text(const std::string& text, const std::string& what) {
  Group& g = group();
  if (!g.joined()) return text;
  const std::string key = "text" + std::to_string(g.steps++);
  std::string out = text;
  collective(what, [&] {
    if (g.launch.rank == 0)
      g.store->set(key, std::vector<uint8_t>(text.begin(), text.end()));
    else
      out = text_of(g.store->get(key));
  });
  return out;
}

void on_main_rank(const std::string& what, const std::function<void()>& fn) {
  Group& g = group();
  if (!g.joined()) return fn();
  const std::string key = "main" + std::to_string(g.steps++);
  if (g.launch.rank == 0) {
    std::string outcome = "ok";
    try {
      g.solo = true;
      fn();
      g.solo = false;
    } catch (const std::exception& e) {
      g.solo = false;
      outcome = std::string("error: ") + e.what();
      g.store->set(key, std::vector<uint8_t>(outcome.begin(), outcome.end()));
      throw;
    }
    g.store->set(key, std::vector<uint8_t>(outcome.begin(), outcome.end()));
    return;
  }
  std::fprintf(stderr, "dist: rank %d waits while rank 0 runs %s\n", g.launch.rank, what.c_str());
  std::string outcome;
  try {
    g.store->wait({key}, std::chrono::hours(24 * 365));
    outcome = text_of(g.store->get(key));
  } catch (const std::exception& e) {
    std::string cause = e.what();
    throw Error("rank " + std::to_string(g.launch.rank) + ": rank 0 stopped answering during " + what + " (" +
                cause.substr(0, cause.find('\n')) + "): it died or was killed; its run directory keeps what was "
                "finished: launch the job again to resume");
  }
  if (outcome != "ok") throw Error("rank 0 stopped in " + what + ": " + outcome.substr(7));
}

}  // namespace pdiff
