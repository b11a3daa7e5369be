#!/usr/bin/env bash
# Foreshock's external servers as plain background processes on a bare Debian machine: no Docker,
# no systemd. Installs what is missing, starts, waits until each answers, stops. Used by developers
# (`npm run services -- up`) and by .ci/run.
#
# usage: services.sh up|down|restart|status|install [--purge] [service...]
#   up       install if needed, start, wait until ready; already running = fine
#   down     SIGTERM, SIGKILL after a timeout; data stays for the next up unless --purge
#   restart  down then up (fault tests use it)
#   status   one line per service: name, running/stopped, port, pid
#   install  Debian packages and Kafka jars only (needs root for apt)
#   services: kafka redis alertmanager node-exporter victoria-metrics prometheus (default: all)
#
# Ports, loopback only. A block clear of Foreshock's own 9740, of these packages' default ports
# (kafka 9092/9093, redis 6379, alertmanager 9093/9094, node-exporter 9100, victoria-metrics 8428,
# prometheus 9090) and below Linux's ephemeral range (32768+), where tests pick free ports:
#   kafka             127.0.0.1:19751 broker, 127.0.0.1:19752 KRaft controller
#   redis             127.0.0.1:19753
#   alertmanager      127.0.0.1:19754 (cluster gossip disabled)
#   node-exporter     127.0.0.1:19755
#   victoria-metrics  127.0.0.1:19756
#   prometheus        no server here: the end-to-end tests start /usr/bin/prometheus themselves
# Each can be moved with FORESHOCK_PORT_<NAME> (e.g. FORESHOCK_PORT_REDIS=19853), for a second
# checkout running its own set next to this one.
#
# State (configs, data, logs, pid files): $FORESHOCK_RUN_DIR, default <repo>/.run/.
# `up` writes <state>/env, which exports the addresses the tests read (FORESHOCK_TEST_*):
#   source .run/env

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN_DIR="${FORESHOCK_RUN_DIR:-$REPO/.run}"

ALL_SERVICES=(kafka redis alertmanager node-exporter victoria-metrics prometheus)

PORT_KAFKA="${FORESHOCK_PORT_KAFKA:-19751}"
# shellcheck disable=SC2034  # read by kafka.sh
PORT_KAFKA_CONTROLLER="${FORESHOCK_PORT_KAFKA_CONTROLLER:-19752}"
PORT_REDIS="${FORESHOCK_PORT_REDIS:-19753}"
PORT_ALERTMANAGER="${FORESHOCK_PORT_ALERTMANAGER:-19754}"
PORT_NODE_EXPORTER="${FORESHOCK_PORT_NODE_EXPORTER:-19755}"
PORT_VICTORIA="${FORESHOCK_PORT_VICTORIA:-19756}"

# shellcheck source-path=SCRIPTDIR
source "$HERE/lib.sh"
for s in "${ALL_SERVICES[@]}"; do
  # shellcheck disable=SC1090
  source "$HERE/$s.sh"
done

write_env() {
  mkdir -p "$RUN_DIR"
  cat >"$RUN_DIR/env.tmp" <<EOF
# Written by deploy/local/services.sh up: where the local test servers listen.
export FORESHOCK_TEST_KAFKA=127.0.0.1:$PORT_KAFKA
export FORESHOCK_TEST_REDIS_URL=redis://127.0.0.1:$PORT_REDIS
export FORESHOCK_TEST_ALERTMANAGER_URL=http://127.0.0.1:$PORT_ALERTMANAGER
export FORESHOCK_TEST_VICTORIA_URL=http://127.0.0.1:$PORT_VICTORIA
export FORESHOCK_TEST_NODE_EXPORTER_URL=http://127.0.0.1:$PORT_NODE_EXPORTER
export FORESHOCK_TEST_PROMETHEUS_BIN=$(prometheus_bin)
export FORESHOCK_TEST_CHROMIUM=$(command -v chromium || true)
EOF
  mv "$RUN_DIR/env.tmp" "$RUN_DIR/env"
}

cmd_install() {
  local pkgs=() s
  for s in "$@"; do
    read -r -a more <<<"$(svc_call "$s" packages)"
    pkgs+=("${more[@]}")
  done
  # Installing the whole set also brings the headless browser the page test drives.
  (($# == ${#ALL_SERVICES[@]})) && pkgs+=(chromium)
  ensure_packages "${pkgs[@]}"
  for s in "$@"; do svc_call "$s" fetch; done
}

cmd_up() {
  local s failed=()
  cmd_install "$@"
  mkdir -p "$RUN_DIR"
  write_env
  # Launch everything first, then wait: the JVM's start overlaps with the others'.
  local launched=()
  for s in "$@"; do
    if [[ "$(svc_call "$s" daemon)" == no ]]; then
      svc_call "$s" ready || failed+=("$s")
      continue
    fi
    if launch_service "$s"; then launched+=("$s"); else failed+=("$s"); fi
  done
  for s in "${launched[@]}"; do
    wait_ready "$s" || failed+=("$s")
  done
  if ((${#failed[@]})); then
    err "failed to start: ${failed[*]}"
    return 1
  fi
  log "ready: $* (addresses in $RUN_DIR/env)"
}

cmd_down() {
  local s
  for s in "$@"; do
    [[ "$(svc_call "$s" daemon)" == no ]] || stop_service "$s"
    if ((PURGE)) && [[ -d "$RUN_DIR/$s" ]]; then
      rm -rf "${RUN_DIR:?}/$s"
      log "$s: purged $RUN_DIR/$s"
    fi
  done
}

cmd_status() {
  local s
  printf '%-17s %-9s %-6s %s\n' SERVICE STATE PORT PID
  for s in "$@"; do
    if [[ "$(svc_call "$s" daemon)" == no ]]; then
      local st=missing
      svc_call "$s" ready >/dev/null 2>&1 && st=installed
      printf '%-17s %-9s %-6s %s\n' "$s" "$st" - -
      continue
    fi
    local pid
    if pid="$(service_pid "$s")"; then
      printf '%-17s %-9s %-6s %s\n' "$s" running "$(svc_call "$s" port)" "$pid"
    else
      printf '%-17s %-9s %-6s %s\n' "$s" stopped "$(svc_call "$s" port)" -
    fi
  done
}

main() {
  local action="${1:-}"
  [[ -n "$action" ]] || { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
  shift
  PURGE=0
  local names=() a
  for a in "$@"; do
    case "$a" in
      --purge) PURGE=1 ;;
      -*) die "unknown option $a" ;;
      *) is_service "$a" || die "unknown service '$a' (known: ${ALL_SERVICES[*]})"; names+=("$a") ;;
    esac
  done
  ((${#names[@]})) || names=("${ALL_SERVICES[@]}")
  if [[ "$action" =~ ^(up|down|restart|install)$ ]]; then
    # Two callers at once (a developer's shell and a test script) take turns.
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/.lock"
    flock -w 600 9 || die "another services.sh has held $RUN_DIR/.lock for 10 minutes"
  fi
  case "$action" in
    up) cmd_up "${names[@]}" ;;
    down) cmd_down "${names[@]}" ;;
    restart) cmd_down "${names[@]}"; cmd_up "${names[@]}" ;;
    status) cmd_status "${names[@]}" ;;
    install) cmd_install "${names[@]}" ;;
    -h|--help|help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown action '$action' (up, down, restart, status, install)" ;;
  esac
}

main "$@"
