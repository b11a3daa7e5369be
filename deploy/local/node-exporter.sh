# node-exporter: Debian's prometheus-node-exporter on a loopback port; the end-to-end tests'
# prometheus scrapes it. No systemd collector: there is no systemd to ask here (it would log an
# error per scrape). Sourced by services.sh.
# shellcheck shell=bash disable=SC2034  # CMD is read by launch_service in lib.sh

svc_node_exporter_packages() { echo prometheus-node-exporter curl; }
svc_node_exporter_port() { echo "$PORT_NODE_EXPORTER"; }
svc_node_exporter_prepare() { mkdir -p "$(svc_dir node-exporter)/textfile"; }
svc_node_exporter_cmd() {
  CMD=(/usr/bin/prometheus-node-exporter
    --web.listen-address="127.0.0.1:$PORT_NODE_EXPORTER"
    --collector.textfile.directory="$(svc_dir node-exporter)/textfile"
    --no-collector.systemd)
}
svc_node_exporter_ready() { http_ok "http://127.0.0.1:$PORT_NODE_EXPORTER/metrics"; }
