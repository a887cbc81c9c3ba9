#!/usr/bin/env bash
# Stops this checkout's broker (the one start.sh started) and removes its data. Leaves no process:
# SIGTERM, up to 20 s for a clean shutdown, then SIGKILL. Safe to run when nothing runs.
#
#   bash docker/kafka/stop.sh               stop now, whoever started it
#   bash docker/kafka/stop.sh --release PID drop the lease PID took with start.sh --lease; stop only
#                                           if no live lease is left and a lease holder started it
#                                           (a broker started by hand stays up)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

release=''
case ${1:-} in
  --release) release=${2:?--release needs a pid} ;;
  '') ;;
  *) log "usage: stop.sh [--release PID]"; exit 64 ;;
esac

[[ -d $RECO_KAFKA_HOME ]] || { log "not running"; exit 0; }
take_lock

if [[ -n $release ]]; then
  rm -f "$LEASE_DIR/$release"
  others=$(live_leases | wc -l)
  owner=$(cat "$OWNER_FILE" 2>/dev/null || true)
  if ((others > 0)); then
    log "lease $release released; $others other lease(s) still use the broker, leaving it up"
    exit 0
  fi
  if [[ $owner != lease ]]; then
    log "lease $release released; broker was not started by a lease holder, leaving it up"
    exit 0
  fi
fi

stopped=0
while pid=$(running_pid) && [[ -n $pid ]]; do
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    is_broker "$pid" || break
    sleep 0.2
  done
  if is_broker "$pid"; then
    log "broker (pid $pid) still up 20s after SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while is_broker "$pid"; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  stopped=1
  log "broker (pid $pid) stopped"
done
((stopped)) || log "not running"

if [[ -f $DATA_PTR_FILE ]]; then rm -rf "$(<"$DATA_PTR_FILE")"; fi
rm -rf "$PID_FILE" "$ADDR_FILE" "$DATA_PTR_FILE" "$OWNER_FILE" "$LEASE_DIR"
