#include "models/torchscript_split.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>

#include <algorithm>
#include <functional>
#include <unordered_map>
#include <unordered_set>

namespace pdiff {

namespace {

using torch::jit::Block;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
using torch::jit::ValueSet;

// Every node of `b`, nested blocks included, in order (a node before the nodes inside it).
void each_node(Block* b, const std::function<void(Node*)>& f) {
  for (Node* n : b->nodes()) {
    f(n);
    for (Block* sub : n->blocks()) each_node(sub, f);
  }
}

// `n` and every node inside it.
void each_node_in(Node* n, const std::function<void(Node*)>& f) {
  f(n);
  for (Block* sub : n->blocks()) each_node(sub, f);
}

// Every value `n` uses: its inputs and, inside its blocks, every node's inputs and every
// block's outputs.
void each_use(Node* n, const std::function<void(Value*)>& f) {
  for (Value* v : n->inputs()) f(v);
  for (Block* b : n->blocks()) {
    for (Node* m : b->nodes()) each_use(m, f);
    for (Value* v : b->outputs()) f(v);
  }
}

bool is_object(const Value* v) {
  const auto k = v->type()->kind();
  return k == c10::TypeKind::ClassType || k == c10::TypeKind::InterfaceType;
}

bool is_tensor_op(const Node* n) {
  if (!n->kind().is_aten()) return false;
  for (const Value* v : n->outputs())
    if (v->type()->kind() == c10::TypeKind::TensorType) return true;
  return false;
}

int64_t count_tensor_ops(Node* n) {
  int64_t c = 0;
  each_node_in(n, [&](Node* m) { c += is_tensor_op(m); });
  return c;
}

std::string kind_of(const Node* n) { return n->kind().toQualString(); }

// Every module's `self.training` read as false, then branches on it folded away: the graph
// of the module in eval mode.
void specialise_to_eval(std::shared_ptr<Graph>& g) {
  std::vector<Node*> reads;
  each_node(g->block(), [&](Node* n) {
    if (n->kind() != c10::prim::GetAttr || n->s(c10::attr::name) != "training") return;
    auto cls = n->input()->type()->cast<c10::ClassType>();
    if (cls && cls->is_module() && n->output()->type()->kind() == c10::TypeKind::BoolType) reads.push_back(n);
  });
  for (Node* n : reads) {
    torch::jit::WithInsertPoint at(n);
    n->output()->replaceAllUsesWith(g->insertConstant(false));
    n->destroy();
  }
  torch::jit::ConstantPropagation(g);
  torch::jit::EliminateDeadCode(g);
}

// Where a top-level node runs: once per chunk (reads the input, not the selection), per model
// (reads the selection), or in whichever graph needs it (reads neither: attributes, constants).
enum class Role { kPrefix, kTail, kBoth };

// The analysis of one inlined, eval-mode forward graph for one selection.
class Splitter {
 public:
  Splitter(std::shared_ptr<Graph> g, const std::vector<std::string>& selected)
      : g_(std::move(g)), selected_(selected.begin(), selected.end()), db_(g_) {
    for (Node* n : g_->nodes()) top_.push_back(n);
    for (Value* v : g_->inputs()) all_.insert(v), state_.insert(v);
    each_node(g_->block(), [&](Node* n) {
      for (Value* v : n->outputs()) all_.insert(v);
      for (Block* b : n->blocks())
        for (Value* v : b->inputs()) all_.insert(v);
      if (n->kind() == c10::prim::GetAttr) state_.insert(n->output());
    });
  }

  // "" when the graph splits; otherwise why not.
  std::string analyse() {
    if (g_->inputs().size() != 2)
      return "forward takes " + std::to_string(g_->inputs().size() - 1) + " arguments, not one";
    std::string why = unprovable();
    if (why.empty()) why = find_paths();
    if (!why.empty()) return why;
    taint();
    why = classify();
    if (why.empty()) why = check_order();
    if (!why.empty()) return why;
    find_frontier();
    if (prefix_ops_ == 0)
      return "the first tensor op, " + first_tail_ + ", uses a selected tensor: nothing to cache";
    return "";
  }

  std::string summary() const {
    return "prefix cached up to " + first_tail_ + " (" + std::to_string(prefix_ops_) + " of " +
           std::to_string(total_ops_) + " tensor ops)";
  }

  // (self, x) -> (frontier...): the graph without the tail.
  std::shared_ptr<Graph> prefix_graph() const {
    auto [g, map, nodes] = copy();
    while (!g->outputs().empty()) g->eraseOutput(0);
    std::vector<Value*> values;
    for (Value* f : frontier_) values.push_back(map.at(f));
    g->registerOutput(g->appendNode(g->createTuple(values))->output());  // a function returns one value
    for (size_t i = nodes.size(); i-- > 0;)
      if (role_[i] == Role::kTail) nodes[i]->destroy();
    torch::jit::EliminateDeadCode(g);
    return g;
  }

  // (self, frontier...) -> output: the graph without the prefix, its values as inputs.
  std::shared_ptr<Graph> tail_graph() const {
    auto [g, map, nodes] = copy();
    for (Value* f : frontier_) {
      Value* v = map.at(f);
      v->replaceAllUsesWith(g->addInput()->setType(c10::unshapedType(v->type())));  // traces carry shapes
    }
    for (size_t i = nodes.size(); i-- > 0;)
      if (role_[i] == Role::kPrefix) nodes[i]->destroy();
    g->eraseInput(1);  // x: its uses were prefix nodes or frontier
    torch::jit::EliminateDeadCode(g);
    return g;
  }

  size_t frontier_size() const { return frontier_.size(); }

 private:
  // Anything that makes the split unprovable, whatever the selection.
  std::string unprovable() const {
    std::string why;
    each_node(g_->block(), [&](Node* n) {
      if (!why.empty()) return;
      const auto k = n->kind();
      if (k == c10::prim::SetAttr) why = "it sets a module attribute (prim::SetAttr)";
      else if (k == c10::prim::CallMethod || k == c10::prim::CallFunction)
        why = "it calls a function that cannot be inlined (" + kind_of(n) + ")";
      else if (n->hasSideEffects() && k != c10::prim::RaiseException && k != c10::aten::warn)
        why = kind_of(n) + " has side effects";
      else if (n->isNondeterministic()) why = kind_of(n) + " is random";
      else if (n->blocks().empty() && db_.writesToAlias(n, state_))
        why = kind_of(n) + " writes in place to the input or to a module tensor";
      for (Value* v : n->inputs())
        if (why.empty() && is_object(v) && k != c10::prim::GetAttr)
          why = "the module object reaches " + kind_of(n) + ", which pdiff cannot see into";
      for (Block* b : n->blocks())
        for (Value* v : b->outputs())
          if (why.empty() && is_object(v)) why = "a block of " + kind_of(n) + " returns a module object";
    });
    return why;
  }

  // The dotted path from self of every prim::GetAttr; a read of a selected tensor (or of an
  // attribute that is no module but contains one) is a taint source.
  std::string find_paths() {
    std::unordered_map<const Value*, std::string> path{{g_->inputs()[0], ""}};
    std::string why;
    each_node(g_->block(), [&](Node* n) {
      if (n->kind() != c10::prim::GetAttr || !why.empty()) return;
      auto it = path.find(n->input());
      if (it == path.end()) {
        why = "prim::GetAttr of an object not reached from self";
        return;
      }
      const std::string p = it->second.empty() ? n->s(c10::attr::name) : it->second + "." + n->s(c10::attr::name);
      path[n->output()] = p;
      if (is_object(n->output())) return;
      for (const auto& s : selected_)
        if (s == p || s.compare(0, p.size() + 1, p + ".") == 0) sources_[n] = p;
    });
    return why;
  }

  // Top-level nodes that read a selected tensor or a tainted value, anywhere inside them.
  void taint() {
    role_.assign(top_.size(), Role::kBoth);
    first_tail_index_ = top_.size();
    std::unordered_set<const Value*> tainted;
    for (size_t i = 0; i < top_.size(); ++i) {
      bool t = false;
      each_node_in(top_[i], [&](Node* m) { t = t || sources_.count(m); });
      each_use(top_[i], [&](Value* v) { t = t || tainted.count(v); });
      if (!t) continue;
      role_[i] = Role::kTail;
      for (Value* v : top_[i]->outputs()) tainted.insert(v);
      if (first_tail_index_ == top_.size() && top_[i]->kind() != c10::prim::GetAttr) first_tail_index_ = i;
    }
    if (first_tail_index_ == top_.size()) {
      first_tail_ = "the return";
      return;
    }
    Node* first = top_[first_tail_index_];
    first_tail_ = kind_of(first);
    std::string on;
    for (Value* v : first->inputs())
      if (v->node()->kind() == c10::prim::GetAttr && sources_.count(v->node()))
        on += (on.empty() ? " on " : ", ") + sources_.at(v->node());
    first_tail_ += on;
  }

  // Untainted nodes that depend on the input, write in place or have values written go to
  // the prefix; the others are recomputed where needed. Then no tail node may write to what
  // the prefix computes.
  std::string classify() {
    dep_.insert(g_->inputs()[1]);
    for (size_t i = 0; i < top_.size(); ++i) {
      if (role_[i] == Role::kTail) continue;
      Node* n = top_[i];
      bool d = false;
      each_use(n, [&](Value* v) { d = d || dep_.count(v); });
      d = d || db_.writesToAlias(n, all_);
      for (Value* v : n->outputs()) d = d || db_.hasWriters(v);
      if (!d) continue;
      role_[i] = Role::kPrefix;
      for (Value* v : n->outputs()) dep_.insert(v);
    }
    ValueSet cached(dep_.begin(), dep_.end());
    for (size_t i = 0; i < top_.size(); ++i)
      if (role_[i] == Role::kPrefix)
        each_node_in(top_[i], [&](Node* m) {
          for (Value* v : m->outputs()) cached.insert(v);
        });
    for (size_t i = 0; i < top_.size(); ++i)
      if (role_[i] == Role::kTail)
        if (Node* w = writer_in(top_[i], cached))
          return kind_of(w) + " writes in place to a value the prefix would cache";
    return "";
  }

  // The prefix runs before the whole tail: a prefix write that came after a tail node could
  // change what that node read.
  std::string check_order() const {
    for (size_t i = first_tail_index_; i < top_.size(); ++i)
      if (role_[i] == Role::kPrefix)
        if (Node* w = writer_in(top_[i], all_))
          return kind_of(w) + " writes in place after the first use of a selected tensor (" + first_tail_ + ")";
    return "";
  }

  // The first node inside `n` (itself included) without blocks that writes to an alias of `vs`.
  Node* writer_in(Node* n, const ValueSet& vs) const {
    Node* w = nullptr;
    each_node_in(n, [&](Node* m) {
      if (!w && m->blocks().empty() && db_.writesToAlias(m, vs)) w = m;
    });
    return w;
  }

  // The prefix values the tail or the return needs, in the order they are computed.
  void find_frontier() {
    std::unordered_set<const Value*> needed;
    for (size_t i = 0; i < top_.size(); ++i)
      if (role_[i] == Role::kTail) each_use(top_[i], [&](Value* v) {
          if (dep_.count(v)) needed.insert(v);
        });
    for (Value* v : g_->outputs())
      if (dep_.count(v)) needed.insert(v);
    if (needed.count(g_->inputs()[1])) frontier_.push_back(g_->inputs()[1]);
    for (size_t i = 0; i < top_.size(); ++i) {
      total_ops_ += count_tensor_ops(top_[i]);
      if (role_[i] != Role::kPrefix) continue;
      prefix_ops_ += count_tensor_ops(top_[i]);
      for (Value* v : top_[i]->outputs())
        if (needed.count(v)) frontier_.push_back(v);
    }
  }

  struct Copy {
    std::shared_ptr<Graph> g;
    std::unordered_map<const Value*, Value*> map;  // this graph's top-level values -> the copy's
    std::vector<Node*> nodes;                      // the copy's top-level nodes, as top_
  };
  Copy copy() const {
    Copy c{g_->copy(), {}, {}};
    for (size_t i = 0; i < g_->inputs().size(); ++i) c.map[g_->inputs()[i]] = c.g->inputs()[i];
    for (Node* n : c.g->nodes()) c.nodes.push_back(n);
    for (size_t i = 0; i < top_.size(); ++i)
      for (size_t j = 0; j < top_[i]->outputs().size(); ++j) c.map[top_[i]->outputs()[j]] = c.nodes[i]->outputs()[j];
    return c;
  }

  std::shared_ptr<Graph> g_;
  std::unordered_set<std::string> selected_;
  torch::jit::AliasDb db_;
  std::vector<Node*> top_;                             // the graph's top-level nodes, in order
  ValueSet all_;                                       // every value of the graph
  ValueSet state_;                                     // the inputs and every attribute read
  std::unordered_map<const Node*, std::string> sources_;  // reads of selected tensors -> path
  std::vector<Role> role_;                             // per top-level node
  size_t first_tail_index_ = 0;
  std::string first_tail_;                             // "aten::batch_norm on features.5.weight"
  std::unordered_set<const Value*> dep_;               // x and the prefix's values
  std::vector<Value*> frontier_;
  int64_t prefix_ops_ = 0, total_ops_ = 0;
};

}  // namespace

ScriptSplit split_forward(const torch::jit::Module& module, const std::vector<std::string>& selected) {
  ScriptSplit out;
  std::shared_ptr<Graph> g;
  try {
    g = torch::jit::toGraphFunction(module.get_method("forward").function()).graph()->copy();
    torch::jit::Inline(*g);
    specialise_to_eval(g);
  } catch (const std::exception& e) {
    out.summary = "full forward (the graph cannot be prepared: " + std::string(e.what()).substr(0, 200) + ")";
    return out;
  }
  Splitter s(g, selected);
  const std::string why = s.analyse();
  if (!why.empty()) {
    out.summary = "full forward (" + why + ")";
    return out;
  }
  out.prefix = std::make_shared<torch::jit::GraphFunction>("pdiff.prefix", s.prefix_graph(), nullptr);
  out.tail = std::make_shared<torch::jit::GraphFunction>("pdiff.tail", s.tail_graph(), nullptr);
  out.frontier = s.frontier_size();
  out.summary = s.summary();
  return out;
}

}  // namespace pdiff
