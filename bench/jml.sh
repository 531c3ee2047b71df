#!/usr/bin/env bash
# Benchmark of the JML engine: plan and apply of a synthetic HR feed through the HTTP API.
#
# Builds the release binary and the feed generator, and starts `roster serve` on an ephemeral 127.0.0.1 port
# with a fresh data directory. Generates a feed of ROSTER_BENCH_PEOPLE people and a second feed of the same
# population with ROSTER_BENCH_CHANGED_PERCENT percent of them changed (movers, leavers and joiners). Then:
#   1. first load: uploads the first feed as a plan (POST /core/jml/plans) and applies it
#      (POST /core/jml/plans/{id}/apply, then GET /core/jml/runs/{id} until the run is no longer running);
#   2. steady state: the same with the changed feed.
# Both feeds are complete (full_feed=true) and use examples/synthetic-mapping.toml and
# examples/synthetic-policy.toml. Prints a Markdown report on stdout and progress on stderr. Every request goes
# to 127.0.0.1 only. The script stops the server and removes the data directory on exit.
#
# A plan is timed from the start of the upload to the end of the response, which lists every change. An apply
# is timed from the apply request until a poll finds the run finished, so it can read up to one poll interval
# long. The report also gives the run's own duration (finished_at minus created_at, from the server's clock).
# Peak resident memory is the server's VmHWM from /proc/PID/status, read after each step.
#
# SQLite in the data directory is the default backend. With ROSTER_BENCH_DATABASE set to a PostgreSQL URL,
# the script creates a new, uniquely named database on that server with psql, runs Roster on it and drops it on
# exit. The URL's own database is used only to run CREATE DATABASE and DROP DATABASE.
#
# Usage: bench/jml.sh > report.md
#        ROSTER_BENCH_DATABASE=postgres://postgres@127.0.0.1:5432/test bench/jml.sh > report.md
#
# Settings (environment variables):
#   ROSTER_BENCH_PEOPLE           people in the first feed (default 100000)
#   ROSTER_BENCH_CHANGED_PERCENT  percent of people changed in the second feed (default 1)
#   ROSTER_BENCH_CHURN_PERCENT    percent of people already terminated in the first feed (default 2)
#   ROSTER_BENCH_SEED             seed of the feed generator (default 1)
#   ROSTER_BENCH_POLL_MS          interval between polls of a run, in milliseconds (default 100)
#   ROSTER_BENCH_RUN_TIMEOUT      maximum seconds for one plan or one apply (default 600)
#   ROSTER_BENCH_DATABASE         PostgreSQL URL of an existing database on the server to use;
#                                 unset, Roster uses SQLite
#   ROSTER_BENCH_KEEP             1 keeps the data directory, feeds, responses and server log, and the
#                                 PostgreSQL database
#   ROSTER_BENCH_SKIP_BUILD       1 runs the release binary and feed generator already built, without cargo
#   CARGO_TARGET_DIR              where cargo builds; unset, target/ in the repository
#   RUST_LOG                      passed to the server; unset, it uses its default (info)
#
# Requires: cargo, curl and python3, and psql for PostgreSQL.
#
# Exit status: 0 when both runs finished with status done and no failed or stale person, whether or not the
# targets are met; 1 otherwise.

set -euo pipefail

PEOPLE=${ROSTER_BENCH_PEOPLE:-100000}
CHANGED_PERCENT=${ROSTER_BENCH_CHANGED_PERCENT:-1}
CHURN_PERCENT=${ROSTER_BENCH_CHURN_PERCENT:-2}
SEED=${ROSTER_BENCH_SEED:-1}
POLL_MS=${ROSTER_BENCH_POLL_MS:-100}
RUN_TIMEOUT=${ROSTER_BENCH_RUN_TIMEOUT:-600}
KEEP=${ROSTER_BENCH_KEEP:-0}
DATABASE_URL=${ROSTER_BENCH_DATABASE:-}

# Targets for a 2-core machine with 100,000 people: seconds for the first apply, for the steady-state plan
# and for the steady-state apply, and the server's peak resident memory.
TARGET_FIRST_APPLY_S=20
TARGET_STEADY_S=3
TARGET_MEMORY_MB=200

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
BINARY="$TARGET_DIR/release/roster"
GENERATOR="$TARGET_DIR/release/examples/generate_feed"

log() {
  printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2 2> /dev/null || true
}

fail() {
  log "error: $*"
  exit 1
}

check_tools() {
  local tool
  for tool in cargo curl python3; do
    command -v "$tool" > /dev/null || fail "$tool is missing; install it and rerun"
  done
  if [[ -n $DATABASE_URL ]]; then
    command -v psql > /dev/null || fail "psql is missing; install the postgresql-client package and rerun"
  fi
}

check_settings() {
  local name value
  for name in PEOPLE CHANGED_PERCENT CHURN_PERCENT SEED POLL_MS RUN_TIMEOUT; do
    value=${!name}
    [[ $value =~ ^[0-9]+$ ]] || fail "ROSTER_BENCH_$name must be a whole number, not '$value'"
  done
  ((PEOPLE > 0)) || fail "ROSTER_BENCH_PEOPLE must be at least 1"
  ((CHANGED_PERCENT <= 100 && CHURN_PERCENT <= 100)) ||
    fail "ROSTER_BENCH_CHANGED_PERCENT and ROSTER_BENCH_CHURN_PERCENT must be 0 to 100"
  ((POLL_MS > 0)) || fail "ROSTER_BENCH_POLL_MS must be at least 1"
  if [[ -n $DATABASE_URL && ! $DATABASE_URL =~ ^postgres(ql)?:// ]]; then
    fail "ROSTER_BENCH_DATABASE must be a postgres:// URL; leave it unset for SQLite"
  fi
}

WORK_DIR=""
SERVER_PID=""
# The database this run created on the PostgreSQL server, dropped on exit.
RUN_DATABASE=""

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -0 "$SERVER_PID" 2> /dev/null || return 0
  log "stopping the server (pid $SERVER_PID)"
  kill -TERM "$SERVER_PID" 2> /dev/null || true
  local waited=0
  while kill -0 "$SERVER_PID" 2> /dev/null && ((waited < 100)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$SERVER_PID" 2> /dev/null; then
    log "the server (pid $SERVER_PID) did not stop within 10 s of SIGTERM; killing it"
    kill -KILL "$SERVER_PID" 2> /dev/null || true
  fi
}

cleanup() {
  local status=$?
  stop_server
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
    if [[ $status -ne 0 && -f $WORK_DIR/server.log ]]; then
      log "last lines of $WORK_DIR/server.log:"
      tail -n 20 "$WORK_DIR/server.log" >&2 || true
    fi
    if [[ $KEEP == 1 ]]; then
      log "kept the data directory, feeds and server log in $WORK_DIR"
    else
      rm -rf "$WORK_DIR"
    fi
  fi
  exit "$status"
}

# Creates a database with a unique name on the server of DATABASE_URL, and sets SERVER_DATABASE_URL to the
# same URL with that database.
create_database() {
  local name
  name="roster_bench_jml_$(date -u +%Y%m%d_%H%M%S)_$$"
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
  DATABASE_VERSION=$(psql "$SERVER_DATABASE_URL" -X -A -t -c "SHOW server_version")
  log "created the PostgreSQL database $RUN_DATABASE on $DATABASE_HOST (PostgreSQL $DATABASE_VERSION)"
}

# Starts the server on an ephemeral port, waits until it reports its address, and sets SERVER_PID, BASE_URL
# and TOKEN.
start_server() {
  # The database URL goes through the environment rather than --database, so that a password in it does not
  # show in the process list.
  local environment=(-u ROSTER_DATABASE_URL)
  if [[ -n $DATABASE_URL ]]; then
    environment=("ROSTER_DATABASE_URL=$SERVER_DATABASE_URL")
    log "starting the server on the PostgreSQL database $RUN_DATABASE"
  else
    log "starting the server with data directory $WORK_DIR/data"
  fi
  # Created here, since the server starts in the background and the wait below may read the file before that
  # redirection creates it.
  : > "$WORK_DIR/server.out"
  # On PostgreSQL the server only writes the admin token there, into a directory that must exist.
  mkdir -p "$WORK_DIR/data"
  env "${environment[@]}" "$BINARY" serve --listen 127.0.0.1:0 --data-dir "$WORK_DIR/data" \
    > "$WORK_DIR/server.out" 2> "$WORK_DIR/server.log" &
  SERVER_PID=$!

  local address="" waited=0
  while [[ -z $address ]] && ((waited < 300)); do
    kill -0 "$SERVER_PID" 2> /dev/null || fail "the server exited at start"
    address=$(sed -n 's|^Roster is listening on http://\(127\.0\.0\.1:[0-9]*\).*|\1|p' "$WORK_DIR/server.out")
    sleep 0.1
    waited=$((waited + 1))
  done
  [[ -n $address ]] || fail "the server did not report its address within 30 s"
  BASE_URL="http://$address"
  local token_file="$WORK_DIR/data/admin-token"
  [[ -s $token_file ]] || fail "the server did not write $token_file"
  TOKEN=$(< "$token_file")
  log "server pid $SERVER_PID listening on $BASE_URL"
}

# Prints a field of /proc/PID/status of the server, such as VmHWM, in MB (10^6 bytes).
server_memory_mb() {
  awk -v field="$1:" '$1 == field { printf "%.1f", $2 * 1024 / 1e6 }' "/proc/$SERVER_PID/status"
}

# Prints the user plus system CPU time of the server in clock ticks.
server_cpu_ticks() {
  # Fields 14 and 15 of /proc/PID/stat. The command name (field 2) contains no spaces here.
  awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"
}

# Prints the CPU time of the whole machine outside idle and I/O wait, in clock ticks.
machine_busy_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# Prints the seconds since the epoch with nanoseconds.
now() {
  date +%s.%N
}

# Prints $2 - $1 in seconds with two decimals.
seconds_between() {
  python3 -c "print(f'{$2 - $1:.2f}')"
}

# Prints the cores used on average between two tick counts over a duration in seconds.
cores() {
  python3 -c "print(f'{($2 - $1) / $(getconf CLK_TCK) / $3:.2f}')"
}

# Writes the feeds: feed-1.csv with PEOPLE people, feed-2.csv the same with CHANGED_PERCENT percent changed.
generate_feeds() {
  log "generating a feed of $PEOPLE people and one with $CHANGED_PERCENT% of them changed"
  "$GENERATOR" --people "$PEOPLE" --churn-percent "$CHURN_PERCENT" --seed "$SEED" > "$WORK_DIR/feed-1.csv" ||
    fail "generating the first feed failed"
  "$GENERATOR" --people "$PEOPLE" --churn-percent "$CHURN_PERCENT" --seed "$SEED" --changed-percent "$CHANGED_PERCENT" \
    > "$WORK_DIR/feed-2.csv" || fail "generating the changed feed failed"
  FEED_1_ROWS=$(($(wc -l < "$WORK_DIR/feed-1.csv") - 1))
  FEED_2_ROWS=$(($(wc -l < "$WORK_DIR/feed-2.csv") - 1))
  FEED_2_DIFFERENT=$(python3 -c '
import sys
with open(sys.argv[1]) as a, open(sys.argv[2]) as b:
    first, second = a.read().splitlines(), b.read().splitlines()
changed = sum(1 for x, y in zip(first, second) if x != y)
print(changed + len(second) - len(first))' "$WORK_DIR/feed-1.csv" "$WORK_DIR/feed-2.csv")
  FEED_1_MB=$(du -m --apparent-size "$WORK_DIR/feed-1.csv" | cut -f1)
  log "feed 1: $FEED_1_ROWS rows ($FEED_1_MB MB); feed 2: $FEED_2_ROWS rows, $FEED_2_DIFFERENT changed or added"
}

# Uploads the feed $1 as a plan, and sets PLAN_ID, PLAN_SECONDS, PLAN_CPU, PLAN_COUNTS and PLAN_HWM.
make_plan() {
  local feed=$1 response="$WORK_DIR/plan-$1.json"
  log "planning $feed"
  local ticks_start start status end
  ticks_start=$(server_cpu_ticks)
  start=$(now)
  status=$(curl -sS --max-time "$RUN_TIMEOUT" -o "$response" -w '%{http_code}' \
    -H "Authorization: Bearer $TOKEN" "$BASE_URL/core/jml/plans" \
    -F "feed=@$WORK_DIR/$feed.csv" -F "mapping=@$REPO/examples/synthetic-mapping.toml" \
    -F "policy=@$REPO/examples/synthetic-policy.toml" -F full_feed=true) || fail "uploading $feed failed"
  end=$(now)
  [[ $status == 201 ]] || fail "planning $feed answered HTTP $status: $(head -c 2000 "$response")"
  PLAN_SECONDS=$(seconds_between "$start" "$end")
  PLAN_CPU=$(cores "$ticks_start" "$(server_cpu_ticks)" "$PLAN_SECONDS")
  PLAN_HWM=$(server_memory_mb VmHWM)
  read -r PLAN_ID PLAN_COUNTS PLAN_BYTES < <(python3 -c '
import json, os, sys
data = json.load(open(sys.argv[1]))["data"]
counts = data["attributes"]["counts"]
shown = ", ".join(f"{kind} {count}" for kind, count in counts.items() if count)
print(data["id"], shown.replace(" ", "_"), os.path.getsize(sys.argv[1]))' "$response")
  PLAN_COUNTS=${PLAN_COUNTS//_/ }
  log "plan $PLAN_ID of $feed in $PLAN_SECONDS s ($PLAN_COUNTS; response $PLAN_BYTES bytes)"
}

# Prints the status, the run's own seconds and its result counts of run $1, separated by tabs.
run_state() {
  curl -sf --max-time 10 -H "Authorization: Bearer $TOKEN" "$BASE_URL/core/jml/runs/$1" | python3 -c '
import json, sys
from datetime import datetime
attributes = json.load(sys.stdin)["data"]["attributes"]
result = attributes.get("result") or {}
seconds = ""
if attributes.get("finished_at"):
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))
    duration = parse(attributes["finished_at"]) - parse(attributes["created_at"])
    seconds = f"{duration.total_seconds():.2f}"
counts = ", ".join(f"{kind} {result.get(kind) or 0}" for kind in ("applied", "already_applied", "stale", "failed"))
print(attributes["status"], seconds, counts, sep="\t")'
}

# Applies plan $1 and waits for its run to finish; sets APPLY_SECONDS, APPLY_RUN_SECONDS, APPLY_CPU,
# APPLY_COUNTS and APPLY_HWM. Fails unless the run is done with no failed or stale person.
apply_plan() {
  local plan_id=$1 response="$WORK_DIR/apply-$1.json"
  log "applying plan $plan_id"
  local ticks_start start status run_id state="running" run_seconds="" counts="" end
  ticks_start=$(server_cpu_ticks)
  start=$(now)
  status=$(curl -sS --max-time 60 -o "$response" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $TOKEN" "$BASE_URL/core/jml/plans/$plan_id/apply") || fail "applying plan $plan_id failed"
  [[ $status == 202 ]] || fail "applying plan $plan_id answered HTTP $status: $(head -c 2000 "$response")"
  run_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["data"]["id"])' "$response")

  local deadline poll_seconds
  deadline=$(python3 -c "print($start + $RUN_TIMEOUT)")
  poll_seconds=$(python3 -c "print($POLL_MS / 1000)")
  while [[ $state == running ]]; do
    python3 -c "import sys; sys.exit(0 if $(now) < $deadline else 1)" ||
      fail "run $run_id of plan $plan_id did not finish within $RUN_TIMEOUT s"
    sleep "$poll_seconds"
    IFS=$'\t' read -r state run_seconds counts < <(run_state "$run_id") || fail "reading run $run_id failed"
  done
  end=$(now)
  APPLY_SECONDS=$(seconds_between "$start" "$end")
  APPLY_RUN_SECONDS=$run_seconds
  APPLY_CPU=$(cores "$ticks_start" "$(server_cpu_ticks)" "$APPLY_SECONDS")
  APPLY_COUNTS=$counts
  APPLY_HWM=$(server_memory_mb VmHWM)
  log "run $run_id of plan $plan_id: $state in $APPLY_SECONDS s (the run's own time $run_seconds s; $counts)"
  [[ $state == done ]] || fail "run $run_id ended with status $state"
  [[ $counts == *"stale 0, failed 0" ]] || fail "run $run_id has stale or failed people: $counts"
}

# Prints yes when $1 is below $2, no otherwise.
below() {
  python3 -c "print('yes' if $1 < $2 else 'no')"
}

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

describe_backend() {
  if [[ -z $DATABASE_URL ]]; then
    echo "Backend: SQLite in a fresh data directory."
  else
    echo "Backend: PostgreSQL $DATABASE_VERSION at $DATABASE_HOST, a fresh database."
  fi
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  # A closed terminal or a reader of stderr that went away must still stop the server, so the cleanup then
  # writes its messages to /dev/null.
  trap 'exec 2> /dev/null; exit 129' HUP
  trap 'exec 2> /dev/null; exit 141' PIPE
  check_settings
  check_tools

  if [[ ${ROSTER_BENCH_SKIP_BUILD:-0} == 1 ]]; then
    [[ -x $BINARY && -x $GENERATOR ]] || fail "ROSTER_BENCH_SKIP_BUILD=1, but $BINARY or $GENERATOR is missing; build them or unset it"
    log "using the binaries already built in $TARGET_DIR/release"
  else
    log "building the release binary and the feed generator"
    (cd "$REPO" && cargo build --release --quiet -p roster && cargo build --release --quiet -p roster-jml --example generate_feed) ||
      fail "cargo build --release failed"
  fi

  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/roster-bench-jml.XXXXXX")
  generate_feeds

  local busy_start
  busy_start=$(machine_busy_ticks)
  sleep 2
  IDLE_CHECK=$(python3 -c "print(f'{($(machine_busy_ticks) - $busy_start) / $(getconf CLK_TCK) / 2:.2f}')")
  if python3 -c "import sys; sys.exit(0 if $IDLE_CHECK > 0.1 else 1)"; then
    log "warning: other processes use $IDLE_CHECK cores before the benchmark starts; they will skew the results"
  fi
  [[ -n $DATABASE_URL ]] && create_database
  start_server
  local machine_start machine_end run_start run_end
  machine_start=$(machine_busy_ticks)
  run_start=$(now)

  make_plan feed-1
  local rows=()
  rows+=("| first load | plan | $PLAN_SECONDS | | $PLAN_CPU | $PLAN_COUNTS | | |")
  apply_plan "$PLAN_ID"
  local met
  met=$(below "$APPLY_SECONDS" "$TARGET_FIRST_APPLY_S")
  rows+=("| first load | apply | $APPLY_SECONDS | $APPLY_RUN_SECONDS | $APPLY_CPU | $APPLY_COUNTS | < $TARGET_FIRST_APPLY_S s | $met |")
  local first_hwm=$APPLY_HWM first_plan_hwm=$PLAN_HWM

  make_plan feed-2
  met=$(below "$PLAN_SECONDS" "$TARGET_STEADY_S")
  rows+=("| steady state | plan | $PLAN_SECONDS | | $PLAN_CPU | $PLAN_COUNTS | < $TARGET_STEADY_S s | $met |")
  local steady_plan_seconds=$PLAN_SECONDS steady_plan_hwm=$PLAN_HWM
  apply_plan "$PLAN_ID"
  met=$(below "$APPLY_SECONDS" "$TARGET_STEADY_S")
  rows+=("| steady state | apply | $APPLY_SECONDS | $APPLY_RUN_SECONDS | $APPLY_CPU | $APPLY_COUNTS | < $TARGET_STEADY_S s | $met |")
  local steady_total
  steady_total=$(python3 -c "print(f'{$steady_plan_seconds + $APPLY_SECONDS:.2f}')")
  run_end=$(now)
  machine_end=$(machine_busy_ticks)
  local machine_cpu
  machine_cpu=$(python3 -c "
hz = $(getconf CLK_TCK)
seconds = $run_end - $run_start
print(f'{(($machine_end - $machine_start) / hz) / seconds:.2f}')")

  local hwm rss storage
  hwm=$(server_memory_mb VmHWM)
  rss=$(server_memory_mb VmRSS)
  if [[ -n $DATABASE_URL ]]; then
    storage="PostgreSQL database at the end (pg_database_size): $(psql "$SERVER_DATABASE_URL" -X -A -t -c \
      "SELECT round(pg_database_size(current_database()) / 1e6)") MB."
  else
    storage="Data directory at the end: $(du -sm "$WORK_DIR/data" | cut -f1) MB."
  fi

  cat << REPORT
Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Commit: $(describe_commit).
Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(free -h | awk '/^Mem:/ { print $2 }') memory, $(uname -sr).
$(describe_backend)
CPU in use by other processes in the 2 s before the server started: $IDLE_CHECK cores. CPU of the whole machine during the four steps: $machine_cpu cores.
Feeds: $FEED_1_ROWS rows ($FEED_1_MB MB, $CHURN_PERCENT% already terminated), then $FEED_2_ROWS rows of which $FEED_2_DIFFERENT changed or added; seed $SEED, both uploaded with full_feed=true.

Seconds are wall-clock time at the client: a plan from the start of the upload to the end of its response, an apply from the request until a poll (every $POLL_MS ms) sees the run done. Run seconds are the run's finished_at minus created_at. CPU is the server's cores in use on average during the step.

| step | | seconds | run seconds | server CPU | counts | target | met |
| --- | --- | ---: | ---: | ---: | --- | --- | --- |
$(printf '%s\n' "${rows[@]}")
| steady state | plan and apply | $steady_total | | | | | |

| server memory | MB | target | met |
| --- | ---: | --- | --- |
| peak resident (VmHWM) after the first plan | $first_plan_hwm | | |
| peak resident (VmHWM) after the first apply | $first_hwm | | |
| peak resident (VmHWM) after the steady-state plan | $steady_plan_hwm | | |
| peak resident (VmHWM) at the end | $hwm | < $TARGET_MEMORY_MB MB | $(below "$hwm" "$TARGET_MEMORY_MB") |
| resident (VmRSS) at the end | $rss | | |

$storage
REPORT
}

main "$@"
