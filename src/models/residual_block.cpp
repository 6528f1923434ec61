#include "models/residual_block.h"

namespace pdiff {

torch::Tensor ResidualBlockImpl::run_ops(torch::Tensor h, int64_t from, int64_t to, bool fast) {
  for (int64_t i = from; i < to; ++i) h = fast ? fast_op(i, h) : op(i, h);
  return h;
}

std::vector<std::vector<std::string>> ResidualBlockImpl::layers(const std::string& prefix) const {
  std::vector<std::vector<std::string>> out{{prefix + op_params(0)}};
  if (!shortcut_params().empty()) out[0].push_back(prefix + shortcut_params());
  for (int64_t i = 1; i < num_ops(); ++i) out.push_back({prefix + op_params(i)});
  return out;
}

torch::Tensor ResidualBlockImpl::forward_showing(const torch::Tensor& x, const ClassifierImpl::LayerInputs& seen) {
  torch::Tensor h = x;
  for (int64_t i = 0; i < num_ops(); ++i) {
    seen(static_cast<size_t>(i), h);
    h = op(i, h);
  }
  return merge(h, shortcut(x));
}

bool selects_under(const std::vector<std::string>& selected, const std::string& prefix) {
  return !prefix.empty() && params_use({prefix}, selected);
}

bool ResidualTail::prepare(ResidualBlockImpl& block, const std::string& block_prefix,
                           const std::vector<std::string>& selected) {
  const std::string shortcut = block.shortcut_params();
  if (!shortcut.empty() && selects_under(selected, block_prefix + shortcut)) return false;
  op_ = 0;
  while (op_ < block.num_ops() && !selects_under(selected, block_prefix + block.op_params(op_))) ++op_;
  return op_ > 0 && op_ < block.num_ops();
}

int64_t ResidualTail::Part::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

torch::Tensor ResidualTail::Part::unpack(const torch::Tensor& flat) const {
  std::vector<int64_t> full = {flat.size(0)};
  full.insert(full.end(), shape.begin(), shape.end());
  auto t = flat.reshape(full);
  return channels_last ? t.contiguous(torch::MemoryFormat::ChannelsLast) : t.contiguous();
}

ResidualTail::Part ResidualTail::describe(const torch::Tensor& t) {
  Part p;
  p.shape = t.sizes().slice(1).vec();
  p.channels_last = t.dim() == 4 && t.suggest_memory_format() == torch::MemoryFormat::ChannelsLast;
  return p;
}

torch::Tensor ResidualTail::cache(ResidualBlockImpl& block, const torch::Tensor& x) {
  auto s = block.shortcut(x);
  auto h = block.run_ops(x, 0, op_);
  shortcut_ = describe(s);
  chain_ = describe(h);
  return torch::cat({s.reshape({x.size(0), -1}), h.reshape({x.size(0), -1})}, 1);
}

torch::Tensor ResidualTail::finish(ResidualBlockImpl& block, const torch::Tensor& packed, bool fast) {
  auto s = shortcut_.unpack(packed.slice(1, 0, shortcut_.numel()));
  auto h = chain_.unpack(packed.slice(1, shortcut_.numel()));
  return block.merge(block.run_ops(h, op_, block.num_ops(), fast), s);
}

}  // namespace pdiff
