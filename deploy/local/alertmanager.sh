# alertmanager: Debian's prometheus-alertmanager with one null receiver and short grouping, so
# alerts Foreshock sends show up in its API within a second or two. Gossip is off (one node).
# Sourced by services.sh.
# shellcheck shell=bash disable=SC2034  # CMD is read by launch_service in lib.sh

svc_alertmanager_packages() { echo prometheus-alertmanager curl; }
svc_alertmanager_port() { echo "$PORT_ALERTMANAGER"; }
svc_alertmanager_prepare() {
  local dir
  dir="$(svc_dir alertmanager)"
  mkdir -p "$dir/data"
  cat >"$dir/alertmanager.yml" <<YAML
route:
  receiver: 'null'
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: 'null'
YAML
}
svc_alertmanager_cmd() {
  local dir
  dir="$(svc_dir alertmanager)"
  CMD=(/usr/bin/prometheus-alertmanager
    --config.file="$dir/alertmanager.yml"
    --storage.path="$dir/data"
    --web.listen-address="127.0.0.1:$PORT_ALERTMANAGER"
    --cluster.listen-address=
    --data.retention=24h)
}
svc_alertmanager_ready() { http_ok "http://127.0.0.1:$PORT_ALERTMANAGER/-/ready"; }
