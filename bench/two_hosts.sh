#!/usr/bin/env bash
# A job of two processes on two "hosts": two network namespaces joined by a veth pair
# (10.77.0.1 and 10.77.0.2), one rank in each, so that the rendezvous (TCPStore) and Gloo's
# collectives cross a real network interface, not loopback. Compares the files with those of
# one process on the same settings: they must be equal (docs/distributed.md). Needs root (ip
# netns). Prints the two runs' times.
#   bench/two_hosts.sh [BUILD_DIR] [KEY=VALUE ...]     BUILD_DIR default build
set -euo pipefail
cd "$(dirname "$0")/.."
build=build
if [ $# -gt 0 ] && [ "${1#*=}" = "$1" ]; then build="$1"; shift; fi
[ "$(id -u)" -eq 0 ] || { echo "two_hosts.sh: needs root for ip netns (run it with sudo)" >&2; exit 2; }
command -v ip >/dev/null || { echo "two_hosts.sh: ip (iproute2) not found: apt-get install iproute2" >&2; exit 2; }
[ -x "$build/pdiff" ] || { echo "two_hosts.sh: $build/pdiff not found; run scripts/install.sh" >&2; exit 2; }

a=pdiff_host_a b=pdiff_host_b work=$(mktemp -d /tmp/pdiff_two_hosts.XXXXXX)
cleanup() { ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$a"
ip netns add "$b"
ip link add veth_a netns "$a" type veth peer name veth_b netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev veth_a
ip -n "$b" addr add 10.77.0.2/24 dev veth_b
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set veth_a up
ip -n "$b" link set veth_b up

settings=(threads=1 data.train_limit=1000 data.test_limit=500 base.epochs=1 zoo.k=20 ae.channels=8,16,16,8
          ae.latent=32 ae.steps=60 ae.batch=10 ldm.channels=8,16 ldm.steps=60 ldm.batch=20 generate.n=10
          generate.batch=3 generate.steps=10 eval.baseline_n=5 eval.tsne=false "$@")
export OMP_WAIT_POLICY=PASSIVE
start=$(date +%s%N)
"$build/pdiff" run -q run_dir="$work/one" "${settings[@]}" >/dev/null
one=$(( ($(date +%s%N) - start) / 1000000 ))

start=$(date +%s%N)
common=(WORLD_SIZE=2 LOCAL_WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=10.77.0.1 MASTER_PORT=29611)
ip netns exec "$a" env "${common[@]}" RANK=0 GLOO_SOCKET_IFNAME=veth_a \
  "$build/pdiff" run run_dir="$work/two" "${settings[@]}" >"$work/rank0.log" 2>&1 &
rank0=$!
ip netns exec "$b" env "${common[@]}" RANK=1 GLOO_SOCKET_IFNAME=veth_b \
  "$build/pdiff" run run_dir="$work/two" "${settings[@]}" >"$work/rank1.log" 2>&1 &
rank1=$!
status=0
wait $rank0 || status=$?
wait $rank1 || status=$?
two=$(( ($(date +%s%N) - start) / 1000000 ))
if [ $status -ne 0 ]; then
  tail -n 5 "$work/rank0.log" "$work/rank1.log" >&2
  echo "two_hosts.sh: the two-host job failed (logs in $work)" >&2
  exit 1
fi
grep -h "^dist:" "$work/rank0.log" "$work/rank1.log"

/usr/bin/python3 - "$work/one" "$work/two" <<'EOF'
import sys, torch
one, two = sys.argv[1:]
for name, keys in (("zoo.pt", ("params", "accuracy", "predictions")),
                   ("generated.pt", ("params", "accuracy", "predictions"))):
    a = torch.load(f"{one}/{name}", weights_only=True)
    b = torch.load(f"{two}/{name}", weights_only=True)
    for k in keys:
        if not torch.equal(a[k], b[k]):
            sys.exit(f"two_hosts.sh: {name}[{k}] differs between one process and two hosts")
print("two_hosts.sh: zoo.pt and generated.pt (params, accuracy, predictions) equal to one process's")
EOF
echo "two_hosts.sh: one process $one ms, two ranks on two namespaces over veth $two ms"
rm -rf "$work"
