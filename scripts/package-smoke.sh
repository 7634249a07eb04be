#!/usr/bin/env bash
# CI (.ci/run, after the tests): packs `gatehouse`, `@gatehouse/verify` and `@gatehouse/client` with npm pack, installs the
# tarballs into a fresh project outside the workspace and runs them there with plain node (no tsx):
#   (a) a JavaScript ESM Fastify app registering the gatehouse plugin and guarding a route;
#   (b) an Express service verifying Gatehouse tokens through @gatehouse/verify against a running server;
#   (c) `npx gatehouse users create … --password-stdin` and `npx gatehouse serve`;
#   (d) @gatehouse/client in plain Node against that server.
# Any failing step exits non-zero. Prints each tarball's size and file count.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  # npx does not pass SIGTERM on to the server it started: stop the whole session setsid made.
  if [ -n "$server_pid" ]; then kill -- "-$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n--- package smoke: %s\n' "$*"; }

step "build and pack"
node "$root/scripts/build.mjs"
mkdir -p "$work/tarballs" "$work/app"
(cd "$root" && npm pack --silent --json --pack-destination "$work/tarballs" . --workspace=packages/verify --workspace=packages/client --include-workspace-root) >"$work/pack.json"
node -e '
  for (const p of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")))
    console.log(`${p.name}@${p.version}: ${p.filename}, ${(p.size / 1024).toFixed(1)} kB packed, ${(p.unpackedSize / 1024).toFixed(1)} kB unpacked, ${p.entryCount} files`);
' "$work/pack.json"

step "install the tarballs into a fresh project ($work/app)"
cd "$work/app"
printf '{ "name": "gatehouse-package-smoke", "private": true, "type": "module" }\n' >package.json
npm install --no-audit --no-fund "$work"/tarballs/*.tgz fastify express
cp "$root"/scripts/package-smoke/*.mjs .

export GATEHOUSE_LOG_LEVEL=silent
export GATEHOUSE_DATA_DIR="$work/data"

step "(a) Fastify app with the gatehouse plugin"
GATEHOUSE_ENV=development GATEHOUSE_DATABASE_URL="$work/plugin-db" node fastify-plugin-app.mjs

step "(c) npx gatehouse users create --password-stdin"
export GATEHOUSE_DATABASE_URL="$work/server-db"
# A fresh project with no configuration is production by the mode rule (only a checkout where
# `npm start` made its development state is development), so the smoke asks for development mode.
export GATEHOUSE_ENV=development
PW='smoke test passphrase, first account 4711'
printf '%s\n' "$PW" | npx --no-install gatehouse users create admin --admin --password-stdin

step "(c) npx gatehouse serve"
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
export PORT="$port" GATEHOUSE_ISSUER="http://127.0.0.1:$port"
setsid npx --no-install gatehouse serve >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 240); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; echo "gatehouse serve exited" >&2; exit 1; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/serve.log" >&2; echo "gatehouse serve not ready after 120 s" >&2; exit 1; }
status="$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$PW\"}")"
[ "$status" = 200 ] || { echo "the admin made by 'users create' cannot log in (HTTP $status)" >&2; exit 1; }
echo "gatehouse serve is ready; the admin made by 'users create' logs in"

step "(b) Express service with @gatehouse/verify"
GATEHOUSE_URL="http://127.0.0.1:$port" node express-verify-app.mjs

step "(d) @gatehouse/client in Node"
GATEHOUSE_URL="http://127.0.0.1:$port" node client-node.mjs

step "passed"
