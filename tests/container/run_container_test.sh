#!/usr/bin/env bash
# Container test: builds docker/Dockerfile with podman, runs the image with a
# mounted config, waits for its HEALTHCHECK, receives readings over WebSocket
# through the published port, stops the container and checks that the client
# got close 1001 and the process exited 0; a second container on the same
# history volume continues the seq. Then builds the NATS image
# (docker/nats/Dockerfile) and runs docker/compose.cluster.yaml as podman
# containers (tests/container/compose_plan.py reads the compose file: three
# nats-server, three service nodes, their volumes, one network; NATS publishes
# no port and refuses a login without credentials): a reading published on any
# node reaches every node with the same seq; a dashboard whose node's container
# is killed resumes on another node with since= and misses nothing; publishing
# goes on after the container of the stream's NATS leader is killed
# (tests/container/cluster_client.py). Prints the images' sizes and build times.
#
# Run as root from anywhere: tests/container/run_container_test.sh
# Sets up what it needs (idempotent): podman, runc, debootstrap and
# python3-websockets and python3-yaml from Debian; /etc/containers/containers.conf; the base
# image debian:bookworm-slim, made with debootstrap from this machine's Debian
# mirror (read from the apt sources) when no registry can provide it.
#
# Environment: CONTAINER_TEST_NO_CACHE=1 builds without podman's layer cache (a
# cold build); CONTAINER_TEST_KEEP_IMAGE=0 removes the images it built at the end;
# CONTAINER_TEST_LOCK_TIMEOUT (default 1200) bounds the wait for the build lock
# (/tmp/happy-build.lock, shared with every C++ build on this machine);
# CONTAINER_TEST_SERVICE_IMAGE=<image> tests that (existing) service image instead
# of building docker/Dockerfile, and leaves it in place (the NATS image is still built).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
image=${CONTAINER_TEST_SERVICE_IMAGE:-happy-dashboard:test}
nats_image=happy-dashboard-nats:test
base_image=docker.io/library/debian:bookworm-slim
name="happy-dashboard-test-$$"
volume="happy-dashboard-test-data-$$"
build_lock=/tmp/happy-build.lock
lock_timeout=${CONTAINER_TEST_LOCK_TIMEOUT:-1200}  # seconds to wait for other builds
health_timeout=60       # seconds for the first passing health check
reading_timeout=30      # seconds for the WebSocket client to get its readings
readings_wanted=5       # at 100 ms per reading (the default config: 5 s each)

# Podman schedules health checks with systemd timers; there is no systemd here, so it
# logs that it cannot (harmless: the test runs them with `podman healthcheck run`).
quiet_errors() { grep -v -e 'unable to get systemd connection' -e 'failed to connect to syslog' "$1" >&2 || true; }
fail() { echo "container test: FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
now_ms() { date +%s%3N; }

[[ $(id -u) -eq 0 ]] || fail "needs root (rootful podman, apt-get)"

work=$(mktemp -d /tmp/happy-container-test.XXXXXX)
rootfs=""
container_started=0
client_pid=""
cluster_net=""
cluster_nodes=()
cluster_volumes=()
nats_built=0
cleanup() {
  local status=$?
  if [[ -n "$client_pid" ]]; then kill "$client_pid" 2>/dev/null || true; fi
  for node in "${cluster_nodes[@]}"; do
    if ((status != 0)); then
      echo "--- last log lines of $node:" >&2
      podman logs --tail 20 "$node" >&2 2>&1 || true
    fi
    podman rm -f -v -t 0 "$node" >/dev/null 2>&1 || true
  done
  for v in "${cluster_volumes[@]}"; do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
  if [[ -n "$cluster_net" ]]; then podman network rm -f "$cluster_net" >/dev/null 2>&1 || true; fi
  if ((container_started)); then
    if ((status != 0)); then
      echo "--- last log lines of $name:" >&2
      podman logs --tail 40 "$name" >&2 2>&1 || true
    fi
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  fi
  podman rm -f -t 0 "$name-again" >/dev/null 2>&1 || true
  podman volume rm -f "$volume" >/dev/null 2>&1 || true
  if [[ -n "$rootfs" && -d "$rootfs" ]]; then rm -rf --one-file-system "$rootfs"; fi
  rm -rf "$work"
  if ((status == 0)) && [[ "${CONTAINER_TEST_KEEP_IMAGE:-1}" == 0 ]]; then
    if [[ -z "${CONTAINER_TEST_SERVICE_IMAGE:-}" ]]; then podman rmi -f "$image" >/dev/null 2>&1 || true; fi
    if ((nats_built)); then podman rmi -f "$nats_image" >/dev/null 2>&1 || true; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- (a) podman and friends, containers.conf ---------------------------------------
step "setup: packages"
missing=()
for p in podman runc debootstrap python3 python3-websockets python3-yaml; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    fail "apt-get install ${missing[*]} failed"
fi

conf=/etc/containers/containers.conf
if [[ ! -f "$conf" ]]; then
  echo "writing $conf"
  mkdir -p /etc/containers
  # crun refuses this kind of host's cgroup layout: runc + cgroupfs. No systemd or
  # journald: events go to a file. The file limit cannot be raised above 20000 here.
  cat > "$conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
fi

# --- (b) the base image ---------------------------------------------------------------
# The Debian mirror this machine's apt uses for bookworm (one-line or deb822 sources).
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    uri=$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                             if ($(i + 1) == "bookworm") { print $i; exit } }' "$f")
    if [[ -n "$uri" ]]; then echo "$uri"; return 0; fi
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
               { types = ""; uris = ""; suites = ""; enabled = "yes"
                 for (n = 1; n <= NF; n++) {
                   line = $n; if (line ~ /^[ \t]*#/) continue
                   key = tolower(line); sub(/:.*/, "", key)
                   val = line; sub(/^[^:]*:[ \t]*/, "", val); sub(/[ \t]+$/, "", val)
                   if (key == "types") types = val; else if (key == "uris") uris = val
                   else if (key == "suites") suites = val; else if (key == "enabled") enabled = tolower(val) }
                 if (enabled == "no" || (" " types " ") !~ / deb /) next
                 if ((" " suites " ") ~ / bookworm /) { split(uris, u, " "); print u[1]; exit } }' "$f")
    if [[ -n "$uri" ]]; then echo "$uri"; return 0; fi
  done
  return 1
}

if podman image exists "$base_image"; then
  step "base image $base_image: present"
else
  mirror=$(debian_mirror) || fail "no Debian bookworm mirror found in /etc/apt/sources.list{,.d}"
  step "base image $base_image: debootstrap --variant=minbase bookworm from $mirror"
  t0=$(now_ms)
  rootfs=$(mktemp -d /var/tmp/happy-rootfs.XXXXXX)
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  # Slim it the way the official -slim images are: no apt cache or lists, no
  # manuals, docs (but copyrights) or translations, now and for later installs.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
         "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian/overrides,locale,man}/*
  cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' > "$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  tar -C "$rootfs" -c . | podman import -q --change 'CMD ["bash"]' - "$base_image" >/dev/null ||
    fail "podman import of the debootstrap tree failed"
  rm -rf --one-file-system "$rootfs"
  rootfs=""
  echo "base image made in $(( ($(now_ms) - t0) / 1000 )) s"
fi

# --- (c) build --------------------------------------------------------------------------
# HTTPS from the build may pass through an intercepting proxy whose CA this
# machine trusts (added under /usr/local/share/ca-certificates): hand those
# certificates to the build stage so `npm ci` trusts the same.
build_args=(--format docker --pull=never -f docker/Dockerfile -t "$image")
extra_ca=""
for crt in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
  [[ -f "$crt" ]] && extra_ca+="$(cat "$crt")"$'\n'
done
[[ -n "$extra_ca" ]] && build_args+=(--build-arg "EXTRA_CA_CERTS=$extra_ca")
[[ "${CONTAINER_TEST_NO_CACHE:-0}" == 1 ]] && build_args+=(--no-cache)

shown=("${build_args[@]}")
[[ -n "$extra_ca" ]] && shown=("${shown[@]/#EXTRA_CA_CERTS=*/EXTRA_CA_CERTS=<$(grep -c 'BEGIN CERTIFICATE' <<<"$extra_ca") CA certificates from /usr/local/share/ca-certificates>}")
# The NATS image of docker/compose.cluster.yaml: its own folder is the build context.
nats_build_args=(--format docker --pull=never -f docker/nats/Dockerfile -t "$nats_image")
[[ "${CONTAINER_TEST_NO_CACHE:-0}" == 1 ]] && nats_build_args+=(--no-cache)
cd "$repo"
if [[ -n "${CONTAINER_TEST_SERVICE_IMAGE:-}" ]]; then
  podman image exists "$image" || fail "CONTAINER_TEST_SERVICE_IMAGE=$image: no such image"
  step "build: service image not built, testing $image (CONTAINER_TEST_SERVICE_IMAGE)"
else
  step "build: podman build ${shown[*]} . (under flock $build_lock)"
fi
exec 9>"$build_lock"
t0=$(now_ms)
flock -w "$lock_timeout" 9 ||
  fail "the build lock $build_lock stayed taken for ${lock_timeout} s (held by a parent of this test?)"
lock_wait_ms=$(( $(now_ms) - t0 ))
build_ms=""
if [[ -z "${CONTAINER_TEST_SERVICE_IMAGE:-}" ]]; then
  t0=$(now_ms)
  if ! podman build "${build_args[@]}" . >"$work/build.log" 2>&1 9>&-; then
    flock -u 9
    tail -40 "$work/build.log" >&2
    fail "podman build failed (full log above, last 40 lines)"
  fi
  build_ms=$(( $(now_ms) - t0 ))
  grep -E '^(STEP|COMMIT)' "$work/build.log" | tail -3 || true
  echo "build time: $((build_ms / 1000)).$(( (build_ms % 1000) / 100 )) s (waited $((lock_wait_ms / 1000)) s for the build lock)"
fi
step "build: podman build ${nats_build_args[*]} docker/nats (under flock $build_lock)"
t0=$(now_ms)
if ! podman build "${nats_build_args[@]}" docker/nats >"$work/nats-build.log" 2>&1 9>&-; then
  flock -u 9
  tail -40 "$work/nats-build.log" >&2
  fail "podman build of the NATS image failed (full log above, last 40 lines)"
fi
nats_build_ms=$(( $(now_ms) - t0 ))
nats_built=1
flock -u 9
exec 9>&-
grep -E '^(STEP|COMMIT)' "$work/nats-build.log" | tail -2 || true
echo "NATS image build time: $((nats_build_ms / 1000)).$(( (nats_build_ms % 1000) / 100 )) s ($(podman run --rm --entrypoint /usr/sbin/nats-server "$nats_image" --version 2>/dev/null); waited $((lock_wait_ms / 1000)) s for the build lock)"

# --- (d) run with a mounted config --------------------------------------------------------
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/config.json" <<'EOF'
{
  "server": {"shutdown_grace_ms": 10000},
  "topics": {
    "happiness": {"generator": {"interval_ms": 100, "distribution": "uniform", "min": 0, "max": 10}}
  }
}
EOF
chmod 0644 "$work/config.json"   # the container runs as an unprivileged user
step "run: $name on 127.0.0.1:$port -> 8080"
container_started=1
# Runs the image as container $1 on $port, with the mounted config and the history volume.
run_service_container() {
  podman run -d --name "$1" -p "127.0.0.1:$port:8080" -v "$volume:/var/lib/happy-dashboard" \
    -v "$work/config.json:/etc/happy-dashboard/config.json:ro" "$image" >/dev/null 2>"$work/podman.err" ||
    { quiet_errors "$work/podman.err"; fail "podman run $1 failed"; }
  quiet_errors "$work/podman.err"
}
# Until container $1's health check passes (it must keep running meanwhile).
wait_healthy() {
  local t0=$SECONDS state
  until podman healthcheck run "$1" >/dev/null 2>&1; do
    state=$(podman inspect "$1" --format '{{.State.Status}}' 2>/dev/null || echo gone)
    [[ "$state" == running ]] || fail "container $1 is $state before becoming healthy"
    ((SECONDS - t0 < health_timeout)) || fail "$1 not healthy within ${health_timeout} s"
    sleep 1
  done
}
run_service_container "$name"

# --- (e) health check ----------------------------------------------------------------------
t0=$SECONDS
wait_healthy "$name"
health=$(podman inspect "$name" --format '{{.State.Health.Status}}')
[[ "$health" == healthy ]] || fail "podman reports health '$health' after a passing check"
echo "healthy after $((SECONDS - t0)) s"
if podman exec -e PORT=1 "$name" /usr/local/bin/happy-dashboard-healthcheck >/dev/null 2>&1; then
  fail "the health check passes with nothing listening on its port"
fi

uid=$(podman exec "$name" id -u)
[[ "$uid" != 0 ]] || fail "the service runs as root"
pid1=$(podman exec "$name" cat /proc/1/comm)
[[ "$pid1" == happy-dashboard ]] || fail "PID 1 is '$pid1', not happy-dashboard (SIGTERM would not reach it)"
first_logs=$(podman logs "$name" 2>&1)
grep -q 'config=/etc/happy-dashboard/config.json' <<<"$first_logs" ||
  fail "the mounted config was not used: $(head -5 <<<"$first_logs")"
echo "runs as uid $uid, PID 1 is happy-dashboard, config=/etc/happy-dashboard/config.json"

# --- (f) a WebSocket client through the published port ----------------------------------------
cat > "$work/client.py" <<'EOF'
import asyncio, json, sys, time
import websockets

url, wanted, status_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def report(line):
    with open(status_file, "a") as f:
        f.write(line + "\n")

async def main():
    async with websockets.connect(url, open_timeout=10, close_timeout=10) as ws:
        seqs, start = [], time.monotonic()
        try:
            async for message in ws:
                envelope = json.loads(message)
                value = envelope["happiness"]
                assert envelope["topic"] == "happiness" and 0 <= value <= 10, envelope
                seqs.append(envelope["seq"])
                if len(seqs) == wanted:
                    assert seqs == list(range(seqs[0], seqs[0] + wanted)), seqs
                    report("READY %d %.2f %s" % (len(seqs), time.monotonic() - start, message))
        except websockets.ConnectionClosed:
            pass
        report("CLOSED %s %s" % (ws.close_code, ws.close_reason or ""))

try:
    asyncio.run(asyncio.wait_for(main(), 120))
except Exception as e:  # reported to the test, which fails with it
    report("ERROR %r" % e)
    sys.exit(1)
EOF
step "WebSocket client: ws://127.0.0.1:$port/happiness"
status="$work/client.status"
: > "$status"
/usr/bin/python3 "$work/client.py" "ws://127.0.0.1:$port/happiness" "$readings_wanted" "$status" &
client_pid=$!
t0=$SECONDS
until grep -q '^READY' "$status"; do
  if grep -q '^\(ERROR\|CLOSED\)' "$status"; then fail "WebSocket client: $(cat "$status")"; fi
  kill -0 "$client_pid" 2>/dev/null || fail "WebSocket client ended early: $(cat "$status")"
  ((SECONDS - t0 < reading_timeout)) || fail "no $readings_wanted readings within ${reading_timeout} s"
  sleep 0.2
done
read -r _ count secs last < <(grep '^READY' "$status")
echo "received $count readings in $secs s (every 100 ms, as the mounted config says); last: $last"

# --- (g) stop: close 1001 to the client, exit code 0 -------------------------------------------
step "stop: podman stop -t 15 $name"
t0=$(now_ms)
podman stop -t 15 "$name" >/dev/null 2>"$work/podman.err" ||
  { quiet_errors "$work/podman.err"; fail "podman stop failed"; }
quiet_errors "$work/podman.err"
stop_ms=$(( $(now_ms) - t0 ))
exit_code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
echo "stopped in $((stop_ms / 1000)).$(( (stop_ms % 1000) / 100 )) s, exit code $exit_code"
[[ "$exit_code" == 0 ]] || fail "exit code $exit_code after SIGTERM (want 0; 137 means it was killed)"
podman logs "$name" 2>&1 | tail -3

t0=$SECONDS
while kill -0 "$client_pid" 2>/dev/null; do
  ((SECONDS - t0 < 15)) || fail "WebSocket client still open 15 s after the stop"
  sleep 0.2
done
wait "$client_pid" || true
client_pid=""
closed=$(grep '^\(CLOSED\|ERROR\)' "$status" || true)
echo "client: ${closed:-nothing}"
[[ "$closed" == "CLOSED 1001"* ]] || fail "the client did not get close 1001: ${closed:-no close seen}"

# --- (g2) the history volume outlives the container ---------------------------------------------
step "history: a new container on volume $volume continues the seq"
seen_seq=$(/usr/bin/python3 -c 'import json, sys; print(json.loads(sys.argv[1])["seq"])' "$last")
run_service_container "$name-again"
wait_healthy "$name-again"
seq_now=$(/usr/bin/python3 -c 'import json, sys, urllib.request
topics = json.load(urllib.request.urlopen("http://127.0.0.1:%s/topics" % sys.argv[1], timeout=5))
print(next(t["seq"] for t in topics if t["name"] == "happiness"))' "$port")
# Read the logs whole first: with pipefail, grep -m1 ending the pipe early made podman's
# SIGPIPE fail the check although the line was there.
again_logs=$(podman logs "$name-again" 2>&1)
grep -m1 'storage: /var/lib/happy-dashboard/history.db' <<<"$again_logs" ||
  fail "the image does not keep history in /var/lib/happy-dashboard: $(head -3 <<<"$again_logs")"
((seq_now > seen_seq)) || fail "seq started again ($seq_now) instead of continuing after $seen_seq"
echo "seq continues: $seq_now after $seen_seq seen before the restart"
podman rm -f -t 10 "$name-again" >/dev/null 2>&1 || true

# --- (h) docker/compose.cluster.yaml: three NATS servers, three service nodes ------------------
# compose_plan.py turns each service of the compose file into a `podman run` (its
# image, host name, environment, volumes, ports, health check, stop signal; start
# order by depends_on), with P-<name> containers and volumes, one network on which
# the service names resolve (as compose's; through /etc/hosts, see compose_plan.py),
# and published ports moved to free ones on 127.0.0.1. The compose file's secrets
# come from the environment, as with compose.
cluster_net="happy-cluster-$$"
prefix="10.89.$(( $$ % 200 + 20 ))"
step "cluster: docker/compose.cluster.yaml as podman containers on network $cluster_net ($prefix.0/24)"
podman network create --subnet "$prefix.0/24" "$cluster_net" >/dev/null 2>"$work/podman.err" ||
  { quiet_errors "$work/podman.err"; fail "podman network create failed"; }
mkdir "$work/cluster"
secret() { /usr/bin/python3 -c 'import secrets; print("x" + secrets.token_hex(20))'; }
HAPPY_NATS_PASSWORD=$(secret) NATS_ROUTE_PASSWORD=$(secret) HAPPY_PUBLISH_TOKENS=container-cluster-token \
  /usr/bin/python3 "$repo/tests/container/compose_plan.py" "$repo/docker/compose.cluster.yaml" "$work/cluster" \
    --prefix "$name" --network "$cluster_net" --subnet "$prefix" \
    --image "docker/Dockerfile=$image" --image "docker/nats/Dockerfile=$nats_image" >"$work/cluster/order" ||
  fail "docker/compose.cluster.yaml: see above"
plan_field() {  # $1: service, $2: key in plan.json
  /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["services"][sys.argv[2]][sys.argv[3]])' \
    "$work/cluster/plan.json" "$1" "$2"
}
mapfile -t cluster_volumes < <(/usr/bin/python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["volumes"]))' "$work/cluster/plan.json")
cluster_services=()
nats_services=()
while read -r service container; do
  cluster_services+=("$service")
  cluster_nodes+=("$container")
  [[ $(plan_field "$service" role) == nats ]] && nats_services+=("$service")
done <"$work/cluster/order"
echo "services in start order: ${cluster_services[*]} (NATS: ${nats_services[*]}); volumes: ${cluster_volumes[*]}"
t0=$SECONDS
for service in "${cluster_services[@]}"; do
  mapfile -d '' run_args <"$work/cluster/run-$service.args"
  podman run "${run_args[@]}" >/dev/null 2>"$work/podman.err" ||
    { quiet_errors "$work/podman.err"; fail "podman run of $service failed"; }
  quiet_errors "$work/podman.err"
done
for service in "${cluster_services[@]}"; do wait_healthy "$name-$service"; done
echo "all ${#cluster_services[@]} containers healthy after $((SECONDS - t0)) s"

# NATS: reachable only on the network, and only with credentials.
for service in "${nats_services[@]}"; do
  published=$(podman port "$name-$service" 2>/dev/null || true)
  [[ -z "$published" ]] || fail "NATS server $service publishes ports: $published"
  [[ $(podman exec "$name-$service" id -u) != 0 ]] || fail "NATS server $service runs as root"
done
nats_login() {  # $1: NATS container, $2: CONNECT options; prints the answer to CONNECT + PING
  podman exec "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222 && read -r -t 3 info <&3 &&
    printf "CONNECT %s\r\nPING\r\n" "$1" >&3 && read -r -t 3 reply <&3 && echo "$reply"' _ "$2" 2>/dev/null | tr -d '\r' || true
}
first_nats="$name-${nats_services[0]}"
anonymous=$(nats_login "$first_nats" '{"verbose":false}')
[[ "$anonymous" == "-ERR 'Authorization Violation'" ]] || fail "NATS took a login without credentials: '$anonymous'"
password=$(podman exec "$first_nats" printenv HAPPY_NATS_PASSWORD)
wrong=$(nats_login "$first_nats" '{"verbose":false,"user":"happy","pass":"x-wrong-password-123"}')
right=$(nats_login "$first_nats" "{\"verbose\":false,\"user\":\"happy\",\"pass\":\"$password\"}")
[[ "$wrong" == "-ERR 'Authorization Violation'" && "$right" == PONG ]] ||
  fail "NATS login: wrong password answered '$wrong', the right one '$right'"
echo "NATS (${nats_services[*]}): no published ports, not root; no login or a wrong password: $anonymous; user happy: PONG"

step "cluster: publish, fan-out, a service node killed, a NATS server killed (cluster_client.py)"
t0=$SECONDS
client_status=0
timeout 330 /usr/bin/python3 "$repo/tests/container/cluster_client.py" "$work/cluster/plan.json" >"$work/cluster.out" 2>&1 ||
  client_status=$?
if ((client_status)); then
  cat "$work/cluster.out" >&2
  fail "cluster check failed (exit $client_status$( ((client_status == 124)) && echo ": timed out after 330 s"))"
fi
cat "$work/cluster.out"
echo "cluster checks took $((SECONDS - t0)) s"
for ((i = ${#cluster_services[@]} - 1; i >= 0; i--)); do  # as compose down: dependents first
  service=${cluster_services[i]}
  container="$name-$service"
  if [[ $(podman inspect "$container" --format '{{.State.Status}}') != running ]]; then
    code=$(podman inspect "$container" --format '{{.State.ExitCode}}')
    [[ "$code" == 137 ]] || fail "$service ended by itself with exit code $code"
    echo "$service: killed by the client (exit code 137)"
    continue
  fi
  t0=$(now_ms)
  podman stop "$container" >/dev/null 2>"$work/podman.err" || true  # compose's stop signal and grace
  quiet_errors "$work/podman.err"
  stop_ms=$(( $(now_ms) - t0 ))
  code=$(podman inspect "$container" --format '{{.State.ExitCode}}')
  [[ "$code" == 0 ]] || fail "$service exited with $code after $stop_ms ms (137: SIGKILL after its stop_grace_period)"
  echo "$service: stopped with $(plan_field "$service" stop_signal) in $stop_ms ms, exit code 0"
done

# --- (i) image facts --------------------------------------------------------------------------
size=$(podman image inspect --format '{{.Size}}' "$image")
if [[ -n "$build_ms" ]]; then
  echo "image $image: $size bytes ($((size / 1000000)) MB), build time $((build_ms / 1000)) s"
else
  echo "image $image: $size bytes ($((size / 1000000)) MB), not built by this run (CONTAINER_TEST_SERVICE_IMAGE)"
fi
size=$(podman image inspect --format '{{.Size}}' "$nats_image")
echo "image $nats_image: $size bytes ($((size / 1000000)) MB), build time $((nats_build_ms / 1000)).$(( (nats_build_ms % 1000) / 100 )) s"
echo "container test: PASS"
