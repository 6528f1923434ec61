#include "models/classifier.h"

#include <map>

#include "core/error.h"
#include "core/run_context.h"
#include "models/convnet4.h"
#include "models/mlp.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "models/convnext.h"
#include "models/torchscript.h"

namespace pdiff {

torch::Tensor ClassifierImpl::forward_range(torch::Tensor x, int64_t from, int64_t to) {
  for (int64_t i = from; i < to; ++i) x = forward_stage(i, x);
  return x;
}

bool params_use(const std::vector<std::string>& params, const std::vector<std::string>& names) {
  for (const auto& prefix : params)
    for (const auto& n : names) {
      const bool is_prefix = !prefix.empty() && prefix.back() == '.';
      if (is_prefix ? n.compare(0, prefix.size(), prefix) == 0 : n == prefix) return true;
    }
  return false;
}

bool ClassifierImpl::stage_uses(int64_t i, const std::vector<std::string>& names) const {
  return params_use(stage_params(i), names);
}

int64_t ClassifierImpl::first_stage_using(const std::vector<std::string>& names) const {
  for (int64_t i = 0; i < num_stages(); ++i)
    if (stage_uses(i, names)) return i;
  throw Error("internal: no stage of the classifier uses any of the selected parameters");
}

std::vector<std::string> ClassifierImpl::norm_layers() const {
  std::vector<std::string> out;
  for (const auto& item : named_modules("", /*include_self=*/false)) {
    const std::string type = item.value()->name();
    if (type.find("Norm") != std::string::npos && !item.value()->named_parameters(false).is_empty())
      out.push_back(item.key());
  }
  return out;
}

std::string ClassifierImpl::default_selection() const {
  if (norm_layers().size() >= 2) return "last_norm:2";
  std::string last;
  for (const auto& p : named_parameters()) last = p.key();
  return last.substr(0, last.rfind('.'));  // the module of the last parameter, e.g. "fc2"
}

torch::Tensor ClassifierImpl::prepare_input(torch::Tensor x) const {
  x = x.to(device_of(*this));  // data stay on the CPU; a batch moves where the model is
  return channels_last() && x.dim() == 4 ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

Classifier make_classifier(const ClassifierSpec& spec) {
  Classifier model;
  if (spec.arch == "mlp") model = std::make_shared<MlpImpl>(spec);
  else if (spec.arch == "convnet4") model = std::make_shared<ConvNet4Impl>(spec);
  else if (spec.arch == "resnet18") model = std::make_shared<ResNetImpl>(spec, 18);
  else if (spec.arch == "resnet50") model = std::make_shared<ResNetImpl>(spec, 50);
  else if (spec.arch == "vit_tiny") model = std::make_shared<VitImpl>(spec);
  else if (spec.arch == "convnext_tiny") model = std::make_shared<ConvNextImpl>(spec);
  else if (spec.arch == "torchscript") model = std::make_shared<TorchScriptImpl>(spec);
  else
    throw Error("model.arch: unknown architecture '" + spec.arch +
                "'; use mlp, convnet4, resnet18, resnet50, vit_tiny, convnext_tiny or torchscript");
  if (model->channels_last()) {
    torch::NoGradGuard ng;
    for (auto& p : model->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  return model;
}

Classifier clone_classifier(const Classifier& model, const ClassifierSpec& spec) {
  Classifier copy = make_classifier(spec);
  load_state_dict(copy, state_dict(model), "clone");
  copy->to(device_of(*model));
  copy->train(model->is_training());
  return copy;
}

std::vector<std::pair<std::string, torch::Tensor>> state_dict(const Classifier& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : model->named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : model->named_buffers()) out.emplace_back(b.key(), b.value());
  return out;
}

void load_state_dict(const Classifier& model,
                     const std::vector<std::pair<std::string, torch::Tensor>>& state,
                     const std::string& origin) {
  std::map<std::string, torch::Tensor> by_name(state.begin(), state.end());
  torch::NoGradGuard no_grad;
  auto copy_into = [&](const std::string& name, torch::Tensor& dst) {
    auto it = by_name.find(name);
    check(it != by_name.end(), origin + ": missing tensor '" + name + "' for this architecture");
    check(it->second.sizes() == dst.sizes(),
          origin + ": tensor '" + name + "' has shape " + c10::str(it->second.sizes()) +
              ", the model expects " + c10::str(dst.sizes()));
    dst.copy_(it->second);
  };
  for (auto& p : model->named_parameters()) copy_into(p.key(), p.value());
  for (auto& b : model->named_buffers()) copy_into(b.key(), b.value());
}

}  // namespace pdiff
