# victoria-metrics: Debian's victoria-metrics, the stand-in for InfluxDB (it takes the same
# /api/v2/write line protocol). Tuned for tests: a day of retention, no response cache and no
# latency offset, so a point written is visible to the next query; caches capped so it does not
# claim 60% of a shared machine. Sourced by services.sh.
# shellcheck shell=bash disable=SC2034  # CMD is read by launch_service in lib.sh

svc_victoria_metrics_packages() { echo victoria-metrics curl; }
svc_victoria_metrics_port() { echo "$PORT_VICTORIA"; }
svc_victoria_metrics_prepare() { mkdir -p "$(svc_dir victoria-metrics)/data"; }
svc_victoria_metrics_cmd() {
  CMD=(/usr/bin/victoria-metrics
    -httpListenAddr="127.0.0.1:$PORT_VICTORIA"
    -storageDataPath="$(svc_dir victoria-metrics)/data"
    -retentionPeriod=1d
    -search.disableCache
    -search.latencyOffset=0s
    -memory.allowedPercent=10)
}
svc_victoria_metrics_ready() { http_ok "http://127.0.0.1:$PORT_VICTORIA/health"; }
