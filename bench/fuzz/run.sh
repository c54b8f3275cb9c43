#!/usr/bin/env bash
# Coverage-guided fuzzing campaign (issue 17; results in docs/reliability.md). Runs each Jazzer @FuzzTest of the tree
# (or the ones named) with JAZZER_FUZZ=1 for SECS seconds, one after another, and prints per target the executions,
# exec/s, libFuzzer's coverage (cov: covered edges, ft: features), the corpus it grew and whether it found anything.
# A finding fails that target's run: Jazzer writes the input into the target's Inputs directory under
# src/test/resources, where the unit tier replays it from then on (regression mode), and prints the stack trace.
#   bench/fuzz/run.sh [SECS=300] [Class#method ...]      e.g. bench/fuzz/run.sh 60 VirtQueueFuzzTest#splitQueue
# The generated corpus of each target stays in <module>/.cifuzz-corpus/ (git-ignored) and is where the next run
# starts; seeds worth keeping are copied into the Inputs directory by hand. Logs: bench/results/fuzz-<date>/.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECS=${1:-300}; shift || true
OUT=bench/results/fuzz-$(date -u +%Y%m%dT%H%M%SZ); mkdir -p "$OUT"
targets=()
while IFS= read -r f; do
  module=${f%%/src/test/java/*}
  cls=$(basename "$f" .java)
  for m in $(grep -A3 '@FuzzTest' "$f" | grep -oP 'void \K\w+(?=\()'); do
    targets+=("$module $cls#$m")
  done
done < <(grep -rl --include='*FuzzTest.java' '@FuzzTest' */src/test/java | sort)
if [ $# -gt 0 ]; then
  sel=()
  for t in "${targets[@]}"; do for want in "$@"; do [[ "${t#* }" == "$want" || "${t#* }" == "$want#"* ]] && sel+=("$t"); done; done
  targets=("${sel[@]}")
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no @FuzzTest matches $*" >&2; exit 2; }
printf '%-52s %12s %8s %6s %6s %6s  %s\n' target executions exec/s cov ft corpus result
total=0; rc=0
for t in "${targets[@]}"; do
  module=${t%% *}; test=${t#* }
  log=$OUT/${test/\#/.}.log
  JAZZER_FUZZ=1 JAZZER_MAX_DURATION=${SECS}s timeout -s INT $((SECS + 300)) mvn -B -o test -pl "$module" -am \
    -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false -Djvmm.excludedGroups=lab,kvm,kvm-in-lab,l1-runner \
    > "$log" 2>&1
  r=$?
  done_line=$(grep -E '^#[0-9]+\s+DONE' "$log" | tail -1)
  [ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+\s' "$log" | tail -1)
  execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$done_line")
  eps=$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$done_line")
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$done_line")
  ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$done_line")
  corp=$(sed -nE 's/.*corp: ([0-9]+)\/.*/\1/p' <<<"$done_line")
  if [ $r = 0 ]; then res=ok; else res="FINDING or failure (rc=$r): $log"; rc=1; fi
  printf '%-52s %12s %8s %6s %6s %6s  %s\n' "$test" "${execs:--}" "${eps:--}" "${cov:--}" "${ft:--}" "${corp:--}" "$res"
  total=$((total + ${execs:-0}))
done
echo "total executions: $total (logs in $OUT)"
exit $rc
