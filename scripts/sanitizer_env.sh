# Sourced by scripts/fuzz.sh and scripts/sanitize.sh: how the sanitizers report. Every report
# is fatal (and the build passes -fno-sanitize-recover=all). No suppressions are needed: the
# unit tests and the fuzz targets run clean with LibTorch 1.13.1 as Debian builds it.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
