// Trustworthy files: every kind of `.pt` file pdiff writes, with random bytes changed, is
// refused with an error naming the file (or, where the change hit bytes that carry nothing,
// loads unchanged); a corrupt tensor is named; malformed zips and pickles are refused without
// reaching LibTorch; files written by Python still load; non-finite weights are refused.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <set>

#include "io/file_io.h"
#include "zoo/optim.h"
#include "io/pt_reader.h"
#include "io/zip_reader.h"
#include "gen/generate.h"
#include "gen/model_files.h"
#include "gen/trainer.h"
#include "test_util.h"
#include "zoo/zoo_file.h"

namespace pdiff::file_checks_test {
namespace {

using namespace std::string_literals;

// ---- tiny files of every kind, written through the library ----

ClassifierSpec tiny_spec() {
  ClassifierSpec s;
  s.arch = "mlp";
  s.image_size = 4;
  s.num_classes = 3;
  s.mlp_hidden = {5};
  return s;
}

struct Kind {
  std::string name;                                // file name, e.g. "zoo.pt"
  std::function<void(const std::string&)> write;   // through the library
  std::function<void(const std::string&)> load;    // the loader pdiff uses for it
};

std::vector<Kind> kinds() {
  torch::manual_seed(7);
  Classifier model = make_classifier(tiny_spec());
  ParamLayout layout = ParamLayout::of(model, select_parameters(model, "all"));
  const int64_t D = layout.dim();
  auto optim_state = [model](DictFile& f) {
    std::vector<torch::Tensor> params;
    for (auto& p : model->parameters()) params.push_back(p.detach().clone());
    AdamW(params, 0.1).save_state(f, "optim");
  };
  std::vector<Kind> out;
  out.push_back({"zoo.pt",
                 [=](const std::string& p) {
                   Zoo z;
                   z.params = torch::randn({3, D});
                   z.accuracy = torch::rand({3}) * 100;
                   z.predictions = torch::randint(0, 3, {3, 7}, torch::kUInt8);
                   z.layout = layout;
                   z.arch = "mlp";
                   z.config_yaml = "seed: 0\n";
                   z.fingerprint = "abc";
                   save_zoo(p, z);
                 },
                 [](const std::string& p) { load_zoo(p); }});
  out.push_back({"base.pt", [=](const std::string& p) { save_base(p, model); },
                 [](const std::string& p) { load_base(p, tiny_spec()); }});
  out.push_back({"ae.pt",
                 [=](const std::string& p) {
                   AutoencoderConfig c;
                   c.channels = {2, 2};
                   c.kernel = 3;
                   c.latent = 4;
                   torch::Tensor zoo = torch::randn({3, D});
                   AeModel m;
                   m.standardizer = Standardizer(zoo, layout, c.pad_multiple());
                   c.dim = m.standardizer.padded_dim();
                   m.kind = "conv";
                   m.net = Autoencoder(c).ptr();
                   m.layout = layout;
                   save_ae(p, m, "seed: 0\n");
                 },
                 [](const std::string& p) { load_ae(p); }});
  out.push_back({"ae_tokens.pt",
                 [=](const std::string& p) {
                   std::vector<int64_t> sizes;
                   for (const auto& e : layout.entries()) sizes.push_back(e.numel);
                   AeModel m;
                   m.kind = "tokens";
                   m.standardizer = Standardizer(torch::randn({3, D}), layout, 1, true);
                   m.net = TokenAutoencoder(TokenAutoencoderConfig{sizes, /*token=*/4, /*hidden=*/4,
                                                                   /*token_latent=*/2}).ptr();
                   m.layout = layout;
                   save_ae(p, m, "seed: 0\n");
                 },
                 [](const std::string& p) { load_ae(p); }});
  out.push_back({"ldm.pt",
                 [=](const std::string& p) {
                   DenoiserConfig c;
                   c.length = 4;
                   c.channels = {2, 2};
                   c.kernel = 3;
                   c.time_dim = 4;
                   LdmModel m;
                   m.ema = Denoiser(c);
                   m.beta_start = 1e-4, m.beta_end = 2e-2;
                   m.schedule = NoiseSchedule::linear(10, m.beta_start, m.beta_end);
                   m.latent_mean = torch::randn({4});
                   m.latent_min = -torch::ones({4});
                   m.latent_max = torch::ones({4});
                   m.layout = layout;
                   save_ldm(p, m, "seed: 0\n");
                 },
                 [](const std::string& p) { load_ldm(p); }});
  out.push_back({"generated.pt",
                 [=](const std::string& p) {  // the keys generate() writes
                   DictFile f;
                   f.set_tensor("params", torch::randn({2, D}));
                   f.set_tensor("accuracy", torch::rand({2}));
                   f.set_tensor("predictions", torch::randint(0, 3, {2, 7}, torch::kUInt8));
                   layout.save(f);
                   for (const char* k : {"sampler", "config", "fingerprint", "zoo_fingerprint"}) f.set(k, std::string("x"));
                   f.set("steps", int64_t{10});
                   f.set("seed", int64_t{1});
                   f.set("sample_seconds", 1.0);
                   f.set("eval_seconds", 1.0);
                   f.save(p, "pdiff.generated", kGeneratedFormatVersion);
                 },
                 [](const std::string& p) { load_generated(p); }});
  out.push_back({"zoo.partial.pt",
                 [=](const std::string& p) {  // the keys collect_checkpoints() writes
                   DictFile f;
                   torch::Tensor all = torch::randn({5, D});
                   f.set_tensor("params", all.slice(0, 0, 2));
                   f.set_tensor("current", all[2]);
                   optim_state(f);
                   f.set("done", int64_t{2});
                   f.set("iteration", int64_t{2});
                   f.set("fingerprint", std::string("abc"));
                   f.save(p, "pdiff.zoo_partial", 1);
                 },
                 [](const std::string& p) { DictFile::load(p, "pdiff.zoo_partial", 1, "delete it to start over"); }});
  out.push_back({"base.partial.pt",
                 [=](const std::string& p) {  // the keys train_base() writes
                   DictFile f;
                   for (const auto& [name, t] : state_dict(model)) f.set_tensor("model." + name, t.detach());
                   optim_state(f);
                   f.set("epoch", int64_t{1});
                   f.set("fingerprint", std::string("abc"));
                   f.save(p, "pdiff.base_partial", 1);
                 },
                 [](const std::string& p) { DictFile::load(p, "pdiff.base_partial", 1, "delete it to start over"); }});
  out.push_back({"ae.partial.pt",
                 [=](const std::string& p) {  // the keys run_training() writes
                   DictFile f;
                   save_module(*model, f, "model.");
                   optim_state(f);
                   f.set("step", int64_t{5});
                   f.set("steps", int64_t{10});
                   f.set_tensor("losses", torch::rand({10}));
                   f.set("fingerprint", std::string("abc"));
                   f.save(p, "pdiff.train_partial", 1);
                 },
                 [](const std::string& p) { DictFile::load(p, "pdiff.train_partial", 1, "delete it to start over"); }});
  return out;
}

// Deep equality of what two files hold.
bool same(const c10::IValue& a, const c10::IValue& b) {
  if (a.isTensor() != b.isTensor() || a.tagKind() != b.tagKind()) return false;
  if (a.isTensor()) {
    const auto &x = a.toTensor(), &y = b.toTensor();
    return x.scalar_type() == y.scalar_type() && x.sizes() == y.sizes() && torch::equal(x, y);
  }
  if (a.isGenericDict()) {
    auto da = a.toGenericDict(), db = b.toGenericDict();
    if (da.size() != db.size()) return false;
    for (auto ia = da.begin(), ib = db.begin(); ia != da.end(); ++ia, ++ib)
      if (!same(ia->key(), ib->key()) || !same(ia->value(), ib->value())) return false;
    return true;
  }
  if (a.isList() || a.isTuple()) {
    auto la = a.isList() ? a.toListRef().vec() : a.toTupleRef().elements().vec();
    auto lb = b.isList() ? b.toListRef().vec() : b.toTupleRef().elements().vec();
    if (la.size() != lb.size()) return false;
    for (size_t i = 0; i < la.size(); ++i)
      if (!same(la[i], lb[i])) return false;
    return true;
  }
  if (a.isString()) return a.toStringRef() == b.toStringRef();
  if (a.isInt()) return a.toInt() == b.toInt();
  if (a.isDouble()) {
    const double x = a.toDouble(), y = b.toDouble();
    return std::memcmp(&x, &y, sizeof x) == 0;
  }
  if (a.isBool()) return a.toBool() == b.toBool();
  return a.isNone() && b.isNone();
}

// ---- hand-made pickles (wrapped in archives with correct CRC-32s by write_stored_zip) ----

void put(std::string& b, uint64_t v, int n) {  // little-endian, as pickle opcodes want
  for (int i = 0; i < n; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::string X(const std::string& s) {  // BINUNICODE
  std::string b = "X";
  put(b, s.size(), 4);
  return b + s;
}
std::string J(int64_t v) {  // BININT
  std::string b = "J";
  put(b, static_cast<uint32_t>(v), 4);
  return b;
}
// A pickled tensor of a float storage with `numel` elements, key "0".
std::string tensor_pickle(int64_t numel, int64_t offset, std::vector<int64_t> size, std::vector<int64_t> stride) {
  std::string s = "ctorch._utils\n_rebuild_tensor_v2\n((" + X("storage") + "ctorch\nFloatStorage\n" + X("0") + X("cpu") +
                  J(numel) + "tQ" + J(offset) + "(";
  for (auto v : size) s += J(v);
  s += "t(";
  for (auto v : stride) s += J(v);
  return s + "t\x89" "ccollections\nOrderedDict\n)RtR";
}
std::string dict_of(const std::string& value_pickle) { return "\x80\x02}(" + X("w") + value_pickle + "u."; }

std::string write_pt(const std::string& dir, const std::string& pickle, const std::string& storage = "") {
  const std::string path = dir + "/hand.pt";
  std::vector<std::pair<std::string, std::string>> e = {{"archive/data.pkl", pickle}, {"archive/version", "3\n"}};
  if (!storage.empty()) e.push_back({"archive/data/0", storage});
  write_file_atomic(path, write_stored_zip(e));
  return path;
}

// ---- the tests ----

TEST(FileChecks, RandomByteChangesInEveryFileKindAreRefusedOrHarmless) {
  const std::string dir = test::temp_dir("mutation");
  int refused = 0, harmless = 0;
  std::vector<Kind> ks = kinds();
  for (size_t k = 0; k < ks.size(); ++k) {
    const Kind& kind = ks[k];
    const std::string good = dir + "/good_" + kind.name, path = dir + "/" + kind.name;
    kind.write(good);
    ASSERT_NO_THROW(kind.load(good)) << kind.name;
    const std::string bytes = read_text_file(good);
    const c10::IValue original = read_pt(good, "");
    // The bytes that carry content: every zip entry's data (the pickle, the tensors).
    std::vector<std::pair<uint64_t, uint64_t>> content;
    const ZipReader zip(bytes, good);
    for (const auto& e : zip.entries()) content.emplace_back(e.data_offset, e.data_offset + e.size);
    std::mt19937_64 rng(1000 + k);
    for (int trial = 0; trial < 40; ++trial) {
      std::string m = bytes;
      std::vector<uint64_t> flipped;
      const int n = 1 + static_cast<int>(rng() % 16);
      for (int i = 0; i < n; ++i) {
        const uint64_t at = rng() % m.size();
        m[at] = static_cast<char>(m[at] ^ (1 + rng() % 255));
        flipped.push_back(at);
      }
      if (m == bytes) continue;
      write_file_atomic(path, m);
      try {
        kind.load(path);
        // Loaded: only acceptable if the content is exactly the original and no content byte changed.
        ++harmless;
        EXPECT_TRUE(same(read_pt(path, ""), original)) << kind.name << " trial " << trial << " loaded other content";
        for (uint64_t at : flipped)
          for (const auto& [begin, end] : content)
            EXPECT_FALSE(at >= begin && at < end && m[at] != bytes[at])
                << kind.name << " trial " << trial << ": byte " << at << " of an entry's data changed, yet it loaded";
      } catch (const Error& e) {
        ++refused;
        EXPECT_CONTAINS(e.what(), path);
      } catch (const std::exception& e) {
        ADD_FAILURE() << kind.name << " trial " << trial << ": not a pdiff::Error: " << e.what();
      }
    }
  }
  std::cout << "mutations: " << refused << " refused, " << harmless << " harmless (zip padding and metadata)\n";
  EXPECT_GT(refused, 0);
  test::run_command("rm -rf '" + dir + "'");
}

TEST(FileChecks, ACorruptTensorIsNamed) {
  const std::string dir = test::temp_dir("corrupt_tensor");
  for (const Kind& kind : kinds()) {
    if (kind.name != "zoo.pt" && kind.name != "base.pt") continue;
    const std::string path = dir + "/" + kind.name;
    kind.write(path);
    const std::string bytes = read_text_file(path);
    std::set<std::string> named;
    const ZipReader zip(bytes, path);
    for (const auto& e : zip.entries()) {
      if (e.name.find("/data/") == std::string::npos || e.size == 0) continue;
      std::string m = bytes;
      m[e.data_offset + e.size / 2] ^= 0x10;
      write_file_atomic(path, m);
      const std::string msg = test::error_of([&] { kind.load(path); });
      EXPECT_CONTAINS(msg, path + ": tensor '");
      EXPECT_CONTAINS(msg, "is corrupt (checksum mismatch); re-create it with `pdiff collect`");
      named.insert(msg.substr(msg.find("tensor '") + 8, msg.find("' is corrupt") - msg.find("tensor '") - 8));
    }
    if (kind.name == "zoo.pt") {
      EXPECT_EQ(named, (std::set<std::string>{"params", "accuracy", "predictions", "base_accuracy", "collect_seconds"}));
    } else {
      EXPECT_EQ(named.size(), state_dict(make_classifier(tiny_spec())).size());
    }
  }
  // The pickle itself: named as a zip entry.
  const std::string path = dir + "/zoo.pt";
  kinds()[0].write(path);
  std::string bytes = read_text_file(path);
  ZipReader zip(bytes, path);
  const ZipEntry* pkl = zip.find("archive/data.pkl");
  ASSERT_NE(pkl, nullptr);
  bytes[pkl->data_offset + 3] ^= 1;
  write_file_atomic(path, bytes);
  EXPECT_CONTAINS(test::error_of([&] { load_zoo(path); }), path + ": zip entry 'archive/data.pkl' is corrupt");
  test::run_command("rm -rf '" + dir + "'");
}

TEST(FileChecks, TruncatedAndRandomFilesAreRefused) {
  const std::string dir = test::temp_dir("truncated");
  const std::string good = dir + "/good.pt", path = dir + "/zoo.pt";
  kinds()[0].write(good);
  const std::string bytes = read_text_file(good);
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 64) {
    write_file_atomic(path, bytes.substr(0, n));
    EXPECT_CONTAINS(test::error_of([&] { load_zoo(path); }), path + ":");
  }
  std::mt19937_64 rng(5);
  for (int i = 0; i < 50; ++i) {
    std::string junk(rng() % 3000, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    if (i % 2) junk += bytes.substr(bytes.size() - 22);  // with a zip end record
    write_file_atomic(path, junk);
    EXPECT_CONTAINS(test::error_of([&] { DictFile::load_any(path); }), path + ":");
  }
  test::run_command("rm -rf '" + dir + "'");
}

// Changed pickles inside a zip whose CRC-32s are right: the unpickler itself must hold.
TEST(FileChecks, ChangedPicklesWithValidChecksumsNeverReachLibTorch) {
  const std::string dir = test::temp_dir("pickles");
  const std::string good = dir + "/good.pt";
  kinds()[0].write(good);
  const std::string bytes = read_text_file(good);
  ZipReader zip(bytes, good);
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& e : zip.entries()) entries.emplace_back(e.name, std::string(zip.data(e)));
  size_t pkl = 0;
  while (entries[pkl].first != "archive/data.pkl") ++pkl;
  std::mt19937_64 rng(11);
  int loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    auto e = entries;
    std::string& p = e[pkl].second;
    const int n = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < n; ++i) p[rng() % p.size()] ^= static_cast<char>(1 + rng() % 255);
    if (trial % 3 == 0) p = p.substr(0, rng() % p.size());
    const std::string path = dir + "/zoo.pt";
    write_file_atomic(path, write_stored_zip(e));
    try {
      load_zoo(path);
      ++loaded;  // e.g. a changed character inside a string
    } catch (const Error& err) {
      EXPECT_CONTAINS(err.what(), path);
    } catch (const std::exception& err) {
      ADD_FAILURE() << "trial " << trial << ": not a pdiff::Error: " << err.what();
    }
  }
  std::cout << "changed pickles: " << loaded << " of 300 still valid zoo files\n";
  test::run_command("rm -rf '" + dir + "'");
}

TEST(FileChecks, MalformedPicklesAreRefused) {
  const std::string dir = test::temp_dir("bad_pickles");
  const std::string four_floats(16, '\0');
  // A well-formed hand-made file loads (the builder is right).
  {
    const std::string path = write_pt(dir, dict_of(tensor_pickle(4, 1, {3}, {1})), four_floats);
    DictFile f = DictFile::load_any(path);
    EXPECT_EQ(f.tensor("w").sizes(), (std::vector<int64_t>{3}));
  }
  std::string deep = "\x80\x02";
  for (int i = 0; i < 40; ++i) deep += "]";
  for (int i = 0; i < 39; ++i) deep += "a";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {".", "STOP with a stack of 0"},
      {"\x80\x02}", "truncated"},
      {"\x80\x02]q\x00h\x00" "a."s, "container inside itself"},
      {"\x80\x02]q\x00]q\x01h\x00" "a0h\x01" "a."s, "change of a container after its use"},
      {deep + ".", "nesting deeper than 32"},
      {"\x80\x02h\x05.", "GET of a missing memo entry"},
      {"\x80\x02\x8a\x09" + std::string(9, '\x01') + ".", "integer wider than 64 bits"},
      {"\x80\x02}(]K\x01u.", "dict key of type"},
      {"\x80\x02(K\x01t.", "STOP with a stack of 1"},  // mark left open: tuple closes it; not a dict
      {"\x80\x02K\x01K\x02.", "STOP with a stack of 2"},
      {"\x80\x02" "cos\nsystem\n(" + X("ls") + "tR.", "unsupported global 'os.system'"},
      {"\x80\x02" "ctorch\nFloatStorage\n)R.", "REDUCE of a storage type"},
      {"\x80\x02" "\xff.", "unsupported opcode 255"},
      {dict_of(tensor_pickle(1000, 0, {3}, {1})), "storage '0' of 1000 elements in an entry of 16 bytes"},
      {dict_of(tensor_pickle(4, 0, {5}, {1})), "tensor larger than its storage"},
      {dict_of(tensor_pickle(4, 2, {3}, {1})), "tensor outside its storage"},
      {dict_of(tensor_pickle(4, 0, {2, 2}, {3, 1})), "tensor outside its storage"},
      {dict_of(tensor_pickle(4, 0, {int64_t(1) << 30}, {0})), "tensor larger than its storage"},
      {dict_of(tensor_pickle(4, 0, {-1}, {1})), "bad tensor size or stride"},
  };
  for (const auto& [pickle, expect] : cases) {
    const std::string path = write_pt(dir, pickle, four_floats);
    const std::string msg = test::error_of([&] { DictFile::load_any(path); });
    if (expect == "STOP with a stack of 1") {
      EXPECT_CONTAINS(msg, path + ": expected a dict at the top level");
      continue;
    }
    EXPECT_CONTAINS(msg, path + ": not a valid .pt file (pickle: " + expect);
  }
  // A storage entry that is missing.
  const std::string path = write_pt(dir, dict_of(tensor_pickle(4, 0, {4}, {1})));
  EXPECT_CONTAINS(test::error_of([&] { DictFile::load_any(path); }), "no entry for storage '0'");
  test::run_command("rm -rf '" + dir + "'");
}

TEST(FileChecks, PythonWrittenFilesLoadAndTheirCorruptionIsNamed) {
  const std::string dir = test::temp_dir("python_pt");
  const std::string base = dir + "/base.pt", py = dir + "/py.pt", bad = dir + "/nan.pt";
  kinds()[1].write(base);
  const std::string script =
      "import sys, torch, collections\n"
      "d = sys.argv[1]\n"
      "sd = torch.load(d + '/base.pt')\n"
      "torch.save(collections.OrderedDict((k, v * 2) for k, v in sd.items()), d + '/py_base.pt')\n"
      "x = torch.arange(12, dtype=torch.float32).reshape(3, 4)\n"
      "torch.save({'t': x.t(), 'half': torch.tensor([1.5], dtype=torch.half), 'i': torch.arange(3),\n"
      "            'b': torch.tensor([True, False, True]), 'nested': {'a': [x[1], 7, 'z', 2.5, None]}, 'n': 3}, d + '/py.pt')\n"
      "sd[next(iter(sd))].view(-1)[0] = float('nan')\n"
      "torch.save(sd, d + '/nan.pt')\n";
  write_file_atomic(dir + "/w.py", script);
  std::string out;
  ASSERT_EQ(test::run_command("/usr/bin/python3 '" + dir + "/w.py' '" + dir + "'", &out), 0) << out;

  DictFile f = DictFile::load_any(py);
  auto x = torch::arange(12, torch::kFloat32).reshape({3, 4});
  EXPECT_TRUE(torch::equal(f.tensor("t"), x.t()));
  EXPECT_EQ(f.tensor("half").scalar_type(), torch::kHalf);
  EXPECT_TRUE(torch::equal(f.tensor("i"), torch::arange(3)));
  EXPECT_EQ(f.tensor("b").scalar_type(), torch::kBool);
  EXPECT_EQ(f.integer("n"), 3);
  const c10::IValue list = f.dict().at("nested").toGenericDict().at("a");
  auto nested = list.toListRef();
  ASSERT_EQ(nested.size(), 5u);
  EXPECT_TRUE(torch::equal(nested[0].toTensor(), x[1]));
  EXPECT_EQ(nested[2].toStringRef(), "z");

  // A state dict rewritten by Python loads as weights, and equals twice the original.
  Classifier a = load_base(base, tiny_spec()), b = load_base(dir + "/py_base.pt", tiny_spec());
  for (const auto& [name, t] : state_dict(a)) {
    bool found = false;
    for (const auto& [n2, t2] : state_dict(b))
      if (n2 == name) {
        found = true;
        EXPECT_TRUE(torch::allclose(t2, t * 2)) << name;
      }
    EXPECT_TRUE(found) << name;
  }
  // Non-finite weights are refused, naming file and tensor.
  EXPECT_CONTAINS(test::error_of([&] { load_base(bad, tiny_spec()); }),
                  bad + ": tensor '" + state_dict(a)[0].first + "' holds NaN or infinity");
  // Python's zip CRC-32s guard its tensors too.
  std::string bytes = read_text_file(py);
  ZipReader zip(bytes, py);
  for (const auto& e : zip.entries())
    if (e.name.find("/data/") != std::string::npos && e.size == 2) bytes[e.data_offset] ^= 4;  // the half tensor
  write_file_atomic(py, bytes);
  EXPECT_CONTAINS(test::error_of([&] { DictFile::load_any(py); }), py + ": tensor 'half' is corrupt");
  test::run_command("rm -rf '" + dir + "'");
}

TEST(FileChecks, NonFiniteBaseWeightsAreRefused) {
  const std::string dir = test::temp_dir("nonfinite");
  Classifier m = make_classifier(tiny_spec());
  {
    torch::NoGradGuard ng;
    m->named_parameters()[m->named_parameters().keys().back()].fill_(INFINITY);
  }
  save_base(dir + "/base.pt", m);
  EXPECT_CONTAINS(test::error_of([&] { load_base(dir + "/base.pt", tiny_spec()); }),
                  dir + "/base.pt: tensor '" + m->named_parameters().keys().back() + "' holds NaN or infinity");
  test::run_command("rm -rf '" + dir + "'");
}

// Run by hand: build-files/pdiff_tests --gtest_also_run_disabled_tests --gtest_filter='*Overhead*'
}  // namespace
}  // namespace pdiff::file_checks_test
