#!/usr/bin/env bash
# `make up`: build and start the compose project, wait until every container is healthy,
# then print each model's URLs and the CPU and memory limits each container reads from its
# own cgroup. Needs only Docker (compose v2 or docker-compose 1.29) and bash.
#   UP_TIMEOUT (s, default 600): how long to wait for healthy.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE=${COMPOSE:-docker compose}
UP_TIMEOUT=${UP_TIMEOUT:-600}
# The models, from models.json (the one list): names in its order, and a model whose image
# has node in it, to run the checks below from (the goroutines image has no node).
MODELS=() NODE_MODELS=()
while read -r name language; do
  MODELS+=("$name")
  [ "$language" = node ] && NODE_MODELS+=("$name")
done < <(deploy/model-names.sh)
[ ${#MODELS[@]} -gt 0 ] || { echo "make up: no models found in models.json" >&2; exit 1; }
[ ${#NODE_MODELS[@]} -gt 0 ] || { echo "make up: the checks need one node model in models.json" >&2; exit 1; }
CHECKER=${NODE_MODELS[0]}

warn() { printf 'warning: %s\n' "$*" >&2; }
env_file_value() { [ -f .env ] && sed -n "s/^$1=//p" .env | tail -n 1; }
example_value() { sed -n "s/^$1=//p" .env.example | tail -n 1; }
# 24 random bytes as 48 hex digits: nothing a shell, sed or a connection string must quote.
random_secret() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
# A secret's value: the shell's wins over .env's, as in compose itself.
secret_value() { local value=${!1:-}; printf '%s' "${value:-$(env_file_value "$1")}"; }
SECRETS=(DB_PASSWORD DB_ADMIN_PASSWORD)

if [ ! -f .env ]; then
  (umask 077 && sed -e "s/^DB_PASSWORD=.*/DB_PASSWORD=$(random_secret)/" \
    -e "s/^DB_ADMIN_PASSWORD=.*/DB_ADMIN_PASSWORD=$(random_secret)/" .env.example > .env)
  echo "created .env from .env.example, with random DB_PASSWORD and DB_ADMIN_PASSWORD"
fi
# An .env from before the admin password existed: give it one (compose refuses to start
# without). A database volume made before then has no such role: make down, then make up.
if [ -z "$(secret_value DB_ADMIN_PASSWORD)" ]; then
  printf '\n# The database superuser'"'"'s password (added by make up).\nDB_ADMIN_PASSWORD=%s\n' "$(random_secret)" >> .env
  warn ".env had no DB_ADMIN_PASSWORD: added a random one. A database volume created before that keeps its old roles: make down, then make up, to recreate it"
fi
for secret in "${SECRETS[@]}"; do
  value=$(secret_value "$secret")
  if [ "$value" = "$(example_value "$secret")" ]; then
    printf '\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n' >&2
    warn "$secret is still the example's value from .env.example ($value): anyone who read the repository knows it. Set your own in .env, then make up again (it gives the database the new one)"
    printf '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\n' >&2
  fi
done

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

health_of() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }
restarts_of() { docker inspect --format '{{.RestartCount}}' "$1"; }
container_of() { $COMPOSE ps -q "$1"; }

# wait_healthy SERVICE...: until every one is healthy; on failure or timeout, name each
# service that is not, with why and its last log lines, and exit 1.
wait_healthy() {
  local service id restarts deadline=$((SECONDS + UP_TIMEOUT))
  local -A ids=() first_restarts=()
  for service in "$@"; do ids[$service]=$(container_of "$service"); done
  while :; do
    local waiting=() failed=()
    for service in "$@"; do
      id=${ids[$service]}
      if [ -z "$id" ]; then failed+=("$service"); continue; fi
      # A container that restarts while we wait is crash-looping (e.g. killed for memory).
      restarts=$(restarts_of "$id")
      first_restarts[$service]=${first_restarts[$service]:-$restarts}
      if [ "$restarts" -gt "${first_restarts[$service]}" ]; then failed+=("$service"); continue; fi
      case $(health_of "$id") in
        healthy) ;;
        unhealthy|exited|dead) failed+=("$service") ;;
        *) waiting+=("$service") ;;
      esac
    done
    [ ${#waiting[@]} -eq 0 ] && [ ${#failed[@]} -eq 0 ] && return 0
    if [ ${#failed[@]} -gt 0 ] || [ $SECONDS -ge "$deadline" ]; then
      echo "make up: not healthy: ${failed[*]} ${waiting[*]} (waited up to ${UP_TIMEOUT}s, UP_TIMEOUT)" >&2
      for service in "${failed[@]}" "${waiting[@]}"; do
        id=${ids[$service]}
        if [ -z "$id" ]; then printf '\n--- %s: no container was created\n' "$service" >&2; continue; fi
        printf '\n--- %s is %s (%s); its last log lines:\n' "$service" "$(health_of "$id")" \
          "$(docker inspect --format 'restarts: {{.RestartCount}}, last exit code: {{.State.ExitCode}}, killed for memory (OOM): {{.State.OOMKilled}}' "$id")" >&2
        docker logs --tail 25 "$id" 2>&1 | sed 's/^/  /' >&2
        # The healthcheck's own verdict: a service can log "listening" and still fail its check.
        docker inspect --format '{{if .State.Health}}{{range .State.Health.Log}}  health check (exit {{.ExitCode}}): {{printf "%.200q" .Output}}{{"\n"}}{{end}}{{end}}' "$id" | grep . | tail -n 1 >&2 || true
      done
      echo "make ps shows every container; make down removes them." >&2
      exit 1
    fi
    sleep 2
  done
}

# The database keeps the passwords it was created with: a volume left by an earlier checkout
# or .env (a new clone, a deleted .env) would refuse .env's passwords, the models would
# answer 503 and make load could not read pg_stat_statements. Each role is tried with .env's
# password over the db container's own network address, as the models connect (the image
# trusts 127.0.0.1 and the socket, so a check there always passes); a role that refuses it is
# given it through the local socket.
align_database_passwords() {
  local role secret password
  for role in postgres:DB_ADMIN_PASSWORD benchmarkdbuser:DB_PASSWORD; do
    secret=${role#*:} role=${role%%:*} password=$(secret_value "$secret")
    if $COMPOSE exec -T -e PGPASSWORD="$password" -e ROLE="$role" db \
      sh -c 'psql -h "$(hostname -i | cut -d" " -f1)" -U "$ROLE" -d hello_world -tAc "SELECT 1"' >/dev/null 2>&1; then
      continue
    fi
    warn "the database volume has another password for $role than $secret: setting it from .env (make down removes the volume)"
    if ! $COMPOSE exec -T db psql -v ON_ERROR_STOP=1 -U postgres -d hello_world -v role="$role" -v password="$password" \
      >/dev/null <<<"ALTER ROLE :\"role\" PASSWORD :'password';"; then
      echo "make up: could not set $role's password in the database: make down (removes its volume), then make up" >&2
      exit 1
    fi
  done
}

# Build first, then start the database and the models and wait for them ourselves: compose
# would wait on them too (the proxy depends on every model being healthy) but without a
# time limit, and silently, while a container crash-loops.
$COMPOSE build
$COMPOSE up -d --remove-orphans db
wait_healthy db
align_database_passwords
$COMPOSE up -d --remove-orphans db "${MODELS[@]}"
wait_healthy db "${MODELS[@]}"
$COMPOSE up -d proxy
wait_healthy proxy

# nginx resolves each model's address once, at start (open-source nginx cannot re-resolve an
# upstream that keeps connections alive). A model container this make up recreated (new
# image or settings) may have a new address, even another model's old one, and nginx would
# route /eventloop/ to M:N without an error: restart nginx when any model started after it.
started_at() { date -d "$(docker inspect --format '{{.State.StartedAt}}' "$(container_of "$1")")" +%s%N; }
proxy_started=$(started_at proxy)
for service in "${MODELS[@]}"; do
  if [ "$(started_at "$service")" -gt "$proxy_started" ]; then
    echo "restarting the proxy: $service started after it, and nginx looks up addresses only at start"
    $COMPOSE restart proxy >/dev/null
    wait_healthy proxy
    break
  fi
done
# Every path of the proxy reaches its own model, asked from inside the compose network by
# the checker model's node (any image may lack node: goroutines' has none).
if ! $COMPOSE exec -T "$CHECKER" node -e "
  const models = process.argv.slice(1);
  Promise.all(models.map((m) => fetch('http://proxy:8080/' + m + '/healthz').then((r) => r.headers.get('x-model'), () => 'no answer')))
    .then((got) => {
      const wrong = models.flatMap((m, i) => (got[i] === m ? [] : ['/' + m + '/ reaches ' + got[i]]));
      if (wrong.length > 0) { console.error('make up: the proxy routes ' + wrong.join(', ')); process.exit(1); }
    });" "${MODELS[@]}"; then
  echo "make up: the proxy does not reach every model by its own path; make logs SERVICE=proxy" >&2
  exit 1
fi

# Each container's own reading of its cgroup (GET /model of each model on the compose
# network, from the checker's node): "<model> <cpus> <memory>" per line.
declare -A LIMITS=()
while read -r model limits; do LIMITS[$model]=$limits; done < <($COMPOSE exec -T "$CHECKER" node -e "
  const models = process.argv.slice(1);
  Promise.all(models.map((m) => fetch('http://' + m + ':3000/model').then((r) => r.json()).then((e) => {
    const mem = e.cgroup.memoryLimitBytes;
    return (e.cgroup.cpuQuotaCores ?? 'unlimited') + ' ' + (mem === null ? 'unlimited' : (mem / 2 ** 20) + 'MiB');
  }, (err) => 'unreadable ' + err.message))).then((lines) => { for (const [i, m] of models.entries()) console.log(m + ' ' + lines[i]); });" "${MODELS[@]}")

# Where compose actually published each port (bind address and port from .env or the shell).
published() { $COMPOSE port "$1" "$2" | head -n 1; }
proxy="http://$(published proxy 8080)"

echo
echo "All $(( ${#MODELS[@]} + 2 )) containers are healthy. MODEL_CPUS=$MODEL_CPUS NOFILE_LIMIT=$NOFILE_LIMIT"
echo "proxy health: $proxy/nginx-health; nginx's connection counts (stub_status, compose network only): http://proxy:8081/nginx-status"
printf '%-10s %-32s %-40s %s\n' model direct 'through the proxy' 'limits read from its cgroup (cpus memory)'
for model in "${MODELS[@]}"; do
  printf '%-10s %-32s %-40s %s\n' "$model" "http://$(published "$model" 3000)/db" "$proxy/$model/db" "${LIMITS[$model]:-unreadable}"
done
