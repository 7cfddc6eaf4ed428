#!/usr/bin/env bash
# Runs a command (`make test`'s commands) in the test runner image (testrunner/Dockerfile),
# for a host with Docker but no Node 24:  testrunner/run.sh npm test
#
# The tests drive the host's Docker engine (testcontainers' Postgres, the compose test's
# project), so the container gets:
#   - the engine's socket;
#   - the host's network: ports the engine publishes on the host are reachable at 127.0.0.1,
#     as they are for a test run on the host;
#   - the checkout at its host path, as working directory: paths the tests hand the engine
#     (compose's relative bind mounts, build contexts) mean the same on the host;
#   - an anonymous volume over every node_modules of the workspace, filled from the image
#     (installed at the same path) and removed with the container: the checkout is not written;
#   - the host's uid and gid, so anything a command writes in the checkout (make format)
#     stays the user's; TESTRUNNER_USER=root for `make test`, whose tests write only under the
#     container's /tmp and whose fork-failure test needs root to drop to a user of its own
#     (RLIMIT_NPROC counts that user's tasks; setpriv needs CAP_SETUID). With the engine's
#     socket mounted, root in this container can do nothing the user could not already.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$PWD
# One tag per checkout: the image holds the modules at the checkout's path.
image=${TEST_IMAGE:-concurrency-models-test:$(printf '%s' "$checkout" | cksum | cut -d' ' -f1)}
[ $# -gt 0 ] || { echo "usage: testrunner/run.sh <command> [args...]" >&2; exit 2; }

command -v docker >/dev/null 2>&1 || { echo "testrunner: no Node 24 here and no docker command: install Docker (https://docs.docker.com/engine/install/) or Node 24 (see README, Prerequisites)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "testrunner: the Docker daemon does not answer (docker info failed): start it (e.g. sudo systemctl start docker), or join the docker group" >&2; exit 1; }

# Rebuilt only when a package manifest or the lockfile changed (the tools stage is cached).
# Quiet unless it fails: a cold build takes minutes (it compiles the Docker CLI and compose).
if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "building the test runner image $image (first time only: several minutes)" >&2
fi
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
if ! docker build -f testrunner/Dockerfile --build-arg CHECKOUT="$checkout" -t "$image" . >"$build_log" 2>&1; then
  tail -n 40 "$build_log" >&2
  echo "testrunner: building the test runner image failed (above: the last lines of docker build -f testrunner/Dockerfile .)" >&2
  exit 1
fi

# The engine's socket: DOCKER_HOST's when it names one (rootless Docker), else the default.
socket=/var/run/docker.sock
case "${DOCKER_HOST:-}" in
  unix://*) socket=${DOCKER_HOST#unix://} ;;
  "") ;;
  *) echo "testrunner: DOCKER_HOST=$DOCKER_HOST is not a unix socket: the test runner container needs the engine's socket" >&2; exit 1 ;;
esac
[ -S "$socket" ] || { echo "testrunner: no Docker socket at $socket (set DOCKER_HOST=unix://<path>)" >&2; exit 1; }

args=(--rm --init --network host
  -v "$socket:/var/run/docker.sock"
  -v "$checkout:$checkout" -w "$checkout"
  --user "${TESTRUNNER_USER:-$(id -u):$(id -g)}" --group-add "$(stat -c %g "$socket")"
  -e HOME=/tmp
  # testcontainers in a container would otherwise address the engine's bridge gateway.
  -e TESTCONTAINERS_HOST_OVERRIDE="${TESTCONTAINERS_HOST_OVERRIDE:-localhost}"
  # Ryuk mounts the socket by its host path.
  -e TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE="${TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE:-$socket}")
# The root's and every workspace's node_modules (the lockfile names the nested ones).
args+=(-v "$checkout/node_modules")
for workspace in $(awk -F'"' '/^    "[^"]+\/node_modules\// && $2 !~ /^node_modules\// { print substr($2, 1, index($2, "/node_modules/") - 1) }' package-lock.json | sort -u); do
  args+=(-v "$checkout/$workspace/node_modules")
done
for name in CI TESTCONTAINERS_RYUK_DISABLED; do
  [ -n "${!name+set}" ] && args+=(-e "$name")
done
[ -t 1 ] && args+=(-t)

exec docker run "${args[@]}" "$image" "$@"
