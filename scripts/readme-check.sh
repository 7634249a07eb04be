#!/usr/bin/env bash
# Runs the README as a newcomer would: a fresh clone, the set-up command exactly as written, then
# every shell block marked `<!-- readme-check -->` (with the server running) and
# `<!-- readme-check: server stopped -->` (after stopping it: PGlite allows one process), as
# written. The blocks are read from README.md, so this cannot drift from the text. Any HTTP error
# from curl or non-zero exit fails the check, naming the command.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE_URL=http://127.0.0.1:8000

work="$(mktemp -d)"
server_pid=''
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  server_pid=''
}
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT

fail() { echo "readme-check: $*" >&2; exit 1; }

# Writes each block marked `<!-- readme-check[: LABEL] -->` to $work/blocks/LABEL/NN.sh, in order.
extract_blocks() {
  mkdir -p "$work/blocks"
  awk -v dir="$work/blocks" '
    match($0, /^<!-- readme-check(: [a-z ]+)? -->$/) {
      label = $0; sub(/^<!-- readme-check(: )?/, "", label); sub(/ -->$/, "", label)
      if (label == "") label = "server running"
      armed = 1; next
    }
    armed && /^```sh$/ { n++; file = sprintf("%s/%s/%02d.sh", dir, label, n); system("mkdir -p \"" dir "/" label "\""); inside = 1; armed = 0; next }
    inside && /^```$/ { inside = 0; close(file); next }
    inside { print > file; next }
    armed && $0 != "" { armed = 0 }
  ' "$work/gatehouse/README.md"
}

# Runs one block in bash -e; curl answers an HTTP error status with a failure, and the failing
# command is printed.
run_block() {
  local label="$1" block="$2"
  printf '\n--- README block (%s) ---\n%s\n' "$label" "$block"
  (
    cd "$work/gatehouse"
    bash -c '
      set -eEuo pipefail
      trap '\''echo "readme-check: failed: $BASH_COMMAND" >&2'\'' ERR
      curl() { command curl --fail-with-body --max-time 30 "$@"; }
      '"$block" </dev/null
  ) || fail "a README block (${label}) failed, see the command above"
}

if curl -s -o /dev/null "$BASE_URL/healthz"; then fail "something already answers on $BASE_URL; stop it first (the README's examples use that address)"; fi

git clone -q "$ROOT" "$work/gatehouse"
extract_blocks
setup="$(cat "$work/blocks/setup/"*.sh 2>/dev/null | head -n 1 | sed 's/[[:space:]]*#.*$//')"
[ -n "$setup" ] || fail "README.md has no <!-- readme-check: setup --> block"
echo "set-up command from README: $setup"
# Its own process group, so stopping it stops npm and the server under it.
(cd "$work/gatehouse" && exec setsid bash -c "$setup" >"$work/server.log" 2>&1 </dev/null) &
server_pid=$!

for _ in $(seq 1 240); do
  curl -sf -o /dev/null "$BASE_URL/readyz" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; fail "'$setup' exited before /readyz answered"; }
  sleep 0.5
done
curl -sf -o /dev/null "$BASE_URL/readyz" || { cat "$work/server.log" >&2; fail "/readyz did not answer 200 within 120 s of '$setup'"; }
echo "/readyz 200"

ran=0
for file in "$work/blocks/server running/"*.sh; do
  [ -f "$file" ] || continue
  run_block 'server running' "$(cat "$file")"
  ran=$((ran + 1))
done

stop_server
# The README's first-admin command reads the password from this variable.
export ADMIN_PASSWORD='readme check operator passphrase'
for file in "$work/blocks/server stopped/"*.sh; do
  [ -f "$file" ] || continue
  run_block 'server stopped' "$(cat "$file")"
  ran=$((ran + 1))
done

[ "$ran" -ge 3 ] || fail "expected at least 3 marked README blocks, found $ran"
echo
echo "readme-check: ${ran} README blocks ran as written on a fresh clone"
