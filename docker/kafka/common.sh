# Shared by start.sh, stop.sh and status.sh: paths, the pid check, leases. Sourced, not run.
KAFKA_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$KAFKA_DIR/../.." && pwd)

# Everything a running broker owns: pid, log, rendered config, data dir pointer. Gitignored.
RECO_KAFKA_HOME=${RECO_KAFKA_HOME:-$REPO_DIR/.kafka}
RECO_KAFKA_HOST=127.0.0.1
PID_FILE=$RECO_KAFKA_HOME/broker.pid
ADDR_FILE=$RECO_KAFKA_HOME/broker.address
DATA_PTR_FILE=$RECO_KAFKA_HOME/data-dir
OWNER_FILE=$RECO_KAFKA_HOME/owner
LEASE_DIR=$RECO_KAFKA_HOME/leases
LOG_FILE=$RECO_KAFKA_HOME/broker.log
LOCK_FILE=$RECO_KAFKA_HOME/lock
# Passed to the JVM so stop.sh can find this home's broker even if the pid file is lost,
# without matching any other Kafka on the machine.
MARKER="-Dreco.kafka.home=$RECO_KAFKA_HOME"

log() { echo "reco-kafka: $*" >&2; }

# Holds $LOCK_FILE on fd 9 until the script exits: one start or stop at a time per home.
# Children that outlive the script must be started with 9>&- or they keep the lock.
take_lock() {
  mkdir -p "$RECO_KAFKA_HOME"
  exec 9>"$LOCK_FILE"
  flock 9
}

# True while pid is a java process started with this home's marker. A zombie (exited, not yet
# reaped) has an empty cmdline, so it counts as gone: kill -0 alone would wait on it forever.
is_broker() {
  local args
  # The braces make 2>/dev/null cover the redirection too: a gone pid has no cmdline to open.
  { args=$(tr '\0' '\n' <"/proc/$1/cmdline"); } 2>/dev/null || return 1
  [[ $(head -n 1 <<<"$args") == *java ]] && grep -qxF -- "$MARKER" <<<"$args"
}

# True while pid runs, whatever it runs; a zombie counts as gone. start.sh waits on its child with
# this, not is_broker: the child is bash, then setsid, before it execs java, and on a loaded machine
# the first check can come before that exec (a broker reported "exited during start" while it was
# starting, and left running).
is_alive() {
  local stat
  # cat, not $(<file): under set -e a failed $(<file) ends the whole script, || or not.
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # the command name, in parentheses, may hold spaces
  [[ ${stat%% *} != Z ]]
}

# Prints the pid of this home's broker if it is alive, else nothing.
running_pid() {
  local pid=''
  [[ -f $PID_FILE ]] && pid=$(<"$PID_FILE")
  if [[ -n $pid ]] && is_broker "$pid"; then
    echo "$pid"
    return
  fi
  # Pid file missing or stale: look for an orphan started from this home.
  for pid in $(pgrep -f -- "$MARKER"); do
    if is_broker "$pid"; then
      echo "$pid"
      return
    fi
  done
}

# Leases: a test run that shares the broker holds a lease named after its pid (start.sh --lease PID);
# stop.sh --release PID stops the broker only when the last live lease is gone and a lease holder
# started it, so two jest runs in one checkout never pull the broker from under each other.
live_leases() {
  local f
  for f in "$LEASE_DIR"/*; do
    [[ -e $f ]] || continue
    if kill -0 "${f##*/}" 2>/dev/null; then echo "${f##*/}"; else rm -f "$f"; fi
  done
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
