#!/usr/bin/env bash
# Prints the bootstrap address and exits 0 when this checkout's broker runs; exits 1 otherwise.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
pid=$(running_pid)
if [[ -n $pid && -f $ADDR_FILE ]]; then
  log "running (pid $pid)"
  cat "$ADDR_FILE"
else
  log "not running"
  exit 1
fi
