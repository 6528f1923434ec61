#include "zoo/zoo_file.h"

#include <cstdio>

#include "core/error.h"
#include "io/file_io.h"
#include "io/pt_reader.h"
#include "io/pt_writer.h"

namespace pdiff {

namespace {
const char* kZooHint = "re-create it with `pdiff collect`";
}

namespace {
DictFile zoo_dict(const Zoo& zoo) {
  DictFile f;
  f.set_tensor("params", zoo.params.to(torch::kFloat32));  // first: io/rows_writer.h
  f.set_tensor("accuracy", zoo.accuracy.to(torch::kFloat32));
  f.set_tensor("predictions", zoo.predictions);
  zoo.layout.save(f);
  f.set("arch", zoo.arch);
  f.set("config", zoo.config_yaml);
  f.set("fingerprint", zoo.fingerprint);
  f.set("base_accuracy", zoo.base_accuracy);
  f.set("collect_seconds", zoo.collect_seconds);
  return f;
}
}  // namespace

void save_zoo(const std::string& path, const Zoo& zoo) { zoo_dict(zoo).save(path, "pdiff.zoo", kZooFormatVersion); }

void finish_zoo(RowsWriter& rows, Zoo zoo, const std::string& path) {
  zoo.params = rows.written();
  rows.finish(zoo_dict(zoo), "pdiff.zoo", kZooFormatVersion, path);
}

Zoo load_zoo(const std::string& path) {
  DictFile f = DictFile::load(path, "pdiff.zoo", kZooFormatVersion, kZooHint);
  Zoo z;
  z.params = f.tensor("params");
  z.accuracy = f.tensor("accuracy");
  z.predictions = f.tensor("predictions");
  z.layout = ParamLayout::load(f);
  z.arch = f.str("arch");
  z.config_yaml = f.str("config");
  z.fingerprint = f.str("fingerprint");
  z.base_accuracy = f.number("base_accuracy");
  z.collect_seconds = f.number("collect_seconds");
  check(z.params.dim() == 2 && z.params.size(1) == z.layout.dim(),
        path + ": params has shape " + c10::str(z.params.sizes()) + " but the layout says D = " +
            std::to_string(z.layout.dim()) + "; " + kZooHint);
  check(z.accuracy.dim() == 1 && z.accuracy.size(0) == z.params.size(0),
        path + ": accuracy does not have one entry per checkpoint; " + kZooHint);
  check(z.predictions.dim() == 2 && z.predictions.size(0) == z.params.size(0),
        path + ": predictions do not have one row per checkpoint; " + kZooHint);
  return z;
}

void save_base(const std::string& path, const Classifier& model) {
  DictFile f;
  for (const auto& [name, t] : state_dict(model)) f.set_tensor(name, t.detach());
  save_pt_atomic(path, c10::IValue(f.dict()));
}

Classifier load_base(const std::string& path, const ClassifierSpec& spec, const torch::Device& device) {
  // A plain state dict, perhaps written by Python: the zip CRC-32s guard its bytes (pt_reader.h),
  // and weights must be finite.
  c10::IValue v = read_pt(path, kZooHint);
  check(v.isGenericDict(), path + ": expected a state dict (a dict of tensors); " + kZooHint);
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& kv : v.toGenericDict()) {
    check(kv.key().isString(), path + ": a state dict's keys are strings; " + kZooHint);
    check(kv.value().isTensor(), path + ": entry '" + kv.key().toStringRef() + "' is not a tensor");
    state.emplace_back(kv.key().toStringRef(), kv.value().toTensor());
  }
  check_finite_tensors(v.toGenericDict(), path, kZooHint);
  Classifier model = make_classifier(spec);
  load_state_dict(model, state, path + " (model.arch = " + spec.arch + ")");
  model->to(device);
  return model;
}

ClassifierSpec classifier_spec(const ModelOptions& opts, const DataSplits& data) {
  ClassifierSpec spec;
  spec.arch = opts.arch;
  spec.file = opts.file;
  check(spec.file.empty() || spec.arch == "torchscript",
        "model.file is read only with model.arch=torchscript (model.arch is " + spec.arch + ")");
  spec.in_channels = data.channels;
  spec.image_size = data.image_size;
  spec.num_classes = data.num_classes;
  spec.mlp_hidden = opts.mlp_hidden;
  spec.vit_patch = opts.vit_patch;
  return spec;
}

}  // namespace pdiff
