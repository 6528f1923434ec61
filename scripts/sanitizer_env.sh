# Sourced by scripts/fuzz.sh and scripts/sanitize.sh: how the sanitizers report. Every report
# is fatal; suppressions (scripts/sanitizer.supp) say why each is LibTorch's and not ours.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$root/scripts/ubsan.supp"
export LSAN_OPTIONS="suppressions=$root/scripts/lsan.supp:print_suppressions=0"
