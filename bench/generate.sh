#!/usr/bin/env bash
# Generation time of `gatehouse new` against oapi-codegen's command alone
# (issue 8's target: at most 1.3 times oapi-codegen's time on a spec that
# needs repairs, at most 1.1 times on one that needs none). Not part of
# `go test`.
#
# Both commands are built from this module (oapi-codegen at the version
# go.mod pins) and run on the same specs, one after the other in every
# repetition, so that the machine's noise falls on both alike. oapi-codegen
# is given what gatehouse asks of it (codegenConfig in generator/codegen.go:
# models, strict server, std net/http wrappers, typed client, collision
# resolution, prefixed enum values) and formats its output as its command
# does by default. It prints, per spec, the median and range of wall and CPU
# seconds (user+system, from /usr/bin/time) of each command and the ratio of
# the medians. gatehouse also validates the spec, repairs it, type-checks
# oapi-codegen's output and writes the whole project: all counted.
#
# Usage: bench/generate.sh [-r REPS] [SPEC...]
#   -r  repetitions (default 5)
#   SPEC defaults to the corpus's stripe, discord and twilio files.
# Needs: go, /usr/bin/time, python3; the corpus beside the repository for
# the default specs.
set -euo pipefail

reps=5
while getopts "r:" opt; do
	case $opt in
	r) reps=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${GATEHOUSE_CORPUS:-$root/../shared/corpus/specs}
if [ $# -eq 0 ]; then
	set -- "$corpus/stripe-spec3-2023-09.yaml" "$corpus/discord-openapi.json" "$corpus/twilio-api-v2010.yaml"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/gatehouse" ./cmd/gatehouse &&
	go build -o "$work/oapi-codegen" github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen)
cat >"$work/oapi.yaml" <<CFG
package: api
output: $work/oapi_out.go
generate:
  std-http-server: true
  strict-server: true
  models: true
  client: true
output-options:
  resolve-type-name-collisions: true
compatibility:
  always-prefix-enum-values: true
CFG

# time_it NAME SPEC CMD...: append "NAME SPEC wall cpu" to the results.
time_it() {
	local name=$1 spec=$2
	shift 2
	/usr/bin/time -o "$work/t" -f "%e %U %S" "$@" >/dev/null 2>"$work/err" || {
		echo "$name failed on $spec:" >&2
		tail -5 "$work/err" >&2
		exit 1
	}
	read -r wall user sys <"$work/t"
	echo "$name $(basename "$spec") $wall $(python3 -c "print($user+$sys)")" >>"$work/results"
}

for ((i = 0; i < reps; i++)); do
	for spec in "$@"; do
		# oapi-codegen's std-http-server output looks for a go.mod above it.
		(cd "$root" && time_it oapi-codegen "$spec" "$work/oapi-codegen" -config "$work/oapi.yaml" "$spec")
		rm -rf "$work/project"
		time_it gatehouse "$spec" "$work/gatehouse" new "$work/project" --spec "$spec"
	done
done

python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
specs = sorted({r[1] for r in rows})
def stat(name, spec, col):
    v = sorted(float(r[col]) for r in rows if r[0] == name and r[1] == spec)
    return statistics.median(v), v[0], v[-1]
print(f"{'spec':40} {'measure':5} {'oapi-codegen':>22} {'gatehouse':>22} {'ratio':>6}")
for spec in specs:
    for col, what in ((2, "wall"), (3, "cpu")):
        o, g = stat("oapi-codegen", spec, col), stat("gatehouse", spec, col)
        fmt = lambda m: f"{m[0]:6.2f} s [{m[1]:.2f}-{m[2]:.2f}]"
        print(f"{spec:40} {what:5} {fmt(o):>22} {fmt(g):>22} {g[0]/o[0]:6.2f}")
PY
