#!/usr/bin/env bash
# Side-by-side SCIM benchmark of Roster and the two peer SCIM servers.
#
# Builds the release binary, then measures three servers in turn, each one
# fresh and the only one running: Roster (SQLite, new data directory, an
# ephemeral 127.0.0.1 port), then scim2-server and the scimmy peer, which
# start-peers.sh starts on free 127.0.0.1 ports. Each server gets the same run
# of bench-scim.sh: load ROSTER_BENCH_USERS users, then filter by userName eq,
# a page of 100 and create. Prints a Markdown report on stdout, with the ratio
# of Roster to the faster peer in each scenario against the targets, and
# progress on stderr. Every request goes to 127.0.0.1 only. The script stops
# every server it started and removes its work directory on exit.
#
# Usage: bench/scim.sh > report.md
#
# Settings (environment variables):
#   ROSTER_SHARED_DIR          folder that contains scim/start-peers.sh and
#                              scim/bench-scim.sh (default ../shared, relative
#                              to the repository root)
#   ROSTER_BENCH_USERS         users loaded before the runs (default 10000)
#   ROSTER_BENCH_DURATION      seconds per scenario, at most 10 (default 10)
#   ROSTER_BENCH_CONNECTIONS   wrk connections (default 8)
#   ROSTER_BENCH_WRK_THREADS   wrk threads (default 2)
#   ROSTER_BENCH_KEEP          1 keeps the work directory: Roster's data and
#                              log, the peers' logs and each server's output
#   SCIM_TOOLS_HOME            state dir of the SCIM tools, where their Python
#                              venv and Node.js packages are installed
#
# Requires: cargo, curl and python3, plus what the SCIM tools install or
# require: wrk, Node.js 20 with npm, and the Python venv.
#
# Exit status: 0 when every server produced a result in every scenario and
# Roster had no errors, whether or not the targets are met; 1 otherwise.

set -euo pipefail

USERS=${ROSTER_BENCH_USERS:-10000}
DURATION=${ROSTER_BENCH_DURATION:-10}
CONNECTIONS=${ROSTER_BENCH_CONNECTIONS:-8}
WRK_THREADS=${ROSTER_BENCH_WRK_THREADS:-2}
KEEP=${ROSTER_BENCH_KEEP:-0}

# Targets against the faster peer in each scenario, measured in the same run:
# a throughput ratio per scenario, and p99 for Roster in every scenario.
declare -A TARGET_RATIO=([filter]=10 [page]=10 [create]=5)
TARGET_P99_MS=10

SCENARIOS=(filter page create)
declare -A SCENARIO_NAMES=(
  [filter]="filter by userName eq"
  [page]="page of 100 (startIndex=1&count=100)"
  [create]="create (POST /Users)"
)
SERVERS=(roster scim2-server scimmy)
PEERS=(scim2-server scimmy)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BINARY="$REPO/target/release/roster"
SHARED_DIR=${ROSTER_SHARED_DIR:-$REPO/../shared}
# A relative ROSTER_SHARED_DIR is relative to the repository root.
[[ $SHARED_DIR == /* ]] || SHARED_DIR="$REPO/$SHARED_DIR"
SHARED_DIR=$(cd "$SHARED_DIR" 2> /dev/null && pwd) || SHARED_DIR=${ROSTER_SHARED_DIR:-$REPO/../shared}
TOOLS="$SHARED_DIR/scim"

log() {
  printf '[bench-scim %s] %s\n' "$(date +%T)" "$*" >&2 2> /dev/null || true
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
  local script
  for script in start-peers.sh stop-peers.sh bench-scim.sh lib/common.sh; do
    [[ -f $TOOLS/$script ]] || fail "$TOOLS/$script is missing; set ROSTER_SHARED_DIR to the folder that contains scim/"
  done
  [[ $USERS =~ ^[1-9][0-9]*$ ]] || fail "ROSTER_BENCH_USERS must be a positive whole number, not '$USERS'"
  [[ $DURATION =~ ^[1-9][0-9]*$ && $DURATION -le 10 ]] ||
    fail "ROSTER_BENCH_DURATION must be a whole number of seconds from 1 to 10, not '$DURATION'"
  [[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || fail "ROSTER_BENCH_CONNECTIONS must be a positive whole number, not '$CONNECTIONS'"
  [[ $WRK_THREADS =~ ^[1-9][0-9]*$ && $WRK_THREADS -le $CONNECTIONS ]] ||
    fail "ROSTER_BENCH_WRK_THREADS must be a positive whole number no larger than ROSTER_BENCH_CONNECTIONS, not '$WRK_THREADS'"
}

WORK_DIR=""
ROSTER_PID=""
PEERS_STARTED=0

cleanup() {
  local status=$?
  stop_roster
  if ((PEERS_STARTED)); then
    bash "$TOOLS/stop-peers.sh" >&2 || log "stop-peers.sh failed"
  fi
  if [[ -n $WORK_DIR ]]; then
    if [[ $status -ne 0 && -f $WORK_DIR/roster/server.log ]]; then
      log "last lines of Roster's log:"
      tail -n 20 "$WORK_DIR/roster/server.log" >&2 || true
    fi
    if [[ $KEEP == 1 ]]; then
      log "kept the work directory $WORK_DIR"
    else
      rm -rf "$WORK_DIR"
    fi
  fi
  exit "$status"
}

# Installs the SCIM tools' venv and Node.js packages in their usual state dir,
# under its install lock, then points SCIM_TOOLS_HOME at a private state dir
# that links to them. start-peers.sh first stops any peer recorded in its
# state dir, so a shared one would stop peers that someone else started, such
# as for a conformance run.
prepare_tools() {
  local shared_state
  shared_state=$(
    # shellcheck source=/dev/null
    source "$TOOLS/lib/common.sh"
    ensure_state_dir
    ensure_venv
    ensure_node
    echo "$STATE_DIR"
  ) || fail "installing the SCIM tools' Python venv or Node.js packages failed (see the output above)"
  export SCIM_TOOLS_HOME="$WORK_DIR/scim-tools"
  mkdir -p "$SCIM_TOOLS_HOME"
  ln -s "$shared_state/venv" "$SCIM_TOOLS_HOME/venv"
  ln -s "$shared_state/node" "$SCIM_TOOLS_HOME/node"
  log "SCIM tools from $TOOLS, installs in $shared_state, state dir $SCIM_TOOLS_HOME"
}

# Prints two distinct free TCP ports on 127.0.0.1. Another process may bind a
# port before the peer does, and start-peers.sh then reports it as in use.
free_ports() {
  python3 -c '
import socket
sockets = [socket.socket() for _ in range(2)]
for sock in sockets:
    sock.bind(("127.0.0.1", 0))
print(" ".join(str(sock.getsockname()[1]) for sock in sockets))'
}

# Starts Roster with a fresh data directory and sets ROSTER_URL and ROSTER_TOKEN.
start_roster() {
  local dir="$WORK_DIR/roster"
  rm -rf "$dir"
  mkdir -p "$dir"
  log "starting Roster with data directory $dir/data"
  env -u ROSTER_DATABASE_URL "$BINARY" serve --listen 127.0.0.1:0 --data-dir "$dir/data" \
    > "$dir/server.out" 2> "$dir/server.log" &
  ROSTER_PID=$!

  local address=""
  local waited=0
  while [[ -z $address ]] && ((waited < 300)); do
    kill -0 "$ROSTER_PID" 2> /dev/null || fail "Roster exited at start"
    address=$(sed -n 's|^Roster is listening on http://\(127\.0\.0\.1:[0-9]*\).*|\1|p' "$dir/server.out")
    sleep 0.1
    waited=$((waited + 1))
  done
  [[ -n $address ]] || fail "Roster did not report its address within 30 s"
  [[ -s $dir/data/admin-token ]] || fail "Roster did not write $dir/data/admin-token"
  ROSTER_URL="http://$address/scim/v2"
  ROSTER_TOKEN=$(< "$dir/data/admin-token")
  log "Roster pid $ROSTER_PID, SCIM base URL $ROSTER_URL"
}

stop_roster() {
  [[ -n $ROSTER_PID ]] || return 0
  if kill -0 "$ROSTER_PID" 2> /dev/null; then
    log "stopping Roster (pid $ROSTER_PID)"
    kill -TERM "$ROSTER_PID" 2> /dev/null || true
    local waited=0
    while kill -0 "$ROSTER_PID" 2> /dev/null && ((waited < 100)); do
      sleep 0.1
      waited=$((waited + 1))
    done
    if kill -0 "$ROSTER_PID" 2> /dev/null; then
      log "Roster did not stop within 10 s of SIGTERM; killing it"
      kill -KILL "$ROSTER_PID" 2> /dev/null || true
    fi
  fi
  wait "$ROSTER_PID" 2> /dev/null || true
  ROSTER_PID=""
}

# Starts the peer $1 alone and fresh with PEER_TOKEN, and sets PEER_URL.
start_peer() {
  local peer=$1 ports output
  read -r -a ports <<< "$(free_ports)"
  PEERS_STARTED=1
  output=$(PEERS=$peer TOKEN=$PEER_TOKEN SCIM2_SERVER_PORT=${ports[0]} SCIMMY_PORT=${ports[1]} \
    bash "$TOOLS/start-peers.sh") || fail "start-peers.sh could not start $peer: $output"
  # start-peers.sh prints "NAME URL pid PID".
  PEER_URL=$(awk -v name="$peer" '$1 == name { print $2 }' <<< "$output")
  [[ -n $PEER_URL ]] || fail "start-peers.sh printed no URL for $peer: $output"
  log "$peer: $output"
}

# Runs bench-scim.sh against the server $1 at URL $2 with token $3, and keeps
# its output in WORK_DIR/NAME.txt.
run_bench() {
  local server=$1 url=$2 token=$3
  local output="$WORK_DIR/$server.txt"
  log "running bench-scim.sh against $server at $url"
  TOKEN=$token USERS=$USERS DURATION=$DURATION CONNS=$CONNECTIONS THREADS=$WRK_THREADS \
    SCENARIOS=load,filter,page,create bash "$TOOLS/bench-scim.sh" "$url" > "$output" 2> "$output.stderr" ||
    log "bench-scim.sh exited with status $? for $server; the report marks what is missing"
  sed "s/^/[$server] /" "$output" "$output.stderr" >&2
}

# Prints the Markdown report from the bench-scim.sh outputs, and exits with
# status 1 when a result is missing or Roster had errors.
print_report() {
  python3 - "$WORK_DIR" "$USERS" "$TARGET_P99_MS" \
    "filter=${TARGET_RATIO[filter]},page=${TARGET_RATIO[page]},create=${TARGET_RATIO[create]}" \
    "filter=${SCENARIO_NAMES[filter]}" "page=${SCENARIO_NAMES[page]}" "create=${SCENARIO_NAMES[create]}" << 'PYTHON'
import re
import sys

work_dir, users, target_p99 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
target_ratio = {key: float(value) for key, value in (pair.split("=") for pair in sys.argv[4].split(","))}
scenario_names = dict(argument.split("=", 1) for argument in sys.argv[5:])
servers = ["roster", "scim2-server", "scimmy"]
labels = {"roster": "Roster", "scim2-server": "scim2-server", "scimmy": "scimmy peer"}
peers = ["scim2-server", "scimmy"]

# The line prefixes that bench-scim.sh prints per scenario.
prefixes = {
    "filter": "GET /Users?filter=",
    "page": "GET /Users?startIndex=1&count=100",
    "create": "POST /Users",
}
measured = re.compile(
    r": (?P<rps>[0-9.]+) req/s, p50 (?P<p50>[0-9.]+) ms, p99 (?P<p99>[0-9.]+) ms, "
    r"(?P<requests>\d+) requests in [0-9.]+ s, (?P<errors>\d+) errors(?P<detail> \([^)]*\))?"
    r"(?: \[check: (?P<check>.*)\])?$"
)

results = {}
loads = {}
problems = []
for server in servers:
    try:
        with open(f"{work_dir}/{server}.txt", encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        if line.startswith("load: "):
            loads[server] = line[len("load: "):]
    for scenario, prefix in prefixes.items():
        line = next((line for line in lines if line.startswith(prefix)), None)
        match = measured.search(line) if line else None
        if match is None:
            results[server, scenario] = None
            problems.append(f"{labels[server]}, {scenario}: no result ({line or 'no output line'})")
            continue
        results[server, scenario] = match.groupdict()

def cell(server, scenario, key):
    result = results.get((server, scenario))
    return "-" if result is None else result[key]

header = ["scenario"]
rule = ["---"]
for server in servers:
    header += [f"{labels[server]} req/s", "p50 ms", "p99 ms", "errors"]
    rule += ["---:"] * 4
print("| " + " | ".join(header) + " |")
print("| " + " | ".join(rule) + " |")
for scenario in prefixes:
    row = [scenario_names[scenario]]
    for server in servers:
        row += [cell(server, scenario, key) for key in ("rps", "p50", "p99", "errors")]
    print("| " + " | ".join(row) + " |")

print()
print("| scenario | faster peer | Roster / faster peer | target | met | Roster p99 ms | target | met |")
print("| --- | --- | ---: | --- | --- | ---: | --- | --- |")
for scenario in prefixes:
    roster = results.get(("roster", scenario))
    measured_peers = [peer for peer in peers if results.get((peer, scenario)) is not None]
    faster = max(measured_peers, key=lambda peer: float(results[peer, scenario]["rps"]), default=None)
    ratio_text, ratio_met, p99_text, p99_met = "-", "-", "-", "-"
    if roster is not None:
        p99_text = roster["p99"]
        p99_met = "yes" if float(roster["p99"]) < target_p99 else "no"
        if faster is not None and float(results[faster, scenario]["rps"]) > 0:
            ratio = float(roster["rps"]) / float(results[faster, scenario]["rps"])
            ratio_text = f"{ratio:.1f}x"
            ratio_met = "yes" if ratio >= target_ratio[scenario] else "no"
    print(
        f"| {scenario_names[scenario]} | {labels[faster] if faster else '-'} | {ratio_text} "
        f"| >= {target_ratio[scenario]:g}x | {ratio_met} | {p99_text} | < {target_p99:g} ms | {p99_met} |"
    )

print()
print("Load before the runs (load_users.py, a 409 counts as already present):")
print()
for server in servers:
    print(f"- {labels[server]}: {loads.get(server, 'no load line')}")
print()
print(f"Unloaded probe of the read scenarios before each run; the filter must return 1 user and the page 100 of {users}:")
print()
for server in servers:
    for scenario in ("filter", "page"):
        check = cell(server, scenario, "check")
        print(f"- {labels[server]}, {scenario}: {check if check not in ('-', None) else 'no probe'}")

for scenario in prefixes:
    roster = results.get(("roster", scenario))
    if roster is not None and int(roster["errors"]) > 0:
        problems.append(f"Roster, {scenario}: {roster['errors']} errors{roster['detail'] or ''}")
if problems:
    print()
    print("Problems:")
    print()
    for problem in problems:
        print(f"- {problem}")
    sys.exit(1)
PYTHON
}

main() {
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  # A closed terminal or a reader of stderr that went away must still stop
  # the servers, so the cleanup then writes its messages to /dev/null.
  trap 'exec 2> /dev/null; exit 129' HUP
  trap 'exec 2> /dev/null; exit 141' PIPE
  check_tools

  log "building the release binary"
  (cd "$REPO" && cargo build --release --quiet) || fail "cargo build --release failed"

  WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/roster-bench-scim.XXXXXX")
  prepare_tools
  PEER_TOKEN=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')

  start_roster
  run_bench roster "$ROSTER_URL" "$ROSTER_TOKEN"
  local roster_memory
  roster_memory=$(awk '$1 == "VmHWM:" { printf "%.1f", $2 * 1024 / 1e6 }' "/proc/$ROSTER_PID/status")
  stop_roster

  local peer
  for peer in "${PEERS[@]}"; do
    start_peer "$peer"
    run_bench "$peer" "$PEER_URL" "$PEER_TOKEN"
    bash "$TOOLS/stop-peers.sh" "$peer" >&2
  done
  PEERS_STARTED=0

  local commit
  commit=$(git -C "$REPO" rev-parse --short HEAD 2> /dev/null) || commit="unknown (not a git checkout)"
  if [[ -n $(git -C "$REPO" status --porcelain --untracked-files=no 2> /dev/null) ]]; then
    commit="$commit with uncommitted changes"
  fi

  cat << REPORT
Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Commit: $commit.
Machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(free -h | awk '/^Mem:/ { print $2 }') memory, $(uname -sr).
Servers, one at a time, each fresh: Roster on SQLite (release build), scim2-server and the scimmy peer as start-peers.sh starts them.
Each run: bench-scim.sh with $USERS users loaded, $DURATION s per scenario, $CONNECTIONS connections, $WRK_THREADS wrk threads; wrk and the server share this machine.
errors counts non-2xx responses above 399, socket errors and timeouts, as bench-scim.sh reports them.
Roster's peak resident memory (VmHWM) at the end of its run: $roster_memory MB.

REPORT
  print_report
}

main "$@"
