#!/usr/bin/env bash
# `make up`: build and start the compose project, wait until every container is healthy,
# then print each model's URLs and the CPU and memory limits each container reads from its
# own cgroup. Needs only Docker (compose v2 or docker-compose 1.29) and bash.
#   UP_TIMEOUT (s, default 300): how long to wait for healthy.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE=${COMPOSE:-docker compose}
UP_TIMEOUT=${UP_TIMEOUT:-300}
MODELS=(eventloop mn prefork blocking threaded forking)

warn() { printf 'warning: %s\n' "$*" >&2; }
env_file_value() { [ -f .env ] && sed -n "s/^$1=//p" .env | tail -n 1; }

if [ ! -f .env ]; then
  cp .env.example .env
  echo "created .env from .env.example (set your own DB_PASSWORD there)"
fi

# Docker refuses more CPUs than the engine's host has ("Range of CPUs is from 0.01 to N").
# The shell's MODEL_CPUS wins over .env's, as in compose itself.
host_cpus=$(docker info --format '{{.NCPU}}')
wanted_cpus=${MODEL_CPUS:-$(env_file_value MODEL_CPUS)}
wanted_cpus=${wanted_cpus:-4}
if awk -v want="$wanted_cpus" -v have="$host_cpus" 'BEGIN { exit !(want > have) }'; then
  warn "MODEL_CPUS=$wanted_cpus but the Docker host has $host_cpus cores: every model gets $host_cpus CPUs instead"
  wanted_cpus=$host_cpus
fi
export MODEL_CPUS=$wanted_cpus

# Docker cannot give a container more open files than its own hard limit.
wanted_nofile=${NOFILE_LIMIT:-65536}
host_nofile=$(ulimit -Hn)
if [ "$host_nofile" != unlimited ] && [ "$wanted_nofile" -gt "$host_nofile" ]; then
  warn "NOFILE_LIMIT=$wanted_nofile is above this host's hard limit of $host_nofile open files: using $host_nofile"
  wanted_nofile=$host_nofile
fi
export NOFILE_LIMIT=$wanted_nofile

# Exits non-zero when a dependency turns unhealthy; the wait below then names it.
up_status=0
$COMPOSE up -d --build --remove-orphans || up_status=$?

containers() { $COMPOSE ps -q; }
health_of() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }
service_of() { docker inspect --format '{{index .Config.Labels "com.docker.compose.service"}}' "$1"; }

deadline=$((SECONDS + UP_TIMEOUT))
while :; do
  waiting=()
  failed=()
  expected=$($COMPOSE config --services | wc -l)
  ids=$(containers)
  for id in $ids; do
    case $(health_of "$id") in
      healthy) ;;
      unhealthy|exited|dead) failed+=("$id") ;;
      *) waiting+=("$id") ;;
    esac
  done
  started=$(printf '%s\n' "$ids" | grep -c . || true)
  if [ ${#waiting[@]} -eq 0 ] && [ ${#failed[@]} -eq 0 ] && [ "$started" -eq "$expected" ]; then break; fi
  if [ ${#failed[@]} -gt 0 ] || [ $SECONDS -ge $deadline ] || { [ "$up_status" -ne 0 ] && [ ${#waiting[@]} -eq 0 ]; }; then
    echo "make up: not every service became healthy (compose up exit $up_status, waited up to ${UP_TIMEOUT}s)" >&2
    $COMPOSE ps >&2 || true
    for id in "${failed[@]}" "${waiting[@]}"; do
      printf '\n--- %s is %s; its last log lines:\n' "$(service_of "$id")" "$(health_of "$id")" >&2
      docker logs --tail 25 "$id" 2>&1 | sed 's/^/  /' >&2
    done
    [ "$started" -eq "$expected" ] || echo "only $started of $expected containers were created: see the compose output above" >&2
    exit 1
  fi
  sleep 2
done

# Each container's own reading of its cgroup (GET /model inside the container).
read_limits() {
  $COMPOSE exec -T "$1" node -e "
    fetch('http://127.0.0.1:3000/model').then((r) => r.json()).then((m) => {
      const mem = m.cgroup.memoryLimitBytes;
      console.log((m.cgroup.cpuQuotaCores ?? 'unlimited') + ' ' + (mem === null ? 'unlimited' : (mem / 2 ** 20) + 'MiB'));
    }, (e) => { console.log('unreadable ' + e.message); })"
}

# Where compose actually published each port (bind address and port from .env or the shell).
published() { $COMPOSE port "$1" "$2" | head -n 1; }
proxy="http://$(published proxy 8080)"

echo
echo "All $expected containers are healthy. MODEL_CPUS=$MODEL_CPUS NOFILE_LIMIT=$NOFILE_LIMIT"
echo "proxy health: $proxy/nginx-health"
printf '%-10s %-32s %-40s %s\n' model direct 'through the proxy' 'limits read from its cgroup (cpus memory)'
for model in "${MODELS[@]}"; do
  printf '%-10s %-32s %-40s %s\n' "$model" "http://$(published "$model" 3000)/db" "$proxy/$model/db" "$(read_limits "$model")"
done
