# redis: Debian's redis-server, in memory only (tests never need it to survive a restart), bound
# to loopback. Sourced by services.sh.
# shellcheck shell=bash disable=SC2034  # CMD is read by launch_service in lib.sh

svc_redis_packages() { echo redis-server redis-tools; }
svc_redis_port() { echo "$PORT_REDIS"; }
svc_redis_prepare() { :; }
svc_redis_cmd() {
  CMD=(/usr/bin/redis-server
    --bind 127.0.0.1 --port "$PORT_REDIS" --protected-mode yes
    --save '' --appendonly no
    --dir "$(svc_dir redis)" --daemonize no --logfile '')
}
svc_redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$PORT_REDIS" ping 2>/dev/null)" == PONG ]]; }
