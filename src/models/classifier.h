// The interface every classifier implements. A forward pass is a sequence of stages so that
// the frozen prefix of a network can be computed once and only the tail re-run when the
// trained subset changes (zoo/tail_evaluator.h). Parameter names follow PyTorch's state dicts.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace pdiff {

// The model.* keys; a ClassifierSpec adds what the dataset decides (zoo/zoo_file.h).
struct ModelOptions {
  std::string arch = "convnet4";     // "mlp", "convnet4", "resnet18", ..., "torchscript"
  std::string file;                  // the TorchScript module of arch "torchscript"
  std::vector<int64_t> mlp_hidden = {128};
  int64_t vit_patch = 4;
};

struct ClassifierSpec {
  std::string arch;                // "mlp", "convnet4", "resnet18", ..., "torchscript"
  std::string file;                // model.file: the TorchScript module of arch "torchscript"
  int64_t in_channels = 1;
  int64_t image_size = 28;
  int64_t num_classes = 10;
  std::vector<int64_t> mlp_hidden = {128};
  int64_t vit_patch = 4;
};

class ClassifierImpl : public torch::nn::Module {
 public:
  virtual ~ClassifierImpl() = default;
  virtual int64_t num_stages() const = 0;
  // Applies stage i (0-based) to the output of stage i-1 (stage 0 receives the images).
  virtual torch::Tensor forward_stage(int64_t i, torch::Tensor x) = 0;
  // Names (or name prefixes ending in '.') of the parameters stage i uses.
  virtual std::vector<std::string> stage_params(int64_t i) const = 0;
  // The layers inside stage i whose inputs forward_stage_showing shows, each as the names (or
  // prefixes) of the parameters that read that input; by default the stage as one layer. A
  // ResNet shows every op of its blocks, so that the activations of a block's inner channels
  // can be seen (zoo/activation_matching.h).
  virtual std::vector<std::vector<std::string>> stage_layers(int64_t i) const { return {stage_params(i)}; }
  // Runs stage i as forward_stage does and hands `seen` the input of each of stage_layers(i),
  // by its index there.
  using LayerInputs = std::function<void(size_t layer, const torch::Tensor& input)>;
  virtual torch::Tensor forward_stage_showing(int64_t i, torch::Tensor x, const LayerInputs& seen) {
    seen(0, x);
    return forward_stage(i, x);
  }
  // Whether 2-D convolutions here prefer channels-last memory (faster with oneDNN on CPU).
  virtual bool channels_last() const { return false; }

  // Whether a training batch may be split over workers or ranks (zoo/split_batch_step.h)
  // with the same result as one pass: no batch statistics, or batch norms that share them
  // across the split (kernels/batch_sync.h).
  virtual bool supports_split_batches() const { return false; }
  // Whether splitting a batch over the cores of one process, one worker per core, is faster
  // than one pass on all of them (measured for the MLP and ConvNet-4: small oneDNN operators).
  virtual bool splits_faster_on_cores() const { return false; }

  // Optional faster evaluation (eval mode) of stages [start, end) when only the `selected`
  // parameters change between models: a model may cache a transformed activation instead of
  // the stage-start activation. prepare_fast_tail says whether it can for this selection (and
  // remembers what it needs); the two calls below are valid after it returned true.
  virtual bool prepare_fast_tail(int64_t start, const std::vector<std::string>& selected) { return false; }
  virtual torch::Tensor fast_tail_cache(int64_t start, const torch::Tensor& h) { return h; }
  virtual torch::Tensor fast_tail_forward(int64_t start, const torch::Tensor& cached) { return cached; }

  // Runs stages [from, to).
  torch::Tensor forward_range(torch::Tensor x, int64_t from, int64_t to);
  torch::Tensor forward(torch::Tensor x) { return forward_range(x, 0, num_stages()); }
  // Whether stage i uses any of the named parameters.
  bool stage_uses(int64_t i, const std::vector<std::string>& param_names) const;
  // The first stage that uses any of the named parameters.
  int64_t first_stage_using(const std::vector<std::string>& param_names) const;
  // Names of the normalization layers (BatchNorm, LayerNorm, GroupNorm) in forward order.
  virtual std::vector<std::string> norm_layers() const;
  // The selection `zoo.select=auto` means: the last two normalization layers, or the last
  // layer with parameters for a model that has fewer norm layers (an MLP).
  std::string default_selection() const;
  // A batch of inputs as the model takes it: on its device, in its preferred memory format.
  torch::Tensor prepare_input(torch::Tensor x) const;
};

using Classifier = std::shared_ptr<ClassifierImpl>;

// Whether any of `names` is one of `params` or lies under one of them (a prefix ending in '.').
bool params_use(const std::vector<std::string>& params, const std::vector<std::string>& names);

// Builds an untrained classifier; throws pdiff::Error for an unknown arch.
Classifier make_classifier(const ClassifierSpec& spec);

// A deep copy (parameters and buffers) of a classifier of the given spec.
Classifier clone_classifier(const Classifier& model, const ClassifierSpec& spec);

// Full state dict (parameters and buffers) with PyTorch names.
std::vector<std::pair<std::string, torch::Tensor>> state_dict(const Classifier& model);
// Copies matching tensors into the model; every parameter and buffer must be present with
// the same shape, otherwise throws naming the first mismatch (`origin` names the source).
void load_state_dict(const Classifier& model,
                     const std::vector<std::pair<std::string, torch::Tensor>>& state,
                     const std::string& origin);

}  // namespace pdiff
