#!/usr/bin/env bash
# The Redis backend beside BullMQ, in one sitting, on a private Redis started the same way
# for both (127.0.0.1:6390, no persistence): runs the BullMQ probe of
# ../shared/anchors/bullmq (copied out and installed with `npm ci`), then
# `cargo bench --bench redis` on the same N and RUNS, and prints both lines and the ratios.
#
# Usage: scripts/bench_redis.sh            (N=50000, RUNS=3)
#        N=20000 RUNS=1 scripts/bench_redis.sh
# Needs: redis-server, redis-cli, redis-benchmark, node >= 18, npm; port 6390 free.
set -euo pipefail
cd "$(dirname "$0")/.."

export N=${N:-50000} RUNS=${RUNS:-3}
PORT=6390
ANCHOR=${ANCHOR:-../shared/anchors/bullmq}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-redis.XXXXXX")
REDIS_PID=
cleanup() {
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== BullMQ probe (N=$N, RUNS=$RUNS)"
cp -r "$ANCHOR" "$WORK/bullmq"
(cd "$WORK/bullmq" && npm ci --silent --no-audit --no-fund >/dev/null)
"$WORK/bullmq/run.sh" | tee "$WORK/bullmq.log"
BULLMQ=$(grep '^bullmq ' "$WORK/bullmq.log" | tail -1)

echo "== worker-utils (N=$N, RUNS=$RUNS), on a redis-server started the way run.sh starts it"
cargo bench -p worker-utils --features redis --bench redis --no-run 2>/dev/null
redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --daemonize no \
  --dir "$WORK" --logfile "$WORK/redis.log" &
REDIS_PID=$!
for _ in $(seq 1 100); do
  [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
OURS=$(REDIS_URL="redis://127.0.0.1:$PORT" CONCURRENCIES=8,32 \
  cargo bench -p worker-utils --features redis --bench redis 2>/dev/null | tee /dev/stderr | grep '^worker-utils redis:')

echo
echo "$BULLMQ"
echo "$OURS"
python3 - "$BULLMQ" "$OURS" <<'PY'
import re, sys
bull, ours = sys.argv[1], sys.argv[2]
rate = lambda text, label: float(re.search(label + r" (\d+)", text).group(1))
print(f"ratio enqueue_batch / addBulk:        {rate(ours, 'enqueue_batch') / rate(bull, 'addBulk'):.2f}x")
for c in (8, 32):
    print(f"ratio process c={c} / BullMQ c={c}:       {rate(ours, f'c={c}') / rate(bull, f'c={c}'):.2f}x")
print(f"ratio process c=32 batch=1 / BullMQ c=32: {rate(ours, 'batch=1') / rate(bull, 'c=32'):.2f}x")
PY
