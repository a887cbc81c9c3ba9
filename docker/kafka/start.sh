#!/usr/bin/env bash
# Starts a real single-node Apache Kafka broker (KRaft) on loopback, without Docker, and prints its
# bootstrap address (host:port) as the last line of stdout; progress goes to stderr. Idempotent:
# when this checkout's broker already runs, it waits until it is ready and prints the address.
#
#   bash docker/kafka/start.sh [--lease PID]
#
# --lease PID registers a user of the broker (a test run's pid); see stop.sh --release.
# Environment (all optional):
#   RECO_KAFKA_PORT             broker port (default 39092; when unset and taken, the next free pair)
#   RECO_KAFKA_CONTROLLER_PORT  KRaft controller port (default RECO_KAFKA_PORT + 1)
#   RECO_KAFKA_HOME             pid, log, config and leases (default <repo>/.kafka)
#   RECO_KAFKA_JVM_OPTS         JVM options (default: 512 MB heap, serial GC, C1 only; see README)
#   RECO_KAFKA_START_TIMEOUT    seconds to wait for the broker (default 120)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

lease=''
case ${1:-} in
  --lease) lease=${2:?--lease needs a pid} ;;
  '') ;;
  *) log "usage: start.sh [--lease PID]"; exit 64 ;;
esac

port=${RECO_KAFKA_PORT:-39092}
controller_port=${RECO_KAFKA_CONTROLLER_PORT:-$((port + 1))}
# Start-up speed over peak speed: C1 alone and the serial collector start the broker several
# seconds sooner on 2 cores, and a test's traffic never makes C2 pay off. Benchmarks can override.
read -r -a jvm_opts <<<"${RECO_KAFKA_JVM_OPTS:--Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}"
timeout=${RECO_KAFKA_START_TIMEOUT:-120}

command -v java >/dev/null || { log "java not found (JDK 17+ needed)"; exit 2; }
java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
if ((${java_major%%.*} < 17)); then log "java $java_major found; Kafka 4 needs 17+"; exit 2; fi

take_lock
if [[ -n $lease ]]; then mkdir -p "$LEASE_DIR" && : >"$LEASE_DIR/$lease"; fi

# 1. The broker's jars, fetched once from Maven Central; fetched again when pom.xml changes.
lib=$KAFKA_DIR/lib
stamp=$(sha256sum "$KAFKA_DIR/pom.xml" | cut -c1-16)
if [[ ! -f $lib/.stamp || $(<"$lib/.stamp") != "$stamp" ]]; then
  command -v mvn >/dev/null || { log "mvn not found: needed once to fetch the Kafka jars"; exit 2; }
  log "fetching the Kafka jars with Maven into $lib (first run only)"
  rm -rf "$lib"
  # Maven 3.8 prints stray colour codes even with -q -B; strip them.
  mvn -q -B -f "$KAFKA_DIR/pom.xml" dependency:copy-dependencies 2>&1 9>&- | sed 's/\x1b\[[0-9;]*m//g' >&2
  echo "$stamp" >"$lib/.stamp"
fi

wait_ready() { # pid host port alive-check
  local deadline=$((SECONDS + timeout))
  # "Kafka Server started" is logged once the broker has caught up with the metadata log and
  # opened its listeners, so a client that connects after it finds a controller and topic metadata.
  until port_open "$2" "$3" && grep -q 'Kafka Server started' "$LOG_FILE" 2>/dev/null; do
    if ! "$4" "$1"; then
      log "broker exited during start; last lines of $LOG_FILE:"
      tail -n 40 "$LOG_FILE" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "broker not ready after ${timeout}s; see $LOG_FILE"
      return 1
    fi
    sleep 0.2
  done
}

pid=$(running_pid)
if [[ -n $pid ]]; then
  addr=$(<"$ADDR_FILE")
  log "broker already running (pid $pid) at $addr"
  wait_ready "$pid" "${addr%:*}" "${addr##*:}" is_broker
  echo "$addr"
  exit 0
fi

# A previous broker died without stop.sh: drop its leftovers.
if [[ -f $DATA_PTR_FILE ]]; then rm -rf "$(<"$DATA_PTR_FILE")"; fi
rm -f "$PID_FILE" "$ADDR_FILE" "$DATA_PTR_FILE" "$OWNER_FILE"

# Ports left to their defaults and taken (another checkout's broker, say): the next free pair above them.
if [[ -z ${RECO_KAFKA_PORT:-} && -z ${RECO_KAFKA_CONTROLLER_PORT:-} ]]; then
  while port_open "$RECO_KAFKA_HOST" "$port" || port_open "$RECO_KAFKA_HOST" "$controller_port"; do
    port=$((port + 2))
    controller_port=$((port + 1))
    if ((port >= 39192)); then
      log "no free port pair in 39092-39191 on $RECO_KAFKA_HOST; set RECO_KAFKA_PORT to a free port"
      exit 3
    fi
  done
fi
for p in "$port" "$controller_port"; do
  if port_open "$RECO_KAFKA_HOST" "$p"; then
    log "port $p on $RECO_KAFKA_HOST is taken by another process; set RECO_KAFKA_PORT to a free port"
    exit 3
  fi
done

started=$SECONDS
data_dir=$(mktemp -d "${TMPDIR:-/tmp}/reco-kafka.XXXXXX")
echo "$data_dir" >"$DATA_PTR_FILE"
config=$RECO_KAFKA_HOME/server.properties
sed -e "s|@HOST@|$RECO_KAFKA_HOST|g" -e "s|@PORT@|$port|g" \
  -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data_dir|g" \
  "$KAFKA_DIR/server.properties.template" >"$config"

java_cmd=(java "${jvm_opts[@]}" -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$KAFKA_DIR/log4j2.properties" "$MARKER" -cp "$lib/*")

# 2. Format the storage with a fresh cluster id: 22 chars of URL-safe base64, as Uuid.randomUuid
# makes them (generated here to save a JVM start); a leading '-' would read as an option.
cluster_id=-
while [[ $cluster_id == -* ]]; do
  cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
done
if ! "${java_cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$config" >"$LOG_FILE" 2>&1 9>&-; then
  log "storage format failed:"
  cat "$LOG_FILE" >&2
  rm -rf "$data_dir" "$DATA_PTR_FILE"
  exit 1
fi

# 3. Start the broker in its own session so it outlives the caller's terminal or test run.
setsid "${java_cmd[@]}" kafka.Kafka "$config" >>"$LOG_FILE" 2>&1 </dev/null 9>&- &
pid=$!
echo "$pid" >"$PID_FILE"
addr=$RECO_KAFKA_HOST:$port
echo "$addr" >"$ADDR_FILE"
if [[ -n $lease ]]; then echo lease >"$OWNER_FILE"; else echo manual >"$OWNER_FILE"; fi

# 4. Wait until it accepts connections and has its metadata.
# Our own child: alive is enough, since it is not java until setsid has exec'd it.
if ! wait_ready "$pid" "$RECO_KAFKA_HOST" "$port" is_alive; then
  # Not yet java (stop.sh would not see it as the broker): stop it here, then let stop.sh clean up.
  if is_alive "$pid" && ! is_broker "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
  exec 9>&- # stop.sh takes the lock itself
  bash "$KAFKA_DIR/stop.sh" || true
  exit 1
fi
log "broker started (pid $pid) at $addr in $((SECONDS - started))s; log: $LOG_FILE"
# 5. The bootstrap address, last line of stdout.
echo "$addr"
