// Tests of the experiment configuration: defaults, YAML files with nested sections,
// command-line overrides, error messages that name the key, the to_yaml round trip,
// fingerprints, the `paper` recipe preset and the shipped benchmark config.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "core/config.h"
#include "core/error.h"
#include "data/dataset.h"
#include "test_util.h"

namespace pdiff::config_test {
namespace {

std::string write_yaml(const std::string& text) {
  std::string path = test::temp_dir("config") + "/exp.yaml";
  std::ofstream(path) << text;
  return path;
}

// Runs fn, expects a pdiff::Error whose message contains every one of `parts`.
// Values compare as numbers for Float keys ("5.0e-4" and "5e-4" are the same value), as text
// otherwise.
// data.augment compares as the resolved policy ("true" and "auto" are the same).
bool same_value(const Config& a, const Config& b, const std::string& key) {
  const KeyDef* d = find_key(key);
  if (d && d->type == KeyType::Float) return a.f(key) == b.f(key);
  if (key == "data.augment")
    return resolve_augment(a.s("data.name"), a.s(key)).description() ==
           resolve_augment(b.s("data.name"), b.s(key)).description();
  return a.s(key) == b.s(key);
}

template <typename Fn>
void expect_error(Fn fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected pdiff::Error containing '" << parts.front() << "'";
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

TEST(Config, DefaultsResolve) {
  Config cfg;
  for (const auto& k : config_keys()) {
    ASSERT_TRUE(cfg.values().count(k.key)) << k.key;
    // Every default passes its own validation.
    Config c2;
    EXPECT_NO_THROW(c2.set(k.key, k.default_value, "test")) << k.key;
    EXPECT_EQ(c2.s(k.key), cfg.s(k.key)) << k.key;
  }
  EXPECT_EQ(cfg.values().size(), config_keys().size());
  EXPECT_EQ(cfg.i("zoo.k"), 200);
  EXPECT_EQ(cfg.s("model.arch"), "convnet4");
  EXPECT_DOUBLE_EQ(cfg.f("base.lr"), 0.05);
  EXPECT_EQ(cfg.s("data.augment"), "auto");
  // A list default parses into its elements.
  const std::string& ch = find_key("ae.channels")->default_value;
  auto list = cfg.ilist("ae.channels");
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list.size(), static_cast<size_t>(std::count(ch.begin(), ch.end(), ',') + 1)) << ch;
  EXPECT_EQ(std::to_string(list.front()), ch.substr(0, ch.find(','))) << ch;
  // load("") is the defaults too.
  EXPECT_EQ(Config::load("").values(), cfg.values());
  EXPECT_NE(find_key("zoo.k"), nullptr);
  EXPECT_EQ(find_key("zoo.nope"), nullptr);
}

TEST(Config, NestedYamlFileLoads) {
  std::string path = write_yaml(
      "seed: 7\n"
      "data:\n"
      "  name: mnist\n"
      "  augment: false\n"
      "  train_limit: 1000\n"
      "model:\n"
      "  arch: mlp\n"
      "  mlp_hidden: [256, 64]\n"
      "zoo:\n"
      "  k: 33\n"
      "  lr: 2.5e-3\n"
      "  select: \"bn3.*,fc.weight\"\n");
  Config cfg = Config::load(path);
  EXPECT_EQ(cfg.i("seed"), 7);
  EXPECT_EQ(cfg.s("data.name"), "mnist");
  EXPECT_EQ(cfg.s("data.augment"), "false");
  EXPECT_EQ(cfg.i("data.train_limit"), 1000);
  EXPECT_EQ(cfg.s("model.arch"), "mlp");
  EXPECT_EQ(cfg.ilist("model.mlp_hidden"), (std::vector<int64_t>{256, 64}));
  EXPECT_EQ(cfg.i("zoo.k"), 33);
  EXPECT_DOUBLE_EQ(cfg.f("zoo.lr"), 2.5e-3);
  EXPECT_EQ(cfg.s("zoo.select"), "bn3.*,fc.weight");
  // Untouched keys keep their defaults.
  EXPECT_EQ(cfg.i("base.epochs"), 3);
  EXPECT_EQ(cfg.s("zoo.mode"), "iteration");
}

TEST(Config, OverrideApplies) {
  Config cfg = Config::load("", {"zoo.k=50", "data.augment=false", "model.mlp_hidden=32,16"});
  EXPECT_EQ(cfg.i("zoo.k"), 50);
  EXPECT_EQ(cfg.s("data.augment"), "false");
  EXPECT_EQ(cfg.ilist("model.mlp_hidden"), (std::vector<int64_t>{32, 16}));
  // Overrides win over the file.
  std::string path = write_yaml("zoo:\n  k: 33\n");
  EXPECT_EQ(Config::load(path).i("zoo.k"), 33);
  EXPECT_EQ(Config::load(path, {"zoo.k=50"}).i("zoo.k"), 50);
  // A value containing '=' keeps everything after the first '='.
  EXPECT_EQ(Config::load("", {"run_dir=/tmp/a=b"}).s("run_dir"), "/tmp/a=b");
}

TEST(Config, UnknownKeyInFileNamesKeyAndFile) {
  std::string path = write_yaml("zoo:\n  k: 10\n  foo: 1\n");
  expect_error([&] { Config::load(path); }, {"zoo.foo", path});
  std::string top = write_yaml("bogus: 3\n");
  expect_error([&] { Config::load(top); }, {"bogus", top});
}

TEST(Config, UnknownKeyOverride) {
  expect_error([] { Config::load("", {"zoo.foo=1"}); }, {"zoo.foo", "command line"});
  // The hint lists keys of the section.
  expect_error([] { Config::load("", {"zoo.foo=1"}); }, {"zoo.k"});
}

TEST(Config, WrongTypeNamesKey) {
  expect_error([] { Config::load("", {"zoo.k=abc"}); }, {"zoo.k", "abc"});
  expect_error([] { Config::load("", {"zoo.k=1.5"}); }, {"zoo.k"});
  expect_error([] { Config::load("", {"zoo.lr=fast"}); }, {"zoo.lr"});
  expect_error([] { Config::load("", {"data.augment=maybe"}); }, {"data.augment"});
  expect_error([] { Config::load("", {"ae.channels=64,x"}); }, {"ae.channels"});
  std::string path = write_yaml("zoo:\n  k: abc\n");
  expect_error([&] { Config::load(path); }, {"zoo.k", path});
}

TEST(Config, OutOfRangeNamesKey) {
  expect_error([] { Config::load("", {"zoo.k=0"}); }, {"zoo.k", ">= 1"});
  expect_error([] { Config::load("", {"zoo.k=-5"}); }, {"zoo.k"});
  expect_error([] { Config::load("", {"base.momentum=1.5"}); }, {"base.momentum"});
  expect_error([] { Config::load("", {"ae.channels=64,0"}); }, {"ae.channels"});
}

TEST(Config, BadChoiceNamesKeyAndChoices) {
  expect_error([] { Config::load("", {"model.arch=foo"}); }, {"model.arch", "foo", "convnet4", "resnet18"});
  std::string path = write_yaml("data:\n  name: imagenet\n");
  expect_error([&] { Config::load(path); }, {"data.name", path});
}

TEST(Config, OverrideWithoutEquals) {
  expect_error([] { Config::load("", {"zoo.k"}); }, {"zoo.k", "section.key=value"});
  expect_error([] { Config::load("", {"=5"}); }, {"=5"});
  // Found by fuzz/fuzz_config.cpp: a name too long for the file system made the "is it a
  // file?" hint throw std::filesystem_error instead of the override's own error.
  const std::string long_name(5000, 'a');
  expect_error([&] { Config::load("", {long_name}); }, {"section.key=value"});
}

// Found by fuzz/fuzz_config.cpp: a non-UTF-8 byte in a string value was accepted and came
// back as U+FFFD from the saved config.yaml, so a resumed run saw another run_dir.
TEST(Config, ValuesMustBeUtf8AndSurviveTheRoundTrip) {
  std::string path = write_yaml("run_dir: runs/caf\xe9\n");
  expect_error([&] { Config::load(path); }, {"run_dir", "UTF-8", path});
  expect_error([] { Config::load("", {"run_dir=runs/\xc0\xaf"}); }, {"run_dir", "UTF-8"});  // overlong '/'
  expect_error([] { Config::load("", {"run_dir=runs/\xed\xa0\x80"}); }, {"run_dir", "UTF-8"});  // surrogate
  Config cfg = Config::load("", {"run_dir=runs/caf\xc3\xa9-\xf0\x9f\x99\x82"});  // é and an emoji
  Config again = Config::from_yaml_text(cfg.to_yaml(), "round trip");
  EXPECT_EQ(again.s("run_dir"), "runs/caf\xc3\xa9-\xf0\x9f\x99\x82");
}

// Found by fuzz/fuzz_config.cpp: a list as a key escaped as yaml-cpp's "bad conversion".
TEST(Config, AKeyThatIsNotANameIsAClearError) {
  std::string path = write_yaml("zoo:\n  [1, 2]: 5\n");
  expect_error([&] { Config::load(path); }, {path, "line 2", "'zoo'", "plain name"});
  path = write_yaml("{a: 1}: 5\n");
  expect_error([&] { Config::load(path); }, {path, "plain name"});
}

TEST(Config, AugmentResolvesPerDataset) {
  // auto: flip for fashion-mnist, none for mnist, flip+crop for CIFAR (pad 4) and STL-10 (pad 12).
  const std::vector<std::pair<std::string, std::string>> auto_policy = {
      {"fashion-mnist", "flip"}, {"mnist", "none"}, {"cifar10", "flip+crop(pad 4)"},
      {"cifar100", "flip+crop(pad 4)"}, {"stl10", "flip+crop(pad 12)"}};
  for (const auto& [name, want] : auto_policy) {
    Config def = Config::load("", {"data.name=" + name});
    EXPECT_EQ(resolve_augment(name, def.s("data.augment")).description(), want) << name;
    // true = auto, false = none, from a file as well as the command line.
    Config t = Config::load(write_yaml("data:\n  name: " + name + "\n  augment: true\n"));
    EXPECT_EQ(resolve_augment(name, t.s("data.augment")).description(), want) << name;
    Config f = Config::load("", {"data.name=" + name, "data.augment=false"});
    EXPECT_EQ(resolve_augment(name, f.s("data.augment")).description(), "none") << name;
  }
  Config crop = Config::load("", {"data.name=cifar10", "data.augment=crop"});
  EXPECT_EQ(resolve_augment("cifar10", crop.s("data.augment")).description(), "crop(pad 4)");
  // An invalid value is refused naming the key, when the config is read and when resolved.
  expect_error([] { Config::load("", {"data.augment=rotate"}); }, {"data.augment", "rotate"});
  expect_error([] { resolve_augment("stl10", "rotate"); }, {"data.augment", "rotate"});
}

TEST(Config, InvalidYaml) {
  std::string path = write_yaml("zoo: [unclosed\n");
  expect_error([&] { Config::load(path); }, {path});
  expect_error([] { Config::load("/nonexistent/pdiff.yaml"); }, {"/nonexistent/pdiff.yaml"});
}

TEST(Config, YamlRoundTrip) {
  Config cfg = Config::load("", {"zoo.k=50", "data.name=cifar100", "model.mlp_hidden=7,8,9",
                                 "zoo.select=bn3.*,fc.weight", "run_dir=/tmp/x y: z", "zoo.lr=0.125",
                                 "data.augment=false", "eval.tsne=false", "recipe=paper"});
  Config back = Config::from_yaml_text(cfg.to_yaml(), "round trip");
  EXPECT_EQ(back.values(), cfg.values()) << cfg.to_yaml();
  // Defaults as well.
  Config def;
  EXPECT_EQ(Config::from_yaml_text(def.to_yaml(), "defaults").values(), def.values());
  // The YAML is nested by section.
  std::string y = def.to_yaml();
  EXPECT_NE(y.find("zoo:"), std::string::npos) << y;
  EXPECT_EQ(y.find("zoo.k"), std::string::npos) << y;
  // A saved config.yaml loads back as the same config.
  std::string dir = test::temp_dir("config_save");
  { std::ofstream(dir + "/config.yaml") << cfg.to_yaml(); }
  EXPECT_EQ(Config::load(dir + "/config.yaml").values(), cfg.values());
}

TEST(Config, Fingerprint) {
  Config a;
  const std::vector<std::string> prefixes = {"seed", "data.", "zoo."};
  std::string fa = a.fingerprint(prefixes);
  EXPECT_EQ(fa.size(), 16u);
  EXPECT_EQ(fa, Config().fingerprint(prefixes));  // stable
  for (const std::string& covered : {"zoo.k=50", "data.train_limit=10", "seed=1", "zoo.lr=0.02"}) {
    Config b = Config::load("", {covered});
    EXPECT_NE(b.fingerprint(prefixes), fa) << covered;
  }
  for (const std::string& uncovered : {"ae.steps=10", "generate.n=5", "model.arch=mlp", "run_dir=/tmp/other"}) {
    Config b = Config::load("", {uncovered});
    EXPECT_EQ(b.fingerprint(prefixes), fa) << uncovered;
  }
  // Setting a key to its default value does not change it either.
  EXPECT_EQ(Config::load("", {"zoo.k=200"}).fingerprint(prefixes), fa);
}

TEST(Config, PaperRecipePresetsUnsetKeysOnly) {
  Config def;
  Config paper = Config::load("", {"recipe=paper", "ae.steps=77", "ldm.channels=8,16"});
  // Explicit keys are kept.
  EXPECT_EQ(paper.i("ae.steps"), 77);
  EXPECT_EQ(paper.ilist("ldm.channels"), (std::vector<int64_t>{8, 16}));
  // Unset ae.* / ldm.* keys take the paper's values.
  EXPECT_DOUBLE_EQ(paper.f("ae.lr"), 2e-5);
  EXPECT_DOUBLE_EQ(paper.f("ldm.lr"), 1e-4);
  EXPECT_EQ(paper.i("ldm.steps"), 1000);
  EXPECT_EQ(paper.i("ldm.batch"), 50);
  EXPECT_NE(paper.f("ae.lr"), def.f("ae.lr"));
  // Sampling is the official one too: ancestral DDPM over all T steps, unless set explicitly.
  EXPECT_EQ(paper.s("generate.sampler"), "ddpm");
  EXPECT_EQ(def.s("generate.sampler"), "ddim");
  EXPECT_EQ(Config::load("", {"recipe=paper", "generate.sampler=ddim"}).s("generate.sampler"), "ddim");
  // Other keys are untouched.
  for (const auto& [k, v] : def.values())
    if (k.rfind("ae.", 0) != 0 && k.rfind("ldm.", 0) != 0 && k != "recipe" && k != "generate.sampler")
      EXPECT_EQ(paper.s(k), v) << k;
  // Explicit keys from a file are kept too.
  std::string path = write_yaml("recipe: paper\nae:\n  lr: 3.0e-3\n");
  Config from_file = Config::load(path);
  EXPECT_DOUBLE_EQ(from_file.f("ae.lr"), 3e-3);
  EXPECT_EQ(from_file.i("ldm.steps"), 1000);
  // The default recipe presets nothing.
  EXPECT_EQ(Config::load("", {"recipe=default"}).f("ae.lr"), def.f("ae.lr"));
}

TEST(Config, AnIntegerKeyMayAcceptItsWord) {
  Config def;
  EXPECT_TRUE(def.is_word("ldm.subspace"));
  EXPECT_EQ(def.s("ldm.subspace"), "auto");
  Config set = Config::load("", {"ldm.subspace=24"});
  EXPECT_FALSE(set.is_word("ldm.subspace"));
  EXPECT_EQ(set.i("ldm.subspace"), 24);
  try {
    Config::load("", {"ldm.subspace=many"});
    FAIL() << "a word the key does not list was accepted";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), "ldm.subspace");
    EXPECT_CONTAINS(std::string(e.what()), "expected an integer or auto");
  }
  EXPECT_THROW(Config::load("", {"ldm.subspace=-3"}), Error);
  EXPECT_THROW(Config::load("", {"zoo.k=auto"}), Error);  // only keys that list the word take it
  // The paper recipe is the official generator: the whole latent, no position channels.
  Config paper = Config::load("", {"recipe=paper"});
  EXPECT_EQ(paper.i("ldm.subspace"), 0);
  EXPECT_EQ(paper.i("ldm.position"), 0);
  EXPECT_EQ(def.i("ldm.position"), 16);
}

TEST(Config, BenchmarkConfigMatchesSpecDefaults) {
  const std::string path = test::source_dir() + "/configs/fmnist-convnet4.yaml";
  Config file = Config::load(path);
  Config def;
  // Every key SPEC section 5 fixes.
  const std::vector<std::string> spec_keys = {
      "seed",          "data.name",         "data.augment", "model.arch",        "base.epochs",
      "base.optimizer", "base.lr",           "base.momentum", "base.weight_decay", "base.batch",
      "zoo.k",             "zoo.mode",     "zoo.optimizer",     "zoo.lr",
      "zoo.weight_decay", "zoo.batch",      "generate.n"};
  for (const auto& k : spec_keys) EXPECT_TRUE(same_value(file, def, k)) << k << ": " << file.s(k) << " vs " << def.s(k);
  // And the values themselves are SPEC section 5's.
  EXPECT_EQ(file.i("seed"), 0);
  EXPECT_EQ(file.s("data.name"), "fashion-mnist");
  EXPECT_EQ(resolve_augment(file.s("data.name"), file.s("data.augment")).description(), "flip");
  EXPECT_EQ(file.s("model.arch"), "convnet4");
  // Spelled out in the file; the default `auto` resolves to the same for convnet4 (layout tests).
  EXPECT_EQ(file.s("zoo.select"), "last_norm:2");
  EXPECT_EQ(file.i("base.epochs"), 3);
  EXPECT_EQ(file.s("base.optimizer"), "sgd");
  EXPECT_DOUBLE_EQ(file.f("base.lr"), 0.05);
  EXPECT_DOUBLE_EQ(file.f("base.momentum"), 0.9);
  EXPECT_DOUBLE_EQ(file.f("base.weight_decay"), 5e-4);
  EXPECT_EQ(file.i("base.batch"), 128);
  EXPECT_EQ(file.s("zoo.select"), "last_norm:2");
  EXPECT_EQ(file.i("zoo.k"), 200);
  EXPECT_EQ(file.s("zoo.mode"), "iteration");
  EXPECT_EQ(file.s("zoo.optimizer"), "adamw");
  EXPECT_DOUBLE_EQ(file.f("zoo.lr"), 1e-2);
  EXPECT_DOUBLE_EQ(file.f("zoo.weight_decay"), 5e-4);
  EXPECT_EQ(file.i("zoo.batch"), 128);
  EXPECT_EQ(file.i("generate.n"), 100);
  // The data root, if set, is the Debian package's folder.
  if (!file.s("data.root").empty()) EXPECT_EQ(file.s("data.root"), "/usr/share/datasets/fashion-mnist");
}

}  // namespace
}  // namespace pdiff::config_test
