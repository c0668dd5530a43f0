#!/usr/bin/env bash
# Fuzzes the dump reader (docs/design.md §13) and keeps the minimized corpus in the repository.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 600 seconds each, read_dump dump_roundtrip)
#
# A manual step, never in CI: cargo fuzz needs a nightly toolchain (`cargo +nightly`) and
# `cargo install cargo-fuzz`. CI replays what fuzzing found on stable: tests/dump_corpus.rs reads
# every file of fuzz/corpus/read_dump, fuzz/seeds/read_dump and fuzz/regressions/read_dump.
#
# Targets run one after the other (one fuzzing process at a time: the machines are shared).
#   read_dump       arbitrary bytes into read_dump_from_slice: never a panic, one-line errors
#   dump_roundtrip  what reads, written back with serde_json, reads again as the same dump
# Only read_dump's corpus is kept; dump_roundtrip starts from it and works in fuzz/target.
#
# When a target crashes, libFuzzer leaves the input in fuzz/artifacts/<target>/: copy it to
# fuzz/regressions/read_dump/<what-it-is>.json, fix the reader, and name it in
# tests/dump_corpus.rs.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(read_dump dump_roundtrip)
fi

cargo +nightly fuzz build -O
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
corpus=fuzz/corpus/read_dump
seeds=fuzz/seeds/read_dump

for target in "${targets[@]}"; do
  case $target in
    read_dump) dirs=("$corpus" "$seeds") ;;
    # The first directory receives what the fuzzer finds; the others only seed it.
    dump_roundtrip) mkdir -p fuzz/target/corpus/dump_roundtrip
      dirs=(fuzz/target/corpus/dump_roundtrip "$corpus" "$seeds") ;;
    *) echo "fuzz.sh: unknown target $target (read_dump, dump_roundtrip)" >&2; exit 2 ;;
  esac
  echo "=== $target for $secs s"
  # -rss_limit_mb: a dump of the fuzzer's input size (a few kB) must never need 2 GB.
  # -timeout: nor 10 s.
  if ! cargo +nightly fuzz run -O "$target" "${dirs[@]}" -- -max_total_time="$secs" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1; then
    echo "fuzz.sh: $target crashed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done

# Minimize the kept corpus: the smallest set of files that reaches every edge the whole corpus
# reaches (set cover, edges only: hit counts would keep thousands of near-duplicates).
echo "=== minimizing $corpus"
minimized=$(mktemp -d)
"fuzz/target/$host/release/read_dump" -merge=1 -set_cover_merge=1 -use_counters=0 \
  -rss_limit_mb=2048 "$minimized" "$corpus"
rm -rf "$corpus"
mv "$minimized" "$corpus"
chmod 755 "$corpus"
echo "$corpus: $(ls "$corpus" | wc -l) files, $(cat "$corpus"/* | wc -c) bytes"
