#include "models/torchscript.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/version.h>

#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "io/file_io.h"

namespace pdiff {

namespace {

// The class name of a scripted module: "BatchNorm2d" of "__torch__.torch.nn.modules.batchnorm.BatchNorm2d".
std::string type_name(const torch::jit::Module& m) {
  const std::string q = m.type()->name() ? m.type()->name()->qualifiedName() : "";
  return q.substr(q.rfind('.') == std::string::npos ? 0 : q.rfind('.') + 1);
}

bool is_norm(const std::string& type) {
  return type.rfind("BatchNorm", 0) == 0 || type.rfind("InstanceNorm", 0) == 0 || type == "LayerNorm" ||
         type == "GroupNorm";
}

// A torch::nn module standing for one scripted submodule (its name is the scripted type's).
class Mirror : public torch::nn::Module {
 public:
  explicit Mirror(const std::string& type) : torch::nn::Module(type) {}
};

// Registers `src`'s parameters, buffers and submodules on `dst` under the same names; the
// tensors are the module's own, so an update through either side is seen by both.
void mirror(torch::nn::Module& dst, const torch::jit::Module& src, const std::string& prefix,
            std::vector<std::string>& names, std::vector<std::string>& norms) {
  bool has_params = false;
  for (const auto& p : src.named_parameters(/*recurse=*/false)) {
    dst.register_parameter(p.name, p.value, p.value.requires_grad());
    names.push_back(prefix + p.name);
    has_params = true;
  }
  for (const auto& b : src.named_buffers(/*recurse=*/false)) dst.register_buffer(b.name, b.value);
  if (!prefix.empty() && has_params && is_norm(type_name(src))) norms.push_back(prefix.substr(0, prefix.size() - 1));
  for (const auto& c : src.named_children()) {
    auto child = std::make_shared<Mirror>(type_name(c.value));
    mirror(*child, c.value, prefix + c.name + ".", names, norms);
    dst.register_module(c.name, child);
  }
}

std::string first_line(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

// The cause of a TorchScript interpreter error: its message opens with "The following operation
// failed ..." and a traceback, and ends with the Python-style "RuntimeError: <cause>" line.
std::string cause_of(const std::string& s) {
  std::string cause, line;
  std::istringstream lines(s);
  while (std::getline(lines, line)) {
    const auto colon = line.find("Error: ");
    if (colon != std::string::npos && line.find(' ') > colon) cause = line;  // "RuntimeError: ...", no space before
  }
  return cause.empty() ? first_line(s) : first_line(cause);
}

}  // namespace

TorchScriptImpl::TorchScriptImpl(const ClassifierSpec& spec) : flatten_input_(spec.image_size == 1) {
  const std::string where = "model.file = " + spec.file;
  check(!spec.file.empty(), "model.file: set it to a TorchScript module (torch.jit.script(model).save(PATH)) "
                            "for model.arch=torchscript");
  check(file_exists(spec.file), where + ": file not found");
  try {
    module_ = torch::jit::load(spec.file, torch::kCPU);
  } catch (const std::exception& e) {
    throw Error(where + ": not a TorchScript module this LibTorch (" + std::string(TORCH_VERSION) +
                ") reads (save it with torch.jit.script(model).save(PATH) or torch.jit.trace(model, example).save(PATH); "
                "a module from a newer PyTorch needs pdiff built against it: scripts/install.sh --torch PYTHON): " +
                first_line(e.what()));
  }
  mirror(*this, module_, "", names_, norms_);
  check(!names_.empty(), where + ": the module has no parameters (a scripted function, or weights frozen into "
                                 "constants by torch.jit.freeze?); save the module itself with torch.jit.script(model).save(PATH)");
  for (const auto& p : module_.named_parameters())
    check(p.value.scalar_type() == torch::kFloat32,
          where + ": parameter '" + p.name + "' is " + std::string(c10::toString(p.value.scalar_type())) +
              "; pdiff trains float32 modules (call model.float() before saving)");

  // One forward pass on two zero inputs in eval mode: the output must be [2, classes].
  torch::Tensor x = flatten_input_ ? torch::zeros({2, spec.in_channels})
                                   : torch::zeros({2, spec.in_channels, spec.image_size, spec.image_size});
  torch::Tensor y;
  {
    torch::NoGradGuard ng;
    module_.eval();
    try {
      c10::IValue out = module_.forward({x});
      check(out.isTensor(), where + ": forward returned a " + out.tagKind() +
                                ", not a tensor of logits; script a wrapper whose forward returns the logits alone");
      y = out.toTensor();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(where + ": forward failed on an input of shape " + c10::str(x.sizes()) + " (the data's shape): " +
                  cause_of(e.what()) + "; check that the module takes this shape (model.file, data.*)");
    }
    module_.train();
  }
  check(y.dim() == 2 && y.size(0) == 2 && y.size(1) == spec.num_classes,
        where + ": forward on an input of shape " + c10::str(x.sizes()) + " returned shape " + c10::str(y.sizes()) +
            "; a classifier must return logits [batch, classes] = [2, " + std::to_string(spec.num_classes) +
            "] for this data");
  channels_last_ = !flatten_input_ && accepts_channels_last(x);  // make_classifier converts the weights
}

bool TorchScriptImpl::accepts_channels_last(const torch::Tensor& zeros) {
  std::vector<torch::Tensor> weights;
  for (auto& p : parameters())
    if (p.dim() == 4) weights.push_back(p);
  if (weights.empty()) return false;
  torch::NoGradGuard ng;
  // A varied input: on zeros a forward that reorders features could still agree.
  const torch::Tensor x = torch::linspace(-2.0, 2.0, zeros.numel()).sin().view(zeros.sizes());
  module_.eval();
  const torch::Tensor y = module_.forward({x}).toTensor();
  for (auto& w : weights) w.set_data(w.contiguous(torch::MemoryFormat::ChannelsLast));  // the module's own tensors
  bool same = false;
  try {
    c10::IValue out = module_.forward({x.contiguous(torch::MemoryFormat::ChannelsLast)});
    same = out.isTensor() && out.toTensor().sizes() == y.sizes() && torch::allclose(out.toTensor(), y, 1e-4, 1e-5);
  } catch (const std::exception&) {
    // e.g. "view size is not compatible with input tensor's size and stride": stay NCHW
  }
  module_.train();
  for (auto& w : weights) w.set_data(w.contiguous());
  return same;
}

torch::Tensor TorchScriptImpl::forward_stage(int64_t i, torch::Tensor x) {
  if (flatten_input_) x = x.flatten(1);
  return module_.forward({x}).toTensor();
}

bool TorchScriptImpl::prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) {
  chunks_.clear();
  ++generation_;
  split_ = ScriptSplit{};
  if (start != 0) return false;
  split_ = split_forward(module_, selected);
  std::fprintf(stderr, "eval: TorchScript %s\n", split_.summary.c_str());
  return static_cast<bool>(split_);
}

torch::Tensor TorchScriptImpl::fast_tail_cache(int64_t start, const torch::Tensor& h) {
  check(split_ && !is_training(), "TorchScript fast tail: call prepare_fast_tail first, in eval mode");
  std::vector<c10::IValue> stack{module_._ivalue(), flatten_input_ ? h.flatten(1) : h};
  split_.prefix->run(stack);
  const auto& values = stack.at(0).toTupleRef().elements();
  check(values.size() == split_.frontier, "internal: the TorchScript prefix returned " +
                                              std::to_string(values.size()) + " values, expected " +
                                              std::to_string(split_.frontier));
  chunks_.emplace_back(values.begin(), values.end());
  return torch::tensor({generation_, static_cast<int64_t>(chunks_.size()) - 1});
}

torch::Tensor TorchScriptImpl::fast_tail_forward(int64_t start, const torch::Tensor& cached) {
  check(split_ && !is_training(), "TorchScript fast tail: call prepare_fast_tail first, in eval mode");
  check(cached.dim() == 1 && cached.size(0) == 2 && cached.scalar_type() == torch::kInt64,
        "TorchScript fast tail: not a key from fast_tail_cache");
  const auto key = cached.accessor<int64_t, 1>();  // (generation, chunk)
  check(key[0] == generation_ && key[1] >= 0 && key[1] < static_cast<int64_t>(chunks_.size()),
        "TorchScript fast tail: this chunk was cached before the last prepare_fast_tail; cache it again");
  const auto& values = chunks_[key[1]];
  std::vector<c10::IValue> stack{module_._ivalue()};
  stack.insert(stack.end(), values.begin(), values.end());
  split_.tail->run(stack);
  return stack.at(0).toTensor();
}

void TorchScriptImpl::save_module(const std::string& path) {
  const bool was_training = is_training();
  eval();
  const std::string tmp = path + ".tmp";
  try {
    module_.save(tmp);
  } catch (const std::exception& e) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot write the TorchScript module: " + first_line(e.what()));
  }
  train(was_training);
  check(std::rename(tmp.c_str(), path.c_str()) == 0, path + ": cannot write (is the directory writable?)");
}

void TorchScriptImpl::train(bool on) {
  ClassifierImpl::train(on);
  module_.train(on);
}

}  // namespace pdiff
