#!/usr/bin/env bash
# Benchmark of the core users API: create-user, get-user and list-users.
#
# Builds the release binary and starts `roster serve` on an ephemeral
# 127.0.0.1 port with a fresh data directory. Loads ROSTER_BENCH_USERS users,
# then runs each scenario with wrk for ROSTER_BENCH_DURATION seconds at each
# connection count. Prints a Markdown report on stdout and progress on stderr.
# Every request to Roster goes to 127.0.0.1 only. The script stops the server
# and removes the data directory on exit.
#
# SQLite in the data directory is the default backend. With
# ROSTER_BENCH_DATABASE set to a PostgreSQL URL, the script creates a new,
# uniquely named database on that server with psql, runs Roster on it and
# drops it on exit. The URL's own database is used only to run CREATE
# DATABASE and DROP DATABASE. With ROSTER_BENCH_NODES=2, two servers share
# that database: each wrk run splits its connections and threads evenly
# between the nodes, one wrk process per node at once, and the report sums the
# requests/s and shows the worse p50 and p99 of the nodes.
#
# Usage: bench/core.sh > report.md
#        ROSTER_BENCH_DATABASE=postgres://postgres@127.0.0.1:5432/test bench/core.sh > report.md
#        ROSTER_BENCH_DATABASE=postgres://postgres@127.0.0.1:5432/test ROSTER_BENCH_NODES=2 bench/core.sh > report.md
#
# Settings (environment variables):
#   ROSTER_BENCH_USERS         users loaded before the runs (default 100000)
#   ROSTER_BENCH_DURATION      seconds per measured run (default 10)
#   ROSTER_BENCH_WARMUP        seconds of unrecorded load before each run (default 2)
#   ROSTER_BENCH_CONNECTIONS   connection counts to measure, in total over all nodes (default "32 8")
#   ROSTER_BENCH_WRK_THREADS   wrk threads in total over all nodes (default 2)
#   ROSTER_BENCH_DATABASE      PostgreSQL URL of an existing database on the server to use;
#                              unset, Roster uses SQLite
#   ROSTER_BENCH_NODES         Roster servers sharing the PostgreSQL database (default 1)
#   ROSTER_BENCH_LOAD_TIMEOUT  maximum seconds for loading the users (default 600)
#   ROSTER_BENCH_KEEP          1 keeps the data directory and server logs, and the
#                              PostgreSQL database
#   RUST_LOG                   passed to the server; unset, it uses its default (info)
#
# Requires: cargo, curl, python3 and wrk, and psql for PostgreSQL. wrk is installed from Debian's
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
DATABASE_URL=${ROSTER_BENCH_DATABASE:-}
NODES=${ROSTER_BENCH_NODES:-1}

# The load step runs at this many connections in total, and fails when the
# user count stops growing for STALL_LIMIT seconds.
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
  printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2 2> /dev/null || true
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
  if [[ -n $DATABASE_URL ]]; then
    command -v psql > /dev/null || fail "psql is missing; install the postgresql-client package and rerun"
  fi
  ensure_wrk
}

# Checks the node count against the backend, and that the connections and
# wrk threads divide evenly between the nodes.
check_settings() {
  [[ $NODES =~ ^[1-9][0-9]*$ ]] || fail "ROSTER_BENCH_NODES must be a positive whole number, not '$NODES'"
  if [[ -n $DATABASE_URL && ! $DATABASE_URL =~ ^postgres(ql)?:// ]]; then
    fail "ROSTER_BENCH_DATABASE must be a postgres:// URL; leave it unset for SQLite"
  fi
  if ((NODES > 1)) && [[ -z $DATABASE_URL ]]; then
    fail "ROSTER_BENCH_NODES=$NODES needs ROSTER_BENCH_DATABASE, because only PostgreSQL can be shared by several nodes"
  fi
  [[ $WRK_THREADS =~ ^[1-9][0-9]*$ ]] || fail "ROSTER_BENCH_WRK_THREADS must be a positive whole number, not '$WRK_THREADS'"
  if ((WRK_THREADS % NODES != 0)); then
    fail "ROSTER_BENCH_WRK_THREADS=$WRK_THREADS does not divide evenly between $NODES nodes; use a multiple of $NODES"
  fi
  NODE_THREADS=$((WRK_THREADS / NODES))
  local connections
  for connections in $CONNECTIONS; do
    [[ $connections =~ ^[1-9][0-9]*$ ]] || fail "ROSTER_BENCH_CONNECTIONS must list positive whole numbers, not '$connections'"
    if ((connections % NODES != 0 || connections / NODES < NODE_THREADS)); then
      fail "$connections connections do not split into $NODES nodes of at least $NODE_THREADS each (wrk needs a connection per thread); change ROSTER_BENCH_CONNECTIONS"
    fi
  done
}

WORK_DIR=""
SERVER_PIDS=()
WRK_PIDS=()
# The database this run created on the PostgreSQL server, dropped on exit.
RUN_DATABASE=""
DATABASE_LOCAL=0

stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do
    if kill -0 "$pid" 2> /dev/null; then
      log "stopping the server (pid $pid)"
      kill -TERM "$pid" 2> /dev/null || true
    fi
  done
  local waited=0
  for pid in "${SERVER_PIDS[@]}"; do
    while kill -0 "$pid" 2> /dev/null && ((waited < 100)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$pid" 2> /dev/null; then
      log "the server (pid $pid) did not stop within 10 s of SIGTERM; killing it"
      kill -KILL "$pid" 2> /dev/null || true
    fi
  done
}

cleanup() {
  local status=$?
  local pid
  for pid in "${WRK_PIDS[@]}"; do
    if kill -0 "$pid" 2> /dev/null; then
      kill "$pid" 2> /dev/null || true
    fi
  done
  stop_servers
  if [[ -n $RUN_DATABASE ]]; then
    if [[ $KEEP == 1 ]]; then
      log "kept the PostgreSQL database $RUN_DATABASE"
    else
      log "dropping the PostgreSQL database $RUN_DATABASE"
      psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $RUN_DATABASE WITH (FORCE)" >&2 ||
        log "dropping the database $RUN_DATABASE failed; drop it by hand"
    fi
  fi
  if [[ -n $WORK_DIR ]]; then
    local log_file
    for log_file in "$WORK_DIR"/node*/server.log; do
      if [[ $status -ne 0 && -f $log_file ]]; then
        log "last lines of $log_file:"
        tail -n 20 "$log_file" >&2 || true
      fi
    done
    if [[ $KEEP == 1 ]]; then
      log "kept the data directories and server logs in $WORK_DIR"
    else
      rm -rf "$WORK_DIR"
    fi
  fi
  exit "$status"
}

# Creates a database with a unique name on the server of DATABASE_URL, and
# sets SERVER_DATABASE_URL to the same URL with that database.
create_database() {
  local name
  name="roster_bench_$(date -u +%Y%m%d_%H%M%S)_$$"
  psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $name" >&2 ||
    fail "creating the database $name with psql failed; check ROSTER_BENCH_DATABASE and that its user may create databases"
  RUN_DATABASE=$name
  SERVER_DATABASE_URL=$(python3 -c '
import sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
print(urllib.parse.urlunsplit(url._replace(path="/" + sys.argv[2])))' "$DATABASE_URL" "$RUN_DATABASE")
  DATABASE_HOST=$(python3 -c '
import sys, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
print((url.hostname or "localhost") + ":" + str(url.port or 5432))' "$DATABASE_URL")
  # A host of localhost, 127.0.0.0/8 or ::1 runs the database server on this
  # machine, so its processes can be read in /proc.
  DATABASE_LOCAL=0
  [[ $DATABASE_HOST =~ ^(localhost|127\.[0-9.]+|::1): ]] && DATABASE_LOCAL=1
  DATABASE_VERSION=$(psql "$SERVER_DATABASE_URL" -X -A -t -c "SHOW server_version")
  log "created the PostgreSQL database $RUN_DATABASE on $DATABASE_HOST (PostgreSQL $DATABASE_VERSION)"
}

# Starts node number $1 on an ephemeral port, waits until it reports its
# address, and appends its pid and base URL to SERVER_PIDS and BASE_URLS.
start_node() {
  local node=$1
  local dir="$WORK_DIR/node$node"
  mkdir -p "$dir"
  # The database URL goes through the environment rather than --database, so
  # that a password in it does not show in the process list.
  local environment=(-u ROSTER_DATABASE_URL)
  if [[ -n $DATABASE_URL ]]; then
    environment=("ROSTER_DATABASE_URL=$SERVER_DATABASE_URL")
    log "starting node $node on the PostgreSQL database $RUN_DATABASE"
  else
    log "starting the server with data directory $dir/data"
  fi
  # Created here, since the server starts in the background and the wait
  # below may read the file before that redirection creates it.
  : > "$dir/server.out"
  env "${environment[@]}" "$BINARY" serve --listen 127.0.0.1:0 --data-dir "$dir/data" \
    > "$dir/server.out" 2> "$dir/server.log" &
  local pid=$!
  SERVER_PIDS+=("$pid")

  local address=""
  local waited=0
  while [[ -z $address ]] && ((waited < 300)); do
    kill -0 "$pid" 2> /dev/null || fail "the server (node $node) exited at start"
    address=$(sed -n 's|^Roster is listening on http://\(127\.0\.0\.1:[0-9]*\).*|\1|p' "$dir/server.out")
    sleep 0.1
    waited=$((waited + 1))
  done
  [[ -n $address ]] || fail "the server (node $node) did not report its address within 30 s"
  BASE_URLS+=("http://$address")
  log "node $node: server pid $pid listening on http://$address"
}

# Starts every node and sets BASE_URL (node 1), TOKEN and TOKEN_FILE. Node 1
# starts alone first, so it bootstraps the database and writes the admin
# token. The other nodes find the database bootstrapped and write no token.
# The admin token works on them too, because tokens are stored in the shared
# database.
start_servers() {
  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/roster-bench.XXXXXX")
  BASE_URLS=()
  start_node 1
  BASE_URL=${BASE_URLS[0]}
  TOKEN_FILE="$WORK_DIR/node1/data/admin-token"
  [[ -s $TOKEN_FILE ]] || fail "the server did not write $TOKEN_FILE"
  TOKEN=$(< "$TOKEN_FILE")

  local node
  for ((node = 2; node <= NODES; node++)); do
    start_node "$node"
    curl -sf --max-time 10 -o /dev/null -H "Authorization: Bearer $TOKEN" "${BASE_URLS[node - 1]}/core/users?page%5Bsize%5D=1" ||
      fail "node $node rejected the admin token of node 1"
  done
}

# Prints meta.total_count of the user list, which the first page computes.
user_count() {
  curl -sf --max-time 10 -H "Authorization: Bearer $TOKEN" "$BASE_URL/core/users?page%5Bsize%5D=1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["meta"]["total_count"])'
}

# Prints the user plus system CPU time of every node together, in clock ticks.
server_cpu_ticks() {
  local pid
  # Fields 14 and 15 of /proc/PID/stat. The command name (field 2) contains no spaces here.
  for pid in "${SERVER_PIDS[@]}"; do
    awk '{ print $14 + $15 }' "/proc/$pid/stat"
  done | awk '{ sum += $1 } END { print sum + 0 }'
}

# Writes "pid ticks" lines to the file $1: the user plus system CPU time of
# the PostgreSQL processes that serve this run, which are the backends
# connected to its database and the server's background processes (WAL
# writer, checkpointer and so on, which other databases share). It needs the
# database server on this machine, and writes nothing otherwise.
database_cpu_sample() {
  : > "$1"
  [[ -n $DATABASE_URL && $DATABASE_LOCAL == 1 ]] || return 0
  psql "$DATABASE_URL" -X -A -t -c "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()
      AND (datname = '$RUN_DATABASE' OR backend_type <> 'client backend')" |
    python3 -c '
import sys
for pid in sys.stdin.read().split():
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except OSError:
        continue
    # Fields after the command name, which is in brackets and may contain spaces.
    fields = text.rpartition(") ")[2].split()
    print(pid, int(fields[11]) + int(fields[12]))' > "$1"
}

# Prints the CPU time in clock ticks that the processes in the sample file $2
# used since the sample file $1. A process that started in between counts
# whole, and one that exited in between is missing, so the figure can come
# out low when the pool replaces connections during a run.
database_cpu_ticks_between() {
  python3 -c '
import sys
def read(path):
    with open(path) as file:
        return dict((int(pid), int(ticks)) for pid, ticks in (line.split() for line in file if line.strip()))
start, end = read(sys.argv[1]), read(sys.argv[2])
print(sum(ticks - start.get(pid, 0) for pid, ticks in end.items()))' "$1" "$2"
}

# Prints the CPU time of the whole machine outside idle and I/O wait, in clock ticks.
machine_busy_ticks() {
  # Sums user, nice, system, irq, softirq and steal. Guest time is already part of user and nice.
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# Prints a field of /proc/PID/status, such as VmHWM, of the server with pid $1, in MB (10^6 bytes).
server_memory_mb() {
  awk -v field="$2:" '$1 == field { printf "%.1f", $2 * 1024 / 1e6 }' "/proc/$1/status"
}

# Sets the environment that the wrk scripts read.
export_wrk_settings() {
  export ROSTER_BENCH_TOKEN=$TOKEN
  export ROSTER_BENCH_THREADS=$NODE_THREADS
  export ROSTER_BENCH_IDS=$WORK_DIR/ids.txt
  export ROSTER_BENCH_CURSORS=$WORK_DIR/cursors.txt
}

# Creates USERS users at LOAD_CONNECTIONS connections, split between the
# nodes. wrk runs for a fixed time, so the script interrupts it once the
# server stores them all. create.lua sends no more creates than its quota, so
# the count comes out exact.
load_users() {
  local before expected
  before=$(user_count)
  expected=$((before + USERS))
  log "loading $USERS users at $LOAD_CONNECTIONS connections (at most $LOAD_TIMEOUT s)"

  local start_ticks start_time node quota
  start_ticks=$(server_cpu_ticks)
  start_time=$(date +%s.%N)
  WRK_PIDS=()
  for ((node = 1; node <= NODES; node++)); do
    # Node 1 also takes the remainder of the division.
    quota=$((USERS / NODES))
    ((node == 1)) && quota=$((quota + USERS % NODES))
    ROSTER_BENCH_LABEL="load-n$node" ROSTER_BENCH_QUOTA=$quota \
      wrk -t "$NODE_THREADS" -c $((LOAD_CONNECTIONS / NODES)) -d "${LOAD_TIMEOUT}s" --timeout "$REQUEST_TIMEOUT" \
      -s "$SCRIPTS/create.lua" "${BASE_URLS[node - 1]}" > "$WORK_DIR/load-n$node.out" 2>&1 &
    WRK_PIDS+=($!)
  done

  # Gives up when the count has not grown for STALL_LIMIT seconds, such as when a create failed.
  local count=$before previous=$before stalled=0
  while any_running "${WRK_PIDS[@]}" && ((stalled < STALL_LIMIT)); do
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
  local end_time pid
  end_time=$(date +%s.%N)
  for pid in "${WRK_PIDS[@]}"; do
    if kill -0 "$pid" 2> /dev/null; then
      kill -INT "$pid"
    fi
    wait "$pid" || true
  done
  WRK_PIDS=()

  ((count == expected)) || fail "the server holds $count users after the load, expected $expected; wrk printed: $(cat "$WORK_DIR"/load-n*.out)"
  local output result
  for ((node = 1; node <= NODES; node++)); do
    output="$WORK_DIR/load-n$node.out"
    result=$(grep '^RESULT ' "$output") || fail "wrk printed no result: $(cat "$output")"
    check_errors "load on node $node" "$result" "$output"
  done

  LOAD_SECONDS=$(python3 -c "print(f'{$end_time - $start_time:.1f}')")
  LOAD_RATE=$(python3 -c "print(f'{$USERS / ($end_time - $start_time):.0f}')")
  LOAD_CPU=$(python3 -c "print(f'{($(server_cpu_ticks) - $start_ticks) / $(getconf CLK_TCK) / ($end_time - $start_time):.2f}')")
  log "loaded $USERS users in $LOAD_SECONDS s ($LOAD_RATE users/s); the server holds $count users"
}

# Succeeds when any of the given processes still runs.
any_running() {
  local pid
  for pid in "$@"; do
    kill -0 "$pid" 2> /dev/null && return 0
  done
  return 1
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
NODE_ROWS=()

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

# Runs the scenario $1 with $2 connections and NODE_THREADS threads on every
# node at once, for $3 seconds, with the create label $4. Writes wrk's output
# of node N to $5-nN.out and fails when any wrk fails.
run_wrk_on_nodes() {
  local scenario=$1 per_node=$2 seconds=$3 label=$4 prefix=$5
  local pids=() node pid status=0
  for ((node = 1; node <= NODES; node++)); do
    ROSTER_BENCH_LABEL="$label-n$node" timeout $((seconds + 30)) \
      wrk -t "$NODE_THREADS" -c "$per_node" -d "${seconds}s" --timeout "$REQUEST_TIMEOUT" \
      -s "$SCRIPTS/$scenario.lua" "${BASE_URLS[node - 1]}" > "$prefix-n$node.out" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || status=1
  done
  return "$status"
}

# Runs one scenario at one total connection count: a warm-up, then the measured run.
run_scenario() {
  local scenario=$1 connections=$2
  local per_node=$((connections / NODES))
  local prefix="$WORK_DIR/$scenario-$connections"

  if ((WARMUP > 0)); then
    run_wrk_on_nodes "$scenario" "$per_node" "$WARMUP" "warmup-$connections" "$prefix.warmup" ||
      fail "$scenario warm-up at $connections connections failed: $(cat "$prefix".warmup-n*.out)"
  fi

  log "$scenario at $connections connections for $DURATION s"
  local server_start machine_start server_end machine_end wrk_seconds database_ticks
  server_start=$(server_cpu_ticks)
  database_cpu_sample "$prefix.database-start"
  machine_start=$(machine_busy_ticks)
  # Bash's time keyword reports the user and system seconds of the wrk
  # processes on stderr of the group, since the group waits for them all.
  wrk_seconds=$( {
    TIMEFORMAT='%U %S'
    time run_wrk_on_nodes "$scenario" "$per_node" "$DURATION" "run-$connections" "$prefix"
  } 2>&1 ) || fail "$scenario at $connections connections failed: $(cat "$prefix"-n*.out)"
  server_end=$(server_cpu_ticks)
  database_cpu_sample "$prefix.database-end"
  machine_end=$(machine_busy_ticks)
  database_ticks=$(database_cpu_ticks_between "$prefix.database-start" "$prefix.database-end")

  local node output result results=()
  for ((node = 1; node <= NODES; node++)); do
    output="$prefix-n$node.out"
    result=$(grep '^RESULT ' "$output") || fail "wrk printed no result: $(cat "$output")"
    check_errors "$scenario at $connections connections on node $node" "$result" "$output"
    results+=("$result")
    if ((NODES > 1)); then
      NODE_ROWS+=("| $scenario | $connections | $node | $per_node | $(result_field "$result" rps) | $(result_field "$result" p50_ms) | $(result_field "$result" p99_ms) | $(result_field "$result" requests) |")
    fi
  done

  # Sums requests/s and requests over the nodes, and takes the worse latency
  # and the longer duration.
  local rps p50 p99 requests non_2xx seconds
  read -r rps p50 p99 requests non_2xx seconds < <(printf '%s\n' "${results[@]}" | python3 -c '
import sys
runs = [dict(pair.split("=", 1) for pair in line.split()[1:]) for line in sys.stdin if line.strip()]
rps = sum(float(run["rps"]) for run in runs)
p50 = max(float(run["p50_ms"]) for run in runs)
p99 = max(float(run["p99_ms"]) for run in runs)
requests = sum(int(run["requests"]) for run in runs)
non_2xx = sum(int(run["non_2xx"]) for run in runs)
seconds = max(float(run["duration_s"]) for run in runs)
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {requests} {non_2xx} {seconds}")')

  local server_cpu database_cpu wrk_cpu other_cpu
  read -r server_cpu database_cpu wrk_cpu other_cpu < <(python3 -c "
hz = $(getconf CLK_TCK)
server = ($server_end - $server_start) / hz / $seconds
database = $database_ticks / hz / $seconds
wrk = sum(float(part) for part in '$wrk_seconds'.split()) / $seconds
machine = ($machine_end - $machine_start) / hz / $seconds
print(f'{server:.2f} {database:.2f} {wrk:.2f} {max(machine - server - database - wrk, 0):.2f}')")

  local target="" met="-"
  if [[ $connections == 32 && -n ${TARGET_RPS_32[$scenario]:-} ]]; then
    target=">= ${TARGET_RPS_32[$scenario]} req/s"
    met=$(python3 -c "print('yes' if $rps >= ${TARGET_RPS_32[$scenario]} else 'no')")
  elif [[ $connections == 8 ]]; then
    target="p99 < $TARGET_P99_8_MS ms"
    met=$(python3 -c "print('yes' if $p99 < $TARGET_P99_8_MS else 'no')")
  fi
  local database_column=""
  [[ $DATABASE_LOCAL == 1 ]] || database_cpu="not measured"
  [[ -n $DATABASE_URL ]] && database_column=" $database_cpu |"
  ROWS+=("| $scenario | $connections | $rps | $p50 | $p99 | $requests | $non_2xx | $server_cpu |$database_column $wrk_cpu | $other_cpu | $target | $met |")
  local database_log=""
  [[ -n $DATABASE_URL ]] && database_log=", PostgreSQL $database_cpu"
  log "$scenario at $connections connections: $rps req/s, p50 $p50 ms, p99 $p99 ms;" \
    "CPU cores used by the server $server_cpu$database_log, wrk $wrk_cpu, other processes $other_cpu"
}

# Appends the memory rows of every node to MEMORY_ROWS. $1 is the point of the
# run: "reads" after the get and list runs, "end" after the create runs.
read_memory() {
  local moment=$1 node pid prefix hwm rss parts threads
  for ((node = 1; node <= NODES; node++)); do
    pid=${SERVER_PIDS[node - 1]}
    prefix=""
    ((NODES > 1)) && prefix="node $node: "
    hwm=$(server_memory_mb "$pid" VmHWM)
    rss=$(server_memory_mb "$pid" VmRSS)
    if [[ $moment == reads ]]; then
      parts="anonymous $(server_memory_mb "$pid" RssAnon), file-backed $(server_memory_mb "$pid" RssFile), shared memory $(server_memory_mb "$pid" RssShmem)"
      threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$pid/status")
      MEMORY_ROWS+=("| ${prefix}peak resident (VmHWM) after load, get and list, $USERS users | $hwm | < $TARGET_MEMORY_MB MB | $(python3 -c "print('yes' if $hwm < $TARGET_MEMORY_MB else 'no')") |")
      MEMORY_ROWS+=("| ${prefix}resident (VmRSS) at that point: $parts; $threads threads | $rss | | |")
    else
      MEMORY_ROWS+=("| ${prefix}peak resident (VmHWM) after the create runs too, $USERS_AFTER users | $hwm | | |")
      MEMORY_ROWS+=("| ${prefix}resident (VmRSS) at the end | $rss | | |")
    fi
  done
}

# Prints the report's lines that name the backend and how the nodes share the load.
describe_backend() {
  if [[ -z $DATABASE_URL ]]; then
    echo "Backend: SQLite in a fresh data directory, 1 node."
    return
  fi
  local nodes="1 node"
  ((NODES > 1)) && nodes="$NODES nodes (roster serve processes) sharing it"
  echo "Backend: PostgreSQL $DATABASE_VERSION at $DATABASE_HOST, a fresh database, $nodes."
  if ((NODES > 1)); then
    echo "Each run splits its connections and wrk threads evenly between the nodes, with one wrk process per node running at once." \
      "requests/s and requests are sums over the nodes; p50 and p99 are the worse of the nodes' values (the per-node table below has each)."
  fi
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  # A closed terminal or a reader of stderr that went away must still stop
  # the servers, so the cleanup then writes its messages to /dev/null.
  trap 'exec 2> /dev/null; exit 129' HUP
  trap 'exec 2> /dev/null; exit 141' PIPE
  check_settings
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
  [[ -n $DATABASE_URL ]] && create_database
  start_servers
  export_wrk_settings
  load_users

  log "collecting user ids and page cursors by walking links.next"
  python3 "$REPO/bench/collect_pages.py" --base-url "$BASE_URL" --token-file "$TOKEN_FILE" \
    --expect "$(user_count)" --ids "$WORK_DIR/ids.txt" --cursors "$WORK_DIR/cursors.txt" >&2

  local connections
  for scenario in get list; do
    for connections in $CONNECTIONS; do
      run_scenario "$scenario" "$connections"
    done
  done
  MEMORY_ROWS=()
  read_memory reads

  # Creates run last because they add users; the get and list runs see exactly the loaded set.
  for connections in $CONNECTIONS; do
    run_scenario create "$connections"
  done
  USERS_AFTER=$(user_count)
  read_memory end

  local database_size
  if [[ -n $DATABASE_URL ]]; then
    database_size="PostgreSQL database at the end (pg_database_size): $(psql "$SERVER_DATABASE_URL" -X -A -t -c \
      "SELECT round(pg_database_size(current_database()) / 1e6)") MB."
  else
    database_size="Data directory at the end: $(du -sm "$WORK_DIR/node1/data" | cut -f1) MB."
  fi

  local database_header="" database_rule="" database_note=""
  if [[ -n $DATABASE_URL ]]; then
    database_header=" PostgreSQL CPU |"
    database_rule=" ---: |"
    database_note=" PostgreSQL CPU counts the backends connected to this run's database and the server's background processes, which other databases share; other CPU excludes it. It is not measured when PostgreSQL runs on another machine."
  fi

  cat << REPORT
Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Commit: $(describe_commit).
Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(free -h | awk '/^Mem:/ { print $2 }') memory, $(uname -sr).
$(describe_backend)
CPU in use by other processes in the 2 s before the server started: $IDLE_CHECK cores.
Users loaded: $USERS in $LOAD_SECONDS s at $LOAD_CONNECTIONS connections ($LOAD_RATE creates/s, server CPU $LOAD_CPU cores).
Runs: $DURATION s each after a $WARMUP s warm-up, wrk with $WRK_THREADS threads, request timeout $REQUEST_TIMEOUT.

CPU columns are cores in use on average during the run: the server, wrk, and every other process on the machine.$database_note

| scenario | connections | requests/s | p50 ms | p99 ms | requests | non-2xx | server CPU |$database_header wrk CPU | other CPU | target | met |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |$database_rule ---: | ---: | --- | --- |
$(printf '%s\n' "${ROWS[@]}")
REPORT

  if ((NODES > 1)); then
    cat << REPORT

| scenario | connections in total | node | connections | requests/s | p50 ms | p99 ms | requests |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
$(printf '%s\n' "${NODE_ROWS[@]}")
REPORT
  fi

  cat << REPORT

| server memory | MB | target | met |
| --- | ---: | --- | --- |
$(printf '%s\n' "${MEMORY_ROWS[@]}")

$database_size
REPORT
}

main "$@"
