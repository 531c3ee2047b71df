#!/usr/bin/env bash
# Benchmark of the core users API: create-user, get-user and list-users.
#
# Builds the release binary and starts `roster serve` on an ephemeral
# 127.0.0.1 port with a fresh data directory. Loads ROSTER_BENCH_USERS users,
# then runs each scenario with wrk for ROSTER_BENCH_DURATION seconds at each
# connection count. Prints a Markdown report on stdout and progress on stderr.
# Every request goes to 127.0.0.1 only. The script stops the server and
# removes the data directory on exit.
#
# Usage: bench/core.sh > report.md
#
# Settings (environment variables):
#   ROSTER_BENCH_USERS         users loaded before the runs (default 100000)
#   ROSTER_BENCH_DURATION      seconds per measured run (default 10)
#   ROSTER_BENCH_WARMUP        seconds of unrecorded load before each run (default 2)
#   ROSTER_BENCH_CONNECTIONS   connection counts to measure (default "32 8")
#   ROSTER_BENCH_WRK_THREADS   wrk threads (default 2)
#   ROSTER_BENCH_LOAD_TIMEOUT  maximum seconds for loading the users (default 600)
#   ROSTER_BENCH_KEEP          1 keeps the data directory and server log
#   RUST_LOG                   passed to the server; unset, it uses its default (info)
#
# Requires: cargo, curl, python3 and wrk. wrk is installed from Debian's
# packages with apt-get when it is missing.
#
# Exit status: 0 when every run finished with no non-2xx response, socket
# error or timeout, whether or not the targets are met; 1 otherwise.

set -euo pipefail

USERS=${ROSTER_BENCH_USERS:-100000}
DURATION=${ROSTER_BENCH_DURATION:-10}
WARMUP=${ROSTER_BENCH_WARMUP:-2}
CONNECTIONS=${ROSTER_BENCH_CONNECTIONS:-32 8}
WRK_THREADS=${ROSTER_BENCH_WRK_THREADS:-2}
LOAD_TIMEOUT=${ROSTER_BENCH_LOAD_TIMEOUT:-600}
KEEP=${ROSTER_BENCH_KEEP:-0}

# The load step runs at this many connections, and fails when the user count
# stops growing for STALL_LIMIT seconds.
LOAD_CONNECTIONS=32
STALL_LIMIT=15
# wrk counts a request that takes longer than this as a timeout.
REQUEST_TIMEOUT=2s

# Targets for a 2-core machine with the load generator on it: requests/s at 32
# connections, p99 at 8 connections for every scenario, and peak resident memory.
declare -A TARGET_RPS_32=([create]=3000 [get]=20000 [list]=1000)
TARGET_P99_8_MS=10
TARGET_MEMORY_MB=60

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPTS="$REPO/bench/wrk"
BINARY="$REPO/target/release/roster"

log() {
  printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2
}

fail() {
  log "error: $*"
  exit 1
}

# Installs wrk from Debian's packages when it is missing. apt-get needs root,
# or sudo without a password.
ensure_wrk() {
  command -v wrk > /dev/null && return
  command -v apt-get > /dev/null || fail "wrk is missing and apt-get is not available; install wrk 4.x and rerun"

  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo > /dev/null || fail "wrk is missing; run 'apt-get install -y wrk' as root and rerun"
    sudo=(sudo -n)
  fi

  log "wrk is missing; installing it with apt-get"
  if ! timeout 600 "${sudo[@]}" apt-get install -y wrk > /dev/null; then
    timeout 600 "${sudo[@]}" apt-get update > /dev/null
    timeout 600 "${sudo[@]}" apt-get install -y wrk > /dev/null
  fi
  command -v wrk > /dev/null || fail "installing wrk with apt-get failed"
}

check_tools() {
  local tool
  for tool in cargo curl python3; do
    command -v "$tool" > /dev/null || fail "$tool is missing; install it and rerun"
  done
  ensure_wrk
}

WORK_DIR=""
SERVER_PID=""
WRK_PID=""

cleanup() {
  local status=$?
  if [[ -n $WRK_PID ]] && kill -0 "$WRK_PID" 2> /dev/null; then
    kill "$WRK_PID" 2> /dev/null || true
  fi
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2> /dev/null; then
    log "stopping the server (pid $SERVER_PID)"
    kill -TERM "$SERVER_PID" 2> /dev/null || true
    local waited=0
    while kill -0 "$SERVER_PID" 2> /dev/null && ((waited < 100)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$SERVER_PID" 2> /dev/null; then
      log "the server did not stop within 10 s of SIGTERM; killing it"
      kill -KILL "$SERVER_PID" 2> /dev/null || true
    fi
  fi
  if [[ -n $WORK_DIR ]]; then
    if [[ $status -ne 0 && -f $WORK_DIR/server.log ]]; then
      log "last lines of the server log:"
      tail -n 20 "$WORK_DIR/server.log" >&2 || true
    fi
    if [[ $KEEP == 1 ]]; then
      log "kept the data directory and server log in $WORK_DIR"
    else
      rm -rf "$WORK_DIR"
    fi
  fi
  exit "$status"
}

# Starts the server on an ephemeral port and sets BASE_URL and TOKEN.
start_server() {
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/roster-bench.XXXXXX")
  log "starting the server with data directory $WORK_DIR/data"
  "$BINARY" serve --listen 127.0.0.1:0 --data-dir "$WORK_DIR/data" \
    > "$WORK_DIR/server.out" 2> "$WORK_DIR/server.log" &
  SERVER_PID=$!

  local address=""
  local waited=0
  while [[ -z $address ]] && ((waited < 300)); do
    kill -0 "$SERVER_PID" 2> /dev/null || fail "the server exited at start"
    address=$(sed -n 's|^Roster is listening on http://\(127\.0\.0\.1:[0-9]*\).*|\1|p' "$WORK_DIR/server.out")
    sleep 0.1
    waited=$((waited + 1))
  done
  [[ -n $address ]] || fail "the server did not report its address within 30 s"
  BASE_URL="http://$address"

  [[ -s $WORK_DIR/data/admin-token ]] || fail "the server did not write $WORK_DIR/data/admin-token"
  TOKEN=$(< "$WORK_DIR/data/admin-token")
  log "server pid $SERVER_PID listening on $BASE_URL"
}

# Prints meta.total_count of the user list, which the first page computes.
user_count() {
  curl -sf --max-time 10 -H "Authorization: Bearer $TOKEN" "$BASE_URL/core/users?page%5Bsize%5D=1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["meta"]["total_count"])'
}

# Prints the server's user plus system CPU time in clock ticks.
server_cpu_ticks() {
  # Fields 14 and 15 of /proc/PID/stat. The command name (field 2) contains no spaces here.
  awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"
}

# Prints the CPU time of the whole machine outside idle and I/O wait, in clock ticks.
machine_busy_ticks() {
  # Sums user, nice, system, irq, softirq and steal. Guest time is already part of user and nice.
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# Prints a field of /proc/PID/status, such as VmHWM, in MB (10^6 bytes).
server_memory_mb() {
  awk -v field="$1:" '$1 == field { printf "%.1f", $2 * 1024 / 1e6 }' "/proc/$SERVER_PID/status"
}

# Sets the environment that the wrk scripts read.
export_wrk_settings() {
  export ROSTER_BENCH_TOKEN=$TOKEN
  export ROSTER_BENCH_THREADS=$WRK_THREADS
  export ROSTER_BENCH_IDS=$WORK_DIR/ids.txt
  export ROSTER_BENCH_CURSORS=$WORK_DIR/cursors.txt
}

# Creates USERS users at LOAD_CONNECTIONS connections. wrk runs for a fixed
# time, so the script interrupts it once the server stores them all. create.lua
# sends no more creates than its quota, so the count comes out exact.
load_users() {
  local before expected output
  before=$(user_count)
  expected=$((before + USERS))
  output="$WORK_DIR/load.out"
  log "loading $USERS users at $LOAD_CONNECTIONS connections (at most $LOAD_TIMEOUT s)"

  local start_ticks start_time
  start_ticks=$(server_cpu_ticks)
  start_time=$(date +%s.%N)
  ROSTER_BENCH_LABEL=load ROSTER_BENCH_QUOTA=$USERS \
    wrk -t "$WRK_THREADS" -c "$LOAD_CONNECTIONS" -d "${LOAD_TIMEOUT}s" --timeout "$REQUEST_TIMEOUT" \
    -s "$SCRIPTS/create.lua" "$BASE_URL" > "$output" 2>&1 &
  WRK_PID=$!

  # Gives up when the count has not grown for STALL_LIMIT seconds, such as when a create failed.
  local count=$before previous=$before stalled=0
  while kill -0 "$WRK_PID" 2> /dev/null && ((stalled < STALL_LIMIT)); do
    sleep 1
    if ! count=$(user_count); then
      log "reading the user count failed; retrying"
      count=$previous
    fi
    ((count >= expected)) && break
    if ((count == previous)); then
      stalled=$((stalled + 1))
    else
      stalled=0
    fi
    previous=$count
  done
  local end_time
  end_time=$(date +%s.%N)
  if kill -0 "$WRK_PID" 2> /dev/null; then
    kill -INT "$WRK_PID"
  fi
  wait "$WRK_PID" || true
  WRK_PID=""

  ((count == expected)) || fail "the server holds $count users after the load, expected $expected; wrk printed: $(cat "$output")"
  local result
  result=$(grep '^RESULT ' "$output") || fail "wrk printed no result: $(cat "$output")"
  check_errors "load" "$result" "$output"

  LOAD_SECONDS=$(python3 -c "print(f'{$end_time - $start_time:.1f}')")
  LOAD_RATE=$(python3 -c "print(f'{$USERS / ($end_time - $start_time):.0f}')")
  LOAD_CPU=$(python3 -c "print(f'{($(server_cpu_ticks) - $start_ticks) / $(getconf CLK_TCK) / ($end_time - $start_time):.2f}')")
  log "loaded $USERS users in $LOAD_SECONDS s ($LOAD_RATE users/s); the server holds $count users"
}

# Prints the value of KEY from a RESULT line.
result_field() {
  sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< " $1"
}

# Fails the benchmark when a run had a non-2xx response, a socket error or a timeout.
check_errors() {
  local name=$1 result=$2 output=$3
  local non_2xx socket_errors timeouts
  non_2xx=$(result_field "$result" non_2xx)
  socket_errors=$(result_field "$result" socket_errors)
  timeouts=$(result_field "$result" timeouts)
  if [[ $non_2xx != 0 || $socket_errors != 0 || $timeouts != 0 ]]; then
    fail "$name: $non_2xx non-2xx responses, $socket_errors socket errors, $timeouts timeouts; wrk printed: $(cat "$output")"
  fi
}

ROWS=()

# Prints the short commit of the benchmarked tree, marked when the tree has uncommitted changes.
describe_commit() {
  local commit
  commit=$(git -C "$REPO" rev-parse --short HEAD 2> /dev/null) || {
    echo "unknown (not a git checkout)"
    return
  }
  if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2> /dev/null) ]]; then
    commit="$commit with uncommitted changes"
  fi
  echo "$commit"
}

# Runs one scenario at one connection count: a warm-up, then the measured run.
run_scenario() {
  local scenario=$1 connections=$2
  local output="$WORK_DIR/$scenario-$connections.out"
  local wrk_args=(-t "$WRK_THREADS" -c "$connections" --timeout "$REQUEST_TIMEOUT" -s "$SCRIPTS/$scenario.lua")

  if ((WARMUP > 0)); then
    ROSTER_BENCH_LABEL="warmup-$connections" timeout $((WARMUP + 30)) \
      wrk "${wrk_args[@]}" -d "${WARMUP}s" "$BASE_URL" > "$output.warmup" 2>&1 ||
      fail "$scenario warm-up at $connections connections failed: $(cat "$output.warmup")"
  fi

  log "$scenario at $connections connections for $DURATION s"
  local server_start machine_start server_end machine_end wrk_seconds
  server_start=$(server_cpu_ticks)
  machine_start=$(machine_busy_ticks)
  # Bash's time keyword reports the user and system seconds of wrk on stderr of the group.
  wrk_seconds=$( {
    TIMEFORMAT='%U %S'
    time ROSTER_BENCH_LABEL="run-$connections" timeout $((DURATION + 30)) \
      wrk "${wrk_args[@]}" -d "${DURATION}s" "$BASE_URL" > "$output" 2>&1
  } 2>&1 ) || fail "$scenario at $connections connections failed: $(cat "$output")"
  server_end=$(server_cpu_ticks)
  machine_end=$(machine_busy_ticks)

  local result
  result=$(grep '^RESULT ' "$output") || fail "wrk printed no result: $(cat "$output")"
  check_errors "$scenario at $connections connections" "$result" "$output"

  local rps p50 p99 seconds server_cpu wrk_cpu other_cpu
  rps=$(result_field "$result" rps)
  p50=$(result_field "$result" p50_ms)
  p99=$(result_field "$result" p99_ms)
  seconds=$(result_field "$result" duration_s)
  read -r server_cpu wrk_cpu other_cpu < <(python3 -c "
hz = $(getconf CLK_TCK)
server = ($server_end - $server_start) / hz / $seconds
wrk = sum(float(part) for part in '$wrk_seconds'.split()) / $seconds
machine = ($machine_end - $machine_start) / hz / $seconds
print(f'{server:.2f} {wrk:.2f} {max(machine - server - wrk, 0):.2f}')")

  local target="" met="-"
  if [[ $connections == 32 && -n ${TARGET_RPS_32[$scenario]:-} ]]; then
    target=">= ${TARGET_RPS_32[$scenario]} req/s"
    met=$(python3 -c "print('yes' if $rps >= ${TARGET_RPS_32[$scenario]} else 'no')")
  elif [[ $connections == 8 ]]; then
    target="p99 < $TARGET_P99_8_MS ms"
    met=$(python3 -c "print('yes' if $p99 < $TARGET_P99_8_MS else 'no')")
  fi
  ROWS+=("| $scenario | $connections | $rps | $p50 | $p99 | $(result_field "$result" requests) | $(result_field "$result" non_2xx) | $server_cpu | $wrk_cpu | $other_cpu | $target | $met |")
  log "$scenario at $connections connections: $rps req/s, p50 $p50 ms, p99 $p99 ms;" \
    "CPU cores used by the server $server_cpu, wrk $wrk_cpu, other processes $other_cpu"
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  check_tools

  log "building the release binary"
  (cd "$REPO" && cargo build --release --quiet) || fail "cargo build --release failed"

  local busy_start
  busy_start=$(machine_busy_ticks)
  sleep 2
  IDLE_CHECK=$(python3 -c "print(f'{($(machine_busy_ticks) - $busy_start) / $(getconf CLK_TCK) / 2:.2f}')")
  if python3 -c "import sys; sys.exit(0 if $IDLE_CHECK > 0.1 else 1)"; then
    log "warning: other processes use $IDLE_CHECK cores before the benchmark starts; they will skew the results"
  fi
  start_server
  export_wrk_settings
  load_users

  log "collecting user ids and page cursors by walking links.next"
  python3 "$REPO/bench/collect_pages.py" --base-url "$BASE_URL" --token-file "$WORK_DIR/data/admin-token" \
    --expect "$(user_count)" --ids "$WORK_DIR/ids.txt" --cursors "$WORK_DIR/cursors.txt" >&2

  local connections
  for scenario in get list; do
    for connections in $CONNECTIONS; do
      run_scenario "$scenario" "$connections"
    done
  done
  local hwm_reads rss_reads rss_parts threads
  hwm_reads=$(server_memory_mb VmHWM)
  rss_reads=$(server_memory_mb VmRSS)
  rss_parts="anonymous $(server_memory_mb RssAnon), file-backed $(server_memory_mb RssFile), shared memory $(server_memory_mb RssShmem)"
  threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$SERVER_PID/status")

  # Creates run last because they add users; the get and list runs see exactly the loaded set.
  for connections in $CONNECTIONS; do
    run_scenario create "$connections"
  done
  local hwm_all rss_all users_after
  hwm_all=$(server_memory_mb VmHWM)
  rss_all=$(server_memory_mb VmRSS)
  users_after=$(user_count)
  local database_mb
  database_mb=$(du -sm "$WORK_DIR/data" | cut -f1)

  local memory_met
  memory_met=$(python3 -c "print('yes' if $hwm_reads < $TARGET_MEMORY_MB else 'no')")

  cat << EOF
Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Commit: $(describe_commit).
Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(free -h | awk '/^Mem:/ { print $2 }') memory, $(uname -sr).
CPU in use by other processes in the 2 s before the server started: $IDLE_CHECK cores.
Users loaded: $USERS in $LOAD_SECONDS s at $LOAD_CONNECTIONS connections ($LOAD_RATE creates/s, server CPU $LOAD_CPU cores).
Runs: $DURATION s each after a $WARMUP s warm-up, wrk with $WRK_THREADS threads, request timeout $REQUEST_TIMEOUT.

CPU columns are cores in use on average during the run: the server, wrk, and every other process on the machine.

| scenario | connections | requests/s | p50 ms | p99 ms | requests | non-2xx | server CPU | wrk CPU | other CPU | target | met |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |
$(printf '%s\n' "${ROWS[@]}")

| server memory | MB | target | met |
| --- | ---: | --- | --- |
| peak resident (VmHWM) after load, get and list, $USERS users | $hwm_reads | < $TARGET_MEMORY_MB MB | $memory_met |
| resident (VmRSS) at that point: $rss_parts; $threads threads | $rss_reads | | |
| peak resident (VmHWM) after the create runs too, $users_after users | $hwm_all | | |
| resident (VmRSS) at the end | $rss_all | | |

Data directory at the end: $database_mb MB.
EOF
}

main "$@"
