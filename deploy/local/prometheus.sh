# prometheus: installed only. The end-to-end tests run their own /usr/bin/prometheus with their own
# config and remote_write target, so `up prometheus` just makes sure the binary is there.
# Sourced by services.sh.

prometheus_bin() { echo /usr/bin/prometheus; }
svc_prometheus_packages() { echo prometheus; }
svc_prometheus_daemon() { echo no; }
svc_prometheus_port() { echo -; }
svc_prometheus_ready() {
  if "$(prometheus_bin)" --version >/dev/null 2>&1; then
    log "prometheus: $("$(prometheus_bin)" --version 2>&1 | head -n 1)"
  else
    err "prometheus: $(prometheus_bin) does not run"
    return 1
  fi
}
