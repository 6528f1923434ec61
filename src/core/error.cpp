#include "core/error.h"

#include <c10/util/Exception.h>

namespace pdiff {

std::string error_text(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

}  // namespace pdiff
