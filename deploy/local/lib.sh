# shellcheck shell=bash
# Shared by services.sh and the per-service files: package install, start in the background with
# a pid file, readiness polling, stop. Sourced, not run.
#
# A service NAME is a file NAME.sh beside this one defining svc_<id>_* functions (id = NAME with
# '-' as '_'):
#   packages      Debian packages it needs (printed, space separated)
#   port          the port it is reached on
#   prepare       create config and data under $RUN_DIR/NAME (called before each start)
#   cmd           set the array CMD to the server's command line (run in the foreground)
#   ready         exit 0 once the server answers (port already known to be open)
# and optionally: fetch (downloads besides apt), daemon (prints "no" for install-only services),
# extra_ports, ready_timeout (s, default 30), stop_timeout (s, default 15).

LAUNCHED_NOW=()

log() { printf '[services] %s\n' "$*"; }
err() { printf '[services] error: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }

is_service() {
  local s
  for s in "${ALL_SERVICES[@]}"; do [[ "$s" == "$1" ]] && return 0; done
  return 1
}

svc_call() {
  local name="$1" fn="$2"
  shift 2
  local f="svc_${name//-/_}_$fn"
  if declare -F "$f" >/dev/null; then
    "$f" "$@"
    return
  fi
  case "$fn" in
    daemon) echo yes ;;
    fetch) : ;;
    extra_ports) : ;;
    ready_timeout) echo 30 ;;
    stop_timeout) echo 15 ;;
    *) die "internal: $name has no $fn" ;;
  esac
}

svc_dir() { printf '%s/%s' "$RUN_DIR" "$1"; }
svc_pidfile() { printf '%s/%s/%s.pid' "$RUN_DIR" "$1" "$1"; }
svc_logfile() { printf '%s/%s/%s.log' "$RUN_DIR" "$1" "$1"; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
http_ok() { curl -fsS -m 3 -o /dev/null "$1" 2>/dev/null; }

# Field N of /proc/PID/stat counted after the command name (1 = state, 20 = start time).
proc_stat() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk -v n="$2" '{print $n}'; }

pid_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  # A dead child of this shell lingers as a zombie until reaped; it is not running.
  state="$(proc_stat "$1" 1)"
  [[ -n "$state" && "$state" != Z ]]
}

# Prints the pid of the running service, or fails. The pid file holds "PID STARTTIME": a pid is
# only trusted while the process behind it started at that moment, so a pid reused after a crash
# or a reboot never makes `down` signal a stranger.
service_pid() {
  local pidfile pid start
  pidfile="$(svc_pidfile "$1")"
  [[ -s "$pidfile" ]] || return 1
  read -r pid start <"$pidfile" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  [[ -z "$start" || "$(proc_stat "$pid" 20)" == "$start" ]] || return 1
  echo "$pid"
}

# Installs the missing ones. Package scripts must not start the distribution's own daemons (we
# run our own instances, on our own ports); a policy-rc.d is the Debian way to say so, and anything
# started anyway is stopped again.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ $EUID -ne 0 ]]; then
    die "missing Debian packages: ${missing[*]} — install them: sudo apt-get install --no-install-recommends ${missing[*]}"
  fi
  log "installing Debian packages: ${missing[*]}"
  local guard=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  local rc=0
  {
    # Old or empty package lists make the install fail; refresh them unless that was just done.
    if ! find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | grep -q .; then
      apt-get update -qq
    fi &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } >"${TMPDIR:-/tmp}/foreshock-apt.log" 2>&1 || rc=$?
  ((guard)) && rm -f /usr/sbin/policy-rc.d
  if ((rc)); then
    tail -n 30 "${TMPDIR:-/tmp}/foreshock-apt.log" >&2
    die "apt-get install failed (exit $rc)"
  fi
  for p in "${missing[@]}"; do
    if [[ -x "/etc/init.d/$p" ]] && "/etc/init.d/$p" status >/dev/null 2>&1; then
      log "stopping the $p daemon that its package started (ours runs on its own port)"
      "/etc/init.d/$p" stop >/dev/null 2>&1 || true
    fi
  done
}

# Starts the service in the background unless it already runs; readiness is wait_ready's job.
launch_service() {
  local s="$1" pid dir logf pidfile p
  if pid="$(service_pid "$s")"; then
    log "$s: already running (pid $pid)"
    return 0
  fi
  for p in $(svc_call "$s" port) $(svc_call "$s" extra_ports); do
    if port_open "$p"; then
      err "$s: port $p is taken by another process:"
      ss -ltnpH "sport = :$p" >&2 || true
      return 1
    fi
  done
  dir="$(svc_dir "$s")"
  logf="$(svc_logfile "$s")"
  pidfile="$(svc_pidfile "$s")"
  mkdir -p "$dir"
  rm -f "$pidfile"
  [[ -f "$logf" ]] && mv -f "$logf" "$logf.1"
  if ! svc_call "$s" prepare >>"$logf" 2>&1; then
    err "$s: preparing failed; last lines of $logf:"
    tail -n 40 "$logf" >&2
    return 1
  fi
  CMD=()
  svc_call "$s" cmd
  echo "# $(date -u +%FT%TZ) ${CMD[*]}" >>"$logf"
  # The inner shell writes its own pid and then becomes the server (exec keeps the pid); setsid
  # keeps a later Ctrl-C in the caller's terminal from reaching it.
  # fd 9 is services.sh's lock: a server must not hold it for its whole life.
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "${CMD[@]}" >>"$logf" 2>&1 </dev/null 9>&- &
  LAUNCHED_NOW+=("$s")
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$pidfile" ]] && break
    sleep 0.1
  done
  read -r pid <"$pidfile" 2>/dev/null || true
  if [[ ! "$pid" =~ ^[0-9]+$ ]] || ! pid_alive "$pid"; then
    err "$s: did not start; last lines of $logf:"
    tail -n 40 "$logf" >&2
    return 1
  fi
  echo "$pid $(proc_stat "$pid" 20)" >"$pidfile"
  log "$s: started (pid $pid, log $logf)"
}

wait_ready() {
  local s="$1" timeout start pid port
  timeout="$(svc_call "$s" ready_timeout)"
  port="$(svc_call "$s" port)"
  start=$SECONDS
  while :; do
    if ! pid="$(service_pid "$s")"; then
      err "$s: the process exited before it was ready; last lines of $(svc_logfile "$s"):"
      tail -n 40 "$(svc_logfile "$s")" >&2
      return 1
    fi
    if port_open "$port" && svc_call "$s" ready >/dev/null 2>&1; then
      log "$s: ready on 127.0.0.1:$port (pid $pid, $((SECONDS - start)) s)"
      return 0
    fi
    if ((SECONDS - start >= timeout)); then
      err "$s: not ready after ${timeout} s (port $port); last lines of $(svc_logfile "$s"):"
      tail -n 40 "$(svc_logfile "$s")" >&2
      # Only what this run started is taken down again; an instance found running is left alone.
      [[ " ${LAUNCHED_NOW[*]} " == *" $s "* ]] && stop_service "$s" >&2
      return 1
    fi
    sleep 0.25
  done
}

stop_service() {
  local s="$1" pid timeout i
  if ! pid="$(service_pid "$s")"; then
    rm -f "$(svc_pidfile "$s")"
    log "$s: not running"
    return 0
  fi
  timeout="$(svc_call "$s" stop_timeout)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  if pid_alive "$pid"; then
    log "$s: still running ${timeout} s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      pid_alive "$pid" || break
      sleep 0.1
    done
  fi
  rm -f "$(svc_pidfile "$s")"
  log "$s: stopped (was pid $pid)"
}
