#!/usr/bin/env bash
# Instructions per operation of the auth runtime's in-process benchmarks
# (templates/project/internal/auth), counted by valgrind's callgrind, which
# the machine's load does not change (issue 15). Not part of `go test`.
#
# Each benchmark runs twice under callgrind, N1 and N2 iterations
# (b.Loop runs exactly that many with -test.benchtime Nx); the difference
# of the two totals divided by N2-N1 is the cost of one iteration, setup
# excluded, garbage collection included. It prints instructions per op
# and the ratios the issue sets targets for:
#
#   VerifyFirstSeenToken (HS256) / GolangJWTParse     ≤ 0.90
#   VerifyForgedToken/uncached / VerifyFirstSeenToken ≤ 0.50
#   VerifyFirstSeenAsym/ALG / BareCryptoVerify/ALG    EdDSA, ES256 ≤ 1.15; RS256 ≤ 1.30
#   VerifyExternalForged... / VerifyExternalFirstSeen (when present)
#
# Usage: bench/callgrind.sh [-1 N1] [-2 N2] [-r REPS] [BENCHMARK...]
#   -r  repetitions, every benchmark once per repetition (default 1); the
#      counts vary a little from run to run with garbage collection, so
#      it prints medians and ranges
#   BENCHMARK  full benchmark names (default: those of the ratios above)
# Needs: go, valgrind.
#
# Go under valgrind 3.19: GODEBUG=asyncpreemptoff=1 (callgrind asserts on
# the preemption signal) and cpu.rdtscp=off (valgrind does not decode
# RDTSCP, which the runtime's cputicks uses).
set -euo pipefail

n1=200 n2=1200 reps=1
while getopts "1:2:r:" opt; do
	case $opt in
	1) n1=$OPTARG ;;
	2) n2=$OPTARG ;;
	r) reps=$OPTARG ;;
	*) sed -n '2,25p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is missing (apt-get install -y valgrind)" >&2; exit 1; }

benches=("$@")
if [ ${#benches[@]} = 0 ]; then
	benches=(GolangJWTParse VerifyFirstSeenToken VerifyForgedToken/uncached
		VerifyFirstSeenAsym/EdDSA BareCryptoVerify/EdDSA
		VerifyFirstSeenAsym/ES256 BareCryptoVerify/ES256
		VerifyFirstSeenAsym/RS256 BareCryptoVerify/RS256
		VerifyExternalFirstSeen VerifyExternalForged)
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gatehouse-callgrind.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$repo/templates/project/internal/auth" && go test -c -o "$work/auth.test" .)

# count BENCHMARK N: the instructions of a run of N iterations.
count() {
	local pattern
	# Anchor every level of the name: Foo/Bar is ^Foo$/^Bar$.
	pattern=$(sed 's|[^/]*|^&$|g' <<<"Benchmark$1")
	local out=$work/out
	(cd "$work" && GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind \
		--callgrind-out-file="$work/cg.out" "$work/auth.test" -test.run '^$' \
		-test.bench "$pattern" -test.benchtime "${2}x" >"$out" 2>&1) || {
		cat "$out" >&2
		return 1
	}
	grep -q 'ns/op' "$out" || return 0 # no such benchmark in this runtime
	awk '/Collected :/ {print $4}' "$out"
}

results=$work/results
: >"$results"
for rep in $(seq "$reps"); do
	for b in "${benches[@]}"; do
		c1=$(count "$b" "$n1")
		[ -n "$c1" ] || { echo "callgrind.sh: no benchmark $b, skipped" >&2; continue; }
		c2=$(count "$b" "$n2")
		echo "$b $(((c2 - c1) / (n2 - n1)))" >>"$results"
		echo "$b done ($rep/$reps)" >&2
	done
done

echo "instructions per op (callgrind, ($n2 runs - $n1 runs) / $((n2 - n1)), $reps repetitions):"
python3 - "$results" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, v = line.split()
    runs.setdefault(name, []).append(int(v))
ir = {k: statistics.median(v) for k, v in runs.items()}
print(f"  {'benchmark':32} {'median':>12} {'range':>25}")
for name, v in runs.items():
    print(f"  {name:32} {ir[name]:12,.0f} {min(v):12,}-{max(v):<12,}")
print("ratios:")
def ratio(a, b, target):
    if a in ir and b in ir:
        r = ir[a] / ir[b]
        print(f"  {a:28} / {b:24} = {r:5.2f}  (target ≤ {target}: {'met' if r <= target else 'MISSED'})")
ratio("VerifyFirstSeenToken", "GolangJWTParse", 0.90)
ratio("VerifyForgedToken/uncached", "VerifyFirstSeenToken", 0.50)
for alg, t in (("EdDSA", 1.15), ("ES256", 1.15), ("RS256", 1.30)):
    ratio(f"VerifyFirstSeenAsym/{alg}", f"BareCryptoVerify/{alg}", t)
ratio("VerifyExternalForged", "VerifyExternalFirstSeen", 0.50)
EOF
