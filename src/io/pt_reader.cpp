#include "io/pt_reader.h"

#include <cstring>
#include <functional>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "io/file_io.h"
#include "io/mapped_file.h"
#include "io/zip_reader.h"

namespace pdiff {

namespace {

constexpr int kMaxNesting = 32;
constexpr int64_t kMaxDim = int64_t(1) << 40;
// Storages from this size on are views on the mapped file, not copies (io/mapped_file.h).
constexpr uint64_t kMapFrom = 64 << 20;

// The callables a pickle may name (GLOBAL) and what REDUCE does with them.
enum class Fn { OrderedDict, RebuildTensor, RebuildParameter, BuildList, RestoreTypeTag, Storage };
struct Global {
  Fn fn;
  at::ScalarType dtype = at::kFloat;  // Storage only
};

const std::unordered_map<std::string, Global>& known_globals() {
  static const std::unordered_map<std::string, Global> g = [] {
    std::unordered_map<std::string, Global> m = {
        {"collections.OrderedDict", {Fn::OrderedDict}},
        {"torch._utils._rebuild_tensor_v2", {Fn::RebuildTensor}},
        {"torch._utils._rebuild_parameter", {Fn::RebuildParameter}},
        {"torch.jit._pickle.restore_type_tag", {Fn::RestoreTypeTag}},
    };
    for (const char* l : {"intlist", "tensorlist", "doublelist", "boollist", "genericlist"})
      m[std::string("torch.jit._pickle.build_") + l] = {Fn::BuildList};
    const std::pair<const char*, at::ScalarType> storages[] = {
        {"Float", at::kFloat}, {"Double", at::kDouble}, {"Half", at::kHalf},  {"BFloat16", at::kBFloat16},
        {"Long", at::kLong},   {"Int", at::kInt},       {"Short", at::kShort}, {"Char", at::kChar},
        {"Byte", at::kByte},   {"Bool", at::kBool}};
    for (const auto& [name, dtype] : storages) m[std::string("torch.") + name + "Storage"] = {Fn::Storage, dtype};
    return m;
  }();
  return g;
}

// A pickle machine for the subset of protocol 2 that torch.save and torch::pickle_save write.
class Unpickler {
 public:
  Unpickler(std::string_view pkl, const ZipReader& zip, std::shared_ptr<MappedFile> file, std::string prefix,
            const std::string& path)
      : p_(pkl), zip_(zip), file_(std::move(file)), prefix_(std::move(prefix)), path_(path) {}

  c10::IValue parse();
  // The zip entry each storage came from, by storage.
  std::unordered_map<const void*, std::string> storage_entry;

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": not a valid .pt file (pickle: " + what + " at byte " + std::to_string(pos_) + ")");
  }
  std::string_view take(uint64_t n) {
    if (n > p_.size() - pos_) fail("truncated");
    auto s = p_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  uint64_t le(int n) {
    auto s = take(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[i]);
    return v;
  }
  std::string line() {
    const size_t end = p_.find('\n', pos_);
    if (end == std::string_view::npos) fail("unterminated GLOBAL");
    std::string s(p_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  c10::IValue pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    c10::IValue v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  c10::IValue& top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<c10::IValue> pop_to_mark() {
    if (marks_.empty()) fail("no MARK");
    std::vector<c10::IValue> items(std::make_move_iterator(stack_.begin() + marks_.back()),
                                   std::make_move_iterator(stack_.end()));
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  static const void* container(const c10::IValue& v) {
    return v.isList() || v.isGenericDict() || v.isTuple() ? v.internalToPointer() : nullptr;
  }
  int height(const c10::IValue& v) const {
    auto it = height_.find(container(v));
    return it == height_.end() ? 0 : it->second;
  }
  // Puts `child` into the list or dict `parent`: a container, once inside another, is sealed
  // (never changed again), which rules out cycles and bounds the nesting.
  void adopt(const c10::IValue& parent, const c10::IValue& child) {
    const void* p = container(parent);
    if (sealed_.count(p)) fail("change of a container after its use");
    if (const void* c = container(child)) {
      if (c == p) fail("container inside itself");
      sealed_.insert(c);
    }
    int& h = height_[p];
    h = std::max(h, height(child) + 1);
    if (h > kMaxNesting) fail("nesting deeper than " + std::to_string(kMaxNesting));
  }
  // A new object may sit where a freed one was: what was known about that address is dropped.
  c10::IValue fresh(c10::IValue v, int height) {
    const void* p = v.internalToPointer();
    sealed_.erase(p), globals_.erase(p), height_.erase(p);
    if (height > 0) height_[p] = height;
    return v;
  }
  c10::IValue new_list() { return fresh(c10::impl::GenericList(c10::AnyType::get()), 1); }
  c10::IValue new_dict() { return fresh(c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get()), 1); }
  c10::IValue new_string(std::string_view s) { return fresh(c10::IValue(std::string(s)), 0); }
  c10::IValue new_tuple(std::vector<c10::IValue> items) {
    int h = 1;
    for (const auto& x : items) {
      if (const void* c = container(x)) sealed_.insert(c);
      h = std::max(h, height(x) + 1);
    }
    if (h > kMaxNesting) fail("nesting deeper than " + std::to_string(kMaxNesting));
    return fresh(c10::ivalue::Tuple::create(std::move(items)), h);
  }
  void append(std::vector<c10::IValue> items) {
    c10::IValue& l = top();
    if (!l.isList()) fail("APPEND to a non-list");
    for (auto& x : items) {
      adopt(l, x);
      l.toList().push_back(std::move(x));
    }
  }
  void set_items(std::vector<c10::IValue> items) {
    c10::IValue& d = top();
    if (!d.isGenericDict() || items.size() % 2 != 0) fail("SETITEMS on a non-dict");
    for (size_t i = 0; i < items.size(); i += 2) {
      const auto& k = items[i];
      if (!(k.isString() || k.isInt() || k.isBool() || k.isDouble())) fail("dict key of type " + k.tagKind());
      adopt(d, items[i + 1]);
      d.toGenericDict().insert_or_assign(k, items[i + 1]);
    }
  }
  const Global* global_of(const c10::IValue& v) const {
    if (!v.isString()) return nullptr;
    auto it = globals_.find(v.internalToPointer());
    return it == globals_.end() ? nullptr : &it->second;
  }
  c10::IValue persistent_load(const c10::IValue& pid);
  c10::IValue rebuild_tensor(const std::vector<c10::IValue>& args);
  c10::IValue reduce(const c10::IValue& fn, const c10::IValue& args);

  std::string_view p_;
  size_t pos_ = 0;
  const ZipReader& zip_;
  std::shared_ptr<MappedFile> file_;
  std::string prefix_;
  const std::string& path_;
  std::vector<c10::IValue> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, c10::IValue> memo_;
  std::unordered_map<const void*, Global> globals_;  // by the string IValue a GLOBAL pushed
  std::unordered_map<std::string, at::Tensor> storages_;  // by key
  std::unordered_set<const void*> storage_impls_;
  std::unordered_map<const void*, int> height_;
  std::unordered_set<const void*> sealed_;
};

c10::IValue Unpickler::persistent_load(const c10::IValue& pid) {
  if (!pid.isTuple()) fail("persistent id is not a tuple");
  const std::vector<c10::IValue> a = pid.toTupleRef().elements().vec();  // (GCC misreads inline tuples)
  const Global* type = a.size() == 5 ? global_of(a[1]) : nullptr;
  if (!(a.size() == 5 && a[0].isString() && a[0].toStringRef() == "storage" && type && type->fn == Fn::Storage &&
        a[2].isString() && a[3].isString() && a[4].isInt()))
    fail("bad persistent id");
  const std::string& key = a[2].toStringRef();
  const int64_t numel = a[4].toInt();
  auto cached = storages_.find(key);
  if (cached != storages_.end()) {
    if (cached->second.scalar_type() != type->dtype || cached->second.numel() != numel)
      fail("storage '" + key + "' used with two types or sizes");
    return cached->second;
  }
  const ZipEntry* e = zip_.find(prefix_ + "/data/" + key);
  if (!e) fail("no entry for storage '" + key + "'");
  const int64_t item = static_cast<int64_t>(c10::elementSize(type->dtype));
  if (numel < 0 || e->size % item != 0 || uint64_t(numel) != e->size / item)
    fail("storage '" + key + "' of " + std::to_string(numel) + " elements in an entry of " + std::to_string(e->size) +
         " bytes");
  at::Tensor t;
  if (e->size >= kMapFrom && e->data_offset % item == 0) {
    t = mapped_tensor(file_, e->data_offset, type->dtype, {numel});
  } else {
    t = torch::empty({numel}, torch::TensorOptions().dtype(type->dtype));
    if (numel > 0) std::memcpy(t.data_ptr(), zip_.data(*e).data(), e->size);
  }
  storages_[key] = t;
  storage_impls_.insert(t.unsafeGetTensorImpl());
  storage_entry[t.storage().unsafeGetStorageImpl()] = e->name;
  return t;
}

c10::IValue Unpickler::rebuild_tensor(const std::vector<c10::IValue>& a) {
  if (!(a.size() >= 6 && a.size() <= 7 && a[0].isTensor() && storage_impls_.count(a[0].toTensor().unsafeGetTensorImpl()) &&
        a[1].isInt() && a[2].isTuple() && a[3].isTuple()))
    fail("bad arguments to _rebuild_tensor_v2");
  const at::Tensor& storage = a[0].toTensor();
  auto ints = [&](const c10::IValue& v) {
    std::vector<int64_t> out;
    for (const auto& x : v.toTupleRef().elements()) {
      if (!x.isInt() || x.toInt() < 0 || x.toInt() > kMaxDim) fail("bad tensor size or stride");
      out.push_back(x.toInt());
    }
    return out;
  };
  const std::vector<int64_t> size = ints(a[2]), stride = ints(a[3]);
  const int64_t offset = a[1].toInt(), n = storage.numel();
  if (size.size() != stride.size() || size.size() > 16 || offset < 0 || offset > n) fail("bad tensor geometry");
  // Every element inside the storage, and no more elements than the storage holds.
  int64_t numel = 1, last = offset;
  for (size_t d = 0; d < size.size(); ++d) {
    if (size[d] == 0) numel = 0;
    if (numel > 0 && size[d] > n / numel) fail("tensor larger than its storage");
    numel *= size[d];
  }
  if (numel > 0) {
    for (size_t d = 0; d < size.size(); ++d) {
      if (stride[d] > 0 && size[d] - 1 > (n - last) / stride[d]) fail("tensor outside its storage");
      last += (size[d] - 1) * stride[d];
    }
    if (last >= n) fail("tensor outside its storage");
  }
  return storage.as_strided(size, stride, offset);
}

c10::IValue Unpickler::reduce(const c10::IValue& fn, const c10::IValue& args) {
  const Global* g = global_of(fn);
  if (!g || !args.isTuple()) fail("REDUCE of something not callable");
  const auto& a = args.toTupleRef().elements();
  switch (g->fn) {
    case Fn::OrderedDict:
      if (!a.empty()) fail("OrderedDict with arguments");
      return new_dict();
    case Fn::RebuildTensor:
      return rebuild_tensor(a.vec());
    case Fn::RebuildParameter:
      if (a.empty() || !a[0].isTensor()) fail("bad arguments to _rebuild_parameter");
      return a[0];
    case Fn::BuildList:
      if (a.size() != 1 || !a[0].isList()) fail("bad arguments to build_list");
      return a[0];
    case Fn::RestoreTypeTag:
      if (a.size() != 2) fail("bad arguments to restore_type_tag");
      return a[0];
    case Fn::Storage:
      break;
  }
  fail("REDUCE of a storage type");
}

c10::IValue Unpickler::parse() {
  while (true) {
    const auto op = static_cast<unsigned char>(take(1)[0]);
    switch (op) {
      case 0x80: take(1); break;  // PROTO
      case 0x95: take(8); break;  // FRAME
      case '.': {                 // STOP
        if (!marks_.empty() || stack_.size() != 1) fail("STOP with a stack of " + std::to_string(stack_.size()));
        return stack_[0];
      }
      case '(': marks_.push_back(stack_.size()); break;
      case '0': pop(); break;
      case '1': pop_to_mark(); break;
      case 'N': stack_.emplace_back(); break;
      case 0x88: stack_.emplace_back(true); break;
      case 0x89: stack_.emplace_back(false); break;
      case 'J': stack_.emplace_back(int64_t(int32_t(uint32_t(le(4))))); break;
      case 'K': stack_.emplace_back(int64_t(le(1))); break;
      case 'M': stack_.emplace_back(int64_t(le(2))); break;
      case 0x8a: {  // LONG1: little-endian two's complement of n <= 8 bytes
        const int n = int(le(1));
        if (n > 8) fail("integer wider than 64 bits");
        uint64_t v = n ? le(n) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);
        stack_.emplace_back(static_cast<int64_t>(v));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        auto s = take(8);
        uint64_t bits = 0;
        for (char c : s) bits = (bits << 8) | static_cast<unsigned char>(c);
        double d;
        std::memcpy(&d, &bits, 8);
        stack_.emplace_back(d);
        break;
      }
      case 'X': case 'T': stack_.push_back(new_string(take(le(4)))); break;
      case 0x8c: case 'U': stack_.push_back(new_string(take(le(1)))); break;
      case '}': stack_.push_back(new_dict()); break;
      case ']': stack_.push_back(new_list()); break;
      case ')': stack_.push_back(new_tuple({})); break;
      case 't': stack_.push_back(new_tuple(pop_to_mark())); break;
      case 0x85: case 0x86: case 0x87: {
        std::vector<c10::IValue> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        stack_.push_back(new_tuple(std::move(items)));
        break;
      }
      case 'l': {
        auto items = pop_to_mark();
        stack_.push_back(new_list());
        append(std::move(items));
        break;
      }
      case 'd': {
        auto items = pop_to_mark();
        stack_.push_back(new_dict());
        set_items(std::move(items));
        break;
      }
      case 'a': append({pop()}); break;
      case 'e': append(pop_to_mark()); break;
      case 's': {
        auto v = pop();
        auto k = pop();
        set_items({k, v});
        break;
      }
      case 'u': set_items(pop_to_mark()); break;
      case 'q': memo_[le(1)] = top(); break;
      case 'r': memo_[le(4)] = top(); break;
      case 0x94: memo_[memo_.size()] = top(); break;
      case 'h': case 'j': {
        auto it = memo_.find(le(op == 'h' ? 1 : 4));
        if (it == memo_.end()) fail("GET of a missing memo entry");
        stack_.push_back(it->second);
        break;
      }
      case 'c': {
        std::string module = line(), name = line();
        auto it = known_globals().find(module + "." + name);
        if (it == known_globals().end())
          fail("unsupported global '" + module + "." + name + "'; the file holds a Python object pdiff cannot read: "
               "save tensors and plain values only, e.g. torch.save(model.state_dict(), PATH)");
        c10::IValue v = new_string(module + "." + name);
        globals_[v.internalToPointer()] = it->second;
        stack_.push_back(std::move(v));
        break;
      }
      case 'Q': stack_.push_back(persistent_load(pop())); break;
      case 'R': {
        auto args = pop();
        auto fn = pop();
        stack_.push_back(reduce(fn, args));
        break;
      }
      case 'b': {  // BUILD: only the state of an OrderedDict (`_metadata`) or a tensor, dropped
        pop();
        if (!top().isGenericDict() && !top().isTensor()) fail("BUILD of an unsupported object");
        break;
      }
      default:
        fail("unsupported opcode " + std::to_string(op));
    }
  }
}

// The key path of every tensor: "key", "key/inner", "key[3]".
void walk(const c10::IValue& v, const std::string& name, int depth,
          const std::function<void(const std::string&, const at::Tensor&)>& fn) {
  if (depth > kMaxNesting + 1) return;
  if (v.isTensor()) {
    fn(name, v.toTensor());
  } else if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict()) {
      const auto& k = kv.key();
      const std::string ks = k.isString() ? k.toStringRef() : k.isInt() ? std::to_string(k.toInt()) : "?";
      walk(kv.value(), name.empty() ? ks : name + "/" + ks, depth + 1, fn);
    }
  } else if (v.isList() || v.isTuple()) {
    const auto items = v.isList() ? v.toListRef().vec() : v.toTupleRef().elements().vec();
    for (size_t i = 0; i < items.size(); ++i) walk(items[i], name + "[" + std::to_string(i) + "]", depth + 1, fn);
  }
}

}  // namespace

c10::IValue read_pt(const std::string& path, const std::string& hint) {
  check(file_exists(path), path + ": file not found");
  const std::shared_ptr<MappedFile> file = MappedFile::open(path);
  ZipReader zip(file->bytes(), path);
  // The pickle is PREFIX/data.pkl; the storages are PREFIX/data/KEY.
  const ZipEntry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash != std::string::npos && slash > 0 && e.name.substr(slash) == "/data.pkl") {
      check(pkl == nullptr, path + ": not a valid .pt file (two data.pkl entries)");
      pkl = &e;
    }
  }
  check(pkl != nullptr, path + ": not a .pt file written by torch.save (no data.pkl entry)");
  const std::string prefix = pkl->name.substr(0, pkl->name.find('/'));
  const std::string corrupt = " is corrupt (checksum mismatch); " + hint;
  std::vector<const ZipEntry*> bad_storages;
  for (const auto& e : zip.entries()) {
    if (e.size >= kMapFrom ? crc32_released(*file, e.data_offset, e.size) == e.crc32 : zip.crc_ok(e)) continue;
    check(e.name.rfind(prefix + "/data/", 0) == 0, path + ": zip entry '" + e.name + "'" + corrupt);
    bad_storages.push_back(&e);
  }
  Unpickler u(zip.data(*pkl), zip, file, prefix, path);
  c10::IValue v = u.parse();
  for (const ZipEntry* e : bad_storages) {  // name the first tensor that uses the entry
    std::string tensor;
    walk(v, "", 0, [&](const std::string& name, const at::Tensor& t) {
      auto it = u.storage_entry.find(t.storage().unsafeGetStorageImpl());
      if (tensor.empty() && it != u.storage_entry.end() && it->second == e->name) tensor = name;
    });
    throw Error(path + ": " + (tensor.empty() ? "zip entry '" + e->name + "'" : "tensor '" + tensor + "'") + corrupt);
  }
  return v;
}

void check_finite_tensors(const c10::impl::GenericDict& dict, const std::string& path, const std::string& hint) {
  walk(c10::IValue(dict), "", 0, [&](const std::string& name, const at::Tensor& t) {
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>())
      throw Error(path + ": tensor '" + name + "' holds NaN or infinity; " + hint);
  });
}

}  // namespace pdiff
