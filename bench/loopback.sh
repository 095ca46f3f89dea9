#!/usr/bin/env bash
# Loopback throughput of a generated server (issue 15), against a bare
# net/http server and a hand-written golang-jwt middleware server serving the
# same body. Not part of `go test`.
#
# It generates a project from specs/bank.yaml, implements GET /accounts
# (protected: oauth2 accounts:read) and GET /branches (public) to return a
# fixed JSON body, builds the servers, and runs wrk against each: server
# pinned to core 0 with GOMAXPROCS=1, wrk pinned to core 1, 32 connections.
# Every repetition runs every server and route, in a rotating order, so
# that the machine's noise falls on all of them alike. It prints, per server
# and route, the median and range of requests/s and of the server's CPU
# time per request (utime+stime from /proc/PID/stat over the run, divided
# by wrk's request count), and the ratios of medians of both. The CPU per
# request is what to read on a loaded machine: when other work takes the
# server's core, throughput drops but the CPU a request costs does not.
# gen-nolog is the generated server with LOG_LEVEL=warn (no access log).
#
# Usage: bench/loopback.sh [-r REPS] [-d SECONDS] [-b BASE_REPO] [-k]
#   -r  repetitions (default 5)
#   -d  duration of each wrk run in seconds (default 5)
#   -b  also build the generated server from another gatehouse checkout
#       (e.g. /work/main) as "gen-base" (and gen-base-nolog), for
#       before/after in one run
#   -k  keep the work directory
# Needs: go, wrk, taskset, curl, python3.
set -euo pipefail

reps=5 dur=5 base="" keep=0
while getopts "r:d:b:k" opt; do
	case $opt in
	r) reps=$OPTARG ;;
	d) dur=$OPTARG ;;
	b) base=$OPTARG ;;
	k) keep=1 ;;
	*) sed -n '2,25p' "$0"; exit 2 ;;
	esac
done
for tool in go wrk taskset curl python3; do
	command -v "$tool" >/dev/null || { echo "loopback.sh: $tool is missing (wrk: apt-get install -y wrk)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "loopback.sh: needs 2 cores (server on 0, wrk on 1)" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gatehouse-loopback.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ "$keep" = 1 ]; then echo "work directory: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

body='{"items":[{"id":"acc-1","name":"Checking","balance":"1024.00","currency":"EUR"}]}'
export JWT_SECRET=loopback-benchmark-secret-0123456789abcdefghijklmnop
export ACCESS_TOKEN_TTL=12h

# implement DIR: the two handlers return the fixed body.
implement() {
	python3 - "$1/internal/handlers/default.go" "$body" <<'EOF'
import re, sys
path, body = sys.argv[1], sys.argv[2]
src = open(path).read()
for op in ("ListAccounts", "ListBranches"):
    pat = re.compile(r"(func \(h \*Handlers\) %s\(.*?\) \(api\.%sResponseObject, error\) \{\n)\treturn nil, routes\.ErrNotImplemented\n" % (op, op))
    src, n = pat.subn(lambda m: m.group(1) + "\treturn fixedBody{}, nil\n", src)
    assert n == 1, op
src += '''
// fixedBody is the benchmark's answer, the same bytes as the other servers.
type fixedBody struct{}

var fixedJSON = []byte(`%s` + "\\n")

func (fixedBody) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(fixedJSON)
	return err
}

func (b fixedBody) VisitListAccountsResponse(w http.ResponseWriter) error { return b.write(w) }
func (b fixedBody) VisitListBranchesResponse(w http.ResponseWriter) error { return b.write(w) }
''' % body
src = src.replace('import (\n\t"context"\n', 'import (\n\t"context"\n\t"net/http"\n', 1)
open(path, "w").write(src)
EOF
}

# generate NAME REPO: a project from REPO's gatehouse, built as $work/bin/NAME.
generate() {
	local name=$1 from=$2
	(cd "$from" && go build -o "$work/bin/gatehouse-$name" ./cmd/gatehouse)
	"$work/bin/gatehouse-$name" new "$work/$name" --spec "$repo/specs/bank.yaml" --module example.com/bank >/dev/null
	implement "$work/$name"
	(cd "$work/$name" && go build -o "$work/bin/$name" ./cmd/server)
}

mkdir -p "$work/bin"
echo "building (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
generate gen "$repo"
[ -n "$base" ] && generate gen-base "$base"

# The bare and golang-jwt servers live in the generated module, for its
# dependencies (golang-jwt).
mkdir -p "$work/gen/cmd/bare" "$work/gen/cmd/jwtmw"
cat >"$work/gen/cmd/bare/main.go" <<EOF
// The floor: net/http, the same body, nothing else.
package main

import (
	"net/http"
	"os"
)

var body = []byte(\`$body\` + "\n")

func main() {
	write := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /accounts", write)
	mux.HandleFunc("GET /branches", write)
	http.ListenAndServe(os.Args[1], mux)
}
EOF
cat >"$work/gen/cmd/jwtmw/main.go" <<EOF
// What a team would hand-write: golang-jwt middleware checking HS256,
// issuer, audience, expiry and the scope, the same body.
package main

import (
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

var body = []byte(\`$body\` + "\n")

type claims struct {
	jwt.RegisteredClaims
	Scope string \`json:"scope"\`
}

func main() {
	secret := []byte(os.Getenv("JWT_SECRET"))
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("gatehouse"),
		jwt.WithAudience("api"), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	keyfunc := func(*jwt.Token) (any, error) { return secret, nil }
	write := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
	protect := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			var c claims
			if !ok {
				http.Error(w, \`{"error":"unauthorized"}\`, http.StatusUnauthorized)
				return
			}
			if _, err := parser.ParseWithClaims(tok, &c, keyfunc); err != nil || !slices.Contains(strings.Fields(c.Scope), "accounts:read") {
				http.Error(w, \`{"error":"invalid_token"}\`, http.StatusUnauthorized)
				return
			}
			next(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /accounts", protect(write))
	mux.HandleFunc("GET /branches", write)
	http.ListenAndServe(os.Args[1], mux)
}
EOF
(cd "$work/gen" && go build -o "$work/bin/bare" ./cmd/bare && go build -o "$work/bin/jwtmw" ./cmd/jwtmw)

# Start the servers on core 0. The generated ones run in production mode
# with default settings, each on its own SQLite file, logging to a file.
# gen-nolog is gen with LOG_LEVEL=warn: no access log.
servers=(bare jwtmw gen gen-nolog)
[ -n "$base" ] && servers+=(gen-base gen-base-nolog)
declare -A port spid
hz=$(getconf CLK_TCK)
p=18470
for s in "${servers[@]}"; do
	p=$((p + 1))
	port[$s]=$p
	case $s in
	gen*)
		bin=${s%-nolog} level=info
		[ "$bin" != "$s" ] && level=warn
		mkdir -p "$work/run-$s"
		(cd "$work/run-$s" && echo 'bench password 1234' |
			"$work/bin/$bin" users add --username bench --password-stdin --scopes "accounts:read" >/dev/null)
		(cd "$work/run-$s" && LOG_LEVEL=$level LISTEN_ADDR=127.0.0.1:$p GOMAXPROCS=1 exec taskset -c 0 "$work/bin/$bin" 2>"$work/$s.log") &
		;;
	*)
		GOMAXPROCS=1 taskset -c 0 "$work/bin/$s" "127.0.0.1:$p" &
		;;
	esac
	pids+=($!)
	spid[$s]=$! # taskset and the subshell exec the server: the same process
done
for s in "${servers[@]}"; do
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:${port[$s]}/branches" && break
		sleep 0.1
	done
done

# A token from the generated server (any: they share the secret, issuer and
# audience), and the same token with a forged signature.
token=$(curl -s -d grant_type=password -d username=bench -d 'password=bench password 1234' -d scope=accounts:read \
	"http://127.0.0.1:${port[gen]}/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
# Only the start of the signature changes: its last character carries
# unused bits, which strict decoders refuse as malformed.
sig=${token##*.}
forged=${token%.*}.$(printf '%s' "${sig:0:10}" | tr 'A-Za-z' 'B-ZAb-za')${sig:10}
for s in "${servers[@]}"; do
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:${port[$s]}/accounts")
	[ "$code" = 200 ] || { echo "loopback.sh: $s answers $code to the valid token" >&2; exit 1; }
	[ "$s" = bare ] && continue
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $forged" "http://127.0.0.1:${port[$s]}/accounts")
	[ "$code" = 401 ] || { echo "loopback.sh: $s answers $code to the forged token" >&2; exit 1; }
done

# cputicks PID: the process's user+system CPU time, in clock ticks.
cputicks() {
	# Fields 14 and 15 of /proc/PID/stat, counted after the command name
	# (which is in parentheses and may hold spaces).
	sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# run SERVER ROUTE: requests/s of one wrk run, and the server's CPU time
# per request in µs (utime+stime over the run ÷ wrk's request count).
# With the server saturated on its core, throughput is the inverse of the
# CPU per request; but the CPU per request does not drop when other work
# takes the core from the server, so it survives a loaded machine.
run() {
	local s=$1 route=$2 hdr=()
	case $route in
	valid) hdr=(-H "Authorization: Bearer $token") ;;
	forged) hdr=(-H "Authorization: Bearer $forged") ;;
	esac
	local path=/accounts
	[ "$route" = public ] && path=/branches
	local t0 t1 out
	t0=$(cputicks "${spid[$s]}")
	out=$(taskset -c 1 wrk -t1 -c32 -d"${dur}s" "${hdr[@]}" "http://127.0.0.1:${port[$s]}$path")
	t1=$(cputicks "${spid[$s]}")
	awk -v ticks=$((t1 - t0)) -v hz="$hz" '
		/ requests in / {n = $1}
		/^Requests\/sec:/ {rps = $2}
		END {printf "%s %.2f\n", rps, ticks / hz * 1e6 / n}' <<<"$out"
}

routes=(valid public forged)
# Warm up every server (these seconds are not measured).
for s in "${servers[@]}"; do
	taskset -c 1 wrk -t1 -c32 -d2s -H "Authorization: Bearer $token" "http://127.0.0.1:${port[$s]}/accounts" >/dev/null
done

results=$work/results.txt
: >"$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
n=${#servers[@]}
for rep in $(seq "$reps"); do
	for i in $(seq 0 $((n - 1))); do
		s=${servers[$(((i + rep) % n))]}
		for r in "${routes[@]}"; do
			[ "$s" = bare ] && [ "$r" = forged ] && continue
			echo "$s $r $(run "$s" "$r")" >>"$results"
		done
	done
	echo "rep $rep/$reps done (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "loopback: $reps reps x ${dur}s, wrk -t1 -c32 on core 1, servers GOMAXPROCS=1 on core 0"
echo "load average before: $load_before, after: $load_after (2 cores; other work on the machine adds noise)"
python3 - "$results" <<'EOF'
import statistics, sys
rps, cpu = {}, {}
for line in open(sys.argv[1]):
    s, r, v, c = line.split()
    rps.setdefault((s, r), []).append(float(v))
    cpu.setdefault((s, r), []).append(float(c))
def table(title, runs, fmt):
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(title)
    print(f"  {'server':10} {'route':7} {'median':>9} {'range':>19}")
    for (s, r), v in sorted(runs.items()):
        print(f"  {s:10} {r:7} {med[(s, r)]:9{fmt}} {min(v):9{fmt}}-{max(v):<9{fmt}}")
    return med
mr = table("requests/s (wrk):", rps, ".0f")
mc = table("server CPU per request, µs (utime+stime / requests):", cpu, ".2f")
print("ratios of medians (throughput; and bare CPU ÷ server CPU, the throughput a saturated core would give):")
print(f"  {'':36} {'req/s':>6} {'CPU':>6}")
def ratio(a, b, label):
    print(f"  {label:36} {mr[a] / mr[b]:6.2f} {mc[b] / mc[a]:6.2f}")
for s in sorted({s for s, _ in rps}):
    if s == "bare":
        continue
    for r in ("valid", "public"):
        if (s, r) in mr and ("bare", r) in mr:
            ratio((s, r), ("bare", r), f"{s} {r} / bare {r}")
    if (s, "forged") in mr:
        ratio((s, "forged"), (s, "valid"), f"{s} forged / {s} valid")
if any(s == "gen-base" for s, _ in rps):
    print("before/after (gen ÷ gen-base; CPU: gen-base CPU ÷ gen CPU, above 1 is faster):")
    for a, b in (("gen", "gen-base"), ("gen-nolog", "gen-base-nolog")):
        for r in ("valid", "public", "forged"):
            if (a, r) in mr and (b, r) in mr:
                ratio((a, r), (b, r), f"{a} {r} / {b} {r}")
EOF
