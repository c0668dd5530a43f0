#!/usr/bin/env bash
# leakscope's overhead benchmark (docs/design.md §12): builds one release binary per allocator variant
# (benches/overhead/src/bin/*.rs, all over the workloads of benches/overhead/src/lib.rs), runs
# every variant on every workload round-robin within each round, one fresh process per run,
# and prints markdown tables of ratios to bare System and median ns/op. benches/README.md
# explains the variants, the workloads and how to read the tables.
#
#   scripts/bench-overhead.sh                 # 7 rounds, full-size runs (~3.5 min here, +1-2 min with INSTR=1)
#   ROUNDS=11 scripts/bench-overhead.sh       # more rounds
#   QUICK=1 scripts/bench-overhead.sh         # smoke test: 3 rounds of tenth-size runs
#   VARIANTS="system leakscope" WORKLOADS="churn cache" scripts/bench-overhead.sh
#   INSTR=1 scripts/bench-overhead.sh         # also instructions per op under callgrind
#
# Other knobs: SCALE (multiplies every op count; QUICK sets 0.1), OUT (where the raw result
# lines go; default target/overhead/results-<time>.tsv), INSTR_OPS (the two op counts of the
# INSTR=1 runs, default "100000 200000"; larger ones average over more stack samples).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
manifest=$root/benches/overhead/Cargo.toml
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/overhead}
bin=$CARGO_TARGET_DIR/release

if [[ ${QUICK:-0} == 1 ]]; then
  rounds=${ROUNDS:-3}
  scale=${SCALE:-0.1}
else
  rounds=${ROUNDS:-7}
  scale=${SCALE:-1}
fi
workloads=${WORKLOADS:-churn churn2t xthread cache}

echo "building the variants (release)..." >&2
cargo build --release --quiet --manifest-path "$manifest" --bins

# Every binary under src/bin is a variant except the report tool. The ones docs/design.md §12 names come
# first; a new variant file (say leakscope_sampling.rs) joins the run with no edit here.
known="system leakscope leakscope_counting leakscope_scoped stats_alloc dhat jemalloc leakscope_jemalloc mimalloc leakscope_mimalloc"
if [[ -z ${VARIANTS:-} ]]; then
  all=$(cd "$root/benches/overhead/src/bin" && ls ./*.rs | sed 's|^\./||; s|\.rs$||' | grep -vx overhead-report)
  variants=""
  for v in $known; do grep -qx "$v" <<<"$all" && variants+="$v "; done
  for v in $all; do [[ " $known " == *" $v "* ]] || variants+="$v "; done
else
  variants=$VARIANTS
fi
read -r -a vs <<<"$variants"
if [[ " ${vs[*]} " != *" system "* ]]; then
  echo "bench-overhead: VARIANTS must include system: every ratio is taken against it" >&2
  exit 2
fi

out=${OUT:-$CARGO_TARGET_DIR/results-$(date +%Y%m%d-%H%M%S).tsv}
log=${out%.tsv}.log
: >"$out"
: >"$log"
echo "rounds=$rounds scale=$scale variants=${vs[*]} workloads=$workloads" >&2
echo "raw results: $out (stderr of the runs: $log)" >&2

start=$(date +%s)
n=${#vs[@]}
for ((r = 1; r <= rounds; r++)); do
  for w in $workloads; do
    # Rotate the starting variant every round so that no variant always runs right after the
    # same neighbour (or first, on a cold CPU).
    for ((i = 0; i < n; i++)); do
      v=${vs[$(((i + r - 1) % n))]}
      printf '%s\t' "$r" >>"$out"
      if ! "$bin/$v" "$w" --scale "$scale" >>"$out" 2>>"$log"; then
        echo "bench-overhead: $v $w failed (see $log)" >&2
        exit 1
      fi
    done
  done
  echo "round $r/$rounds done ($(($(date +%s) - start)) s)" >&2
done

echo
echo "<!-- $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, rounds=$rounds scale=$scale, load at end: $(cut -d' ' -f1-3 /proc/loadavg) -->"
"$bin/overhead-report" "$out"

# Instructions per op: callgrind counts are exact and do not move with the machine's load.
# Each variant runs twice with different op counts; the difference divided by the extra ops
# (timed plus warm-up) cancels start-up and set-up costs.
if [[ ${INSTR:-0} == 1 ]]; then
  if ! command -v valgrind >/dev/null; then
    echo "bench-overhead: INSTR=1 needs valgrind" >&2
    exit 2
  fi
  instr_workloads=${INSTR_WORKLOADS:-churn cache}
  echo
  echo "### Instructions per op (callgrind; single run, exact)"
  echo
  printf '| variant |'
  for w in $instr_workloads; do printf ' %s |' "$w"; done
  printf '\n|---|'
  for w in $instr_workloads; do printf -- '---|'; done
  printf '\n'
  # The leakscope variants run the real collector, which drains every 10 ms of valgrind's
  # (slowed-down) time; its instructions are counted here too, and a slower run drains more
  # often per op.
  irefs() { # variant workload ops -> total instructions
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin/$1" "$2" --ops "$3" 2>&1 >/dev/null |
      sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
  }
  for v in "${vs[@]}"; do
    [[ $v == dhat ]] && continue # its per-op count is dominated by backtraces; its times say enough
    printf '| %s |' "$v"
    for w in $instr_workloads; do
      read -r a b <<<"${INSTR_OPS:-100000 200000}"
      # churn adds a tenth of the ops, at most 100k, as warm-up (see lib.rs); churn2t does so
      # on two threads.
      warm() { local w=$(($1 / 10)); echo $((w < 100000 ? w : 100000)); }
      case $w in
        churn) extra=$((b + $(warm "$b") - a - $(warm "$a"))) ;;
        churn2t) extra=$((2 * (b + $(warm "$b") - a - $(warm "$a")))) ;;
        *) extra=$((b - a)) ;;
      esac
      ia=$(irefs "$v" "$w" "$a")
      ib=$(irefs "$v" "$w" "$b")
      printf ' %s |' "$(((ib - ia) / extra))"
    done
    printf '\n'
  done
fi
