#!/usr/bin/env bash
# A single Apache Kafka broker on this host, for the component test tier (no cluster, no container).
#
#   scripts/kafka-host.sh start    fetch the broker jars (cached), start a KRaft broker+controller on
#                                  a free port, wait until a real client answers; prints
#                                  KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:<port> as its last stdout line.
#                                  Reuses a broker this checkout already runs.
#   scripts/kafka-host.sh stop     stop it (SIGTERM, then SIGKILL after 20 s) and delete its data
#   scripts/kafka-host.sh status   print the state file and exit 0 when it runs, 3 when not
#   scripts/kafka-host.sh fetch    only fetch the jars
#
# The versions are pinned in toolchain/kafka/version.env: KAFKA_VERSION (4.x) by default,
# KAFKA_HOST_VERSION picks another (the 3.9 line, KAFKA_3_VERSION, for the old-protocol client
# test). Jars come from Maven Central through toolchain/kafka/pom.xml into
# $INCEPTION_CACHE/kafka/<version>/libs. Runtime state (config, data, broker.log, state.env) lives
# in $KAFKA_HOST_DIR (default <checkout>/.inception/kafka-host).
# Environment: KAFKA_HOST_HEAP (default 512m), KAFKA_HOST_READY_TIMEOUT (seconds, default 60),
# KAFKA_HOST_GROUP_INITIAL_REBALANCE_DELAY_MS (default 0, as the in-cluster mock broker has it;
# Kafka's own default is 3000: `npm run bench` can measure per-test consumer groups at it).
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
# shellcheck source=../toolchain/kafka/version.env
. "$INCEPTION_ROOT/toolchain/kafka/version.env"
case "${KAFKA_HOST_VERSION:-$KAFKA_VERSION}" in
  "$KAFKA_VERSION" | "$KAFKA_3_VERSION") KAFKA_VERSION="${KAFKA_HOST_VERSION:-$KAFKA_VERSION}" ;;
  *) die "KAFKA_HOST_VERSION is '$KAFKA_HOST_VERSION': the pinned versions are $KAFKA_VERSION and $KAFKA_3_VERSION (toolchain/kafka/version.env)" ;;
esac

KAFKA_LIBS="$INCEPTION_CACHE/kafka/$KAFKA_VERSION/libs"
RUN_DIR="${KAFKA_HOST_DIR:-$INCEPTION_ROOT/.inception/kafka-host}"
STATE="$RUN_DIR/state.env"
LOG="$RUN_DIR/broker.log"
HEAP="${KAFKA_HOST_HEAP:-512m}"
READY_TIMEOUT="${KAFKA_HOST_READY_TIMEOUT:-60}"
REBALANCE_DELAY_MS="${KAFKA_HOST_GROUP_INITIAL_REBALANCE_DELAY_MS:-0}"

log() { say "kafka-host: $*" >&2; }

# The jars, once per version. A marker file makes a half-finished copy count as missing.
fetch() {
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  command -v java >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
  command -v mvn >/dev/null || die "mvn not found (the broker jars are fetched with Maven)"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$KAFKA_LIBS"
  nice -n 10 mvn -q -B -Dstyle.color=never -f "$INCEPTION_ROOT/toolchain/kafka/pom.xml" \
    -Dmaven.repo.local="$INCEPTION_CACHE/m2" \
    -Dkafka.version="$KAFKA_VERSION" -Dkafka.scala.version="$KAFKA_SCALA_VERSION" \
    -Dkafka.libs="$KAFKA_LIBS" dependency:copy-dependencies >&2 ||
    die "mvn could not fetch org.apache.kafka:kafka_$KAFKA_SCALA_VERSION:$KAFKA_VERSION"
  [ -f "$KAFKA_LIBS/kafka_$KAFKA_SCALA_VERSION-$KAFKA_VERSION.jar" ] || die "broker jar missing in $KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
}

# True when PID is alive and is the broker started from this run dir (guards against a reused pid).
is_our_broker() {
  local pid="$1"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] &&
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $RUN_DIR/server.properties"
}

# The class-data-sharing archive for this Kafka version and this JDK (keyed by the java binary).
cds_archive_path() {
  local jbin
  jbin="$(readlink -f "$(command -v java)")"
  echo "$INCEPTION_CACHE/kafka/$KAFKA_VERSION/cds-$(printf '%s %s' "$jbin" "$(stat -c %Y "$jbin")" | sha256sum | cut -c1-12).jsa"
}

state_pid() { [ -f "$STATE" ] && sed -n 's/^KAFKA_HOST_PID=//p' "$STATE" || true; }

# Two free TCP ports on 127.0.0.1 (broker, controller), asked from the kernel.
free_ports() {
  node -e '
    const net = require("net");
    const one = () => new Promise((ok, ko) => {
      const s = net.createServer().once("error", ko);
      s.listen(0, "127.0.0.1", () => ok(s));
    });
    Promise.all([one(), one()]).then((ss) => {
      console.log(ss.map((s) => s.address().port).join(" "));
      ss.forEach((s) => s.close());
    });'
}

# A real client check: kafkajs (the suite's client) connects, describes the cluster, creates,
# lists and deletes a topic. Retries until READY_TIMEOUT; gives up early when the JVM exits.
wait_ready() {
  local bootstrap="$1" pid="$2"
  (cd "$INCEPTION_ROOT" && BOOTSTRAP="$bootstrap" PID="$pid" TIMEOUT_S="$READY_TIMEOUT" node -e '
    const { Kafka, logLevel } = require("kafkajs");
    const deadline = Date.now() + Number(process.env.TIMEOUT_S) * 1000;
    const alive = () => { try { process.kill(Number(process.env.PID), 0); return true; } catch { return false; } };
    const kafka = new Kafka({ clientId: "kafka-host-ready", brokers: [process.env.BOOTSTRAP],
      logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries: 0 } });
    let last = "no attempt";
    (async () => {
      while (Date.now() < deadline) {
        if (!alive()) { console.error("the broker process exited"); process.exit(2); }
        const admin = kafka.admin();
        try {
          await admin.connect();
          const c = await admin.describeCluster();
          if (c.brokers.length > 0 && c.controller !== null) {
            const t = "kafka-host-ready-" + process.pid;
            await admin.createTopics({ topics: [{ topic: t, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
            await admin.deleteTopics({ topics: [t] });
            await admin.disconnect();
            process.exit(0);
          }
          last = "no broker/controller in metadata yet";
        } catch (e) { last = String(e && e.message); }
        await admin.disconnect().catch(() => {});
        await new Promise((r) => setTimeout(r, 200));
      }
      console.error("not ready: " + last); process.exit(1);
    })();')
}

start() {
  local pid
  pid="$(state_pid)"
  if is_our_broker "$pid"; then
    local running
    running="$(sed -n 's/^KAFKA_HOST_VERSION=//p' "$STATE")"
    [ "$running" = "$KAFKA_VERSION" ] ||
      die "$RUN_DIR runs Kafka $running (pid $pid), not $KAFKA_VERSION: stop it first"
    log "already running (pid $pid), reusing it"
    grep '^KAFKA_BOOTSTRAP_SERVERS=' "$STATE"
    return 0
  fi
  fetch
  local t0 port cport cluster_id
  t0=$(date +%s%N)
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR/data"
  read -r port cport < <(free_ports)
  # A random cluster id (Kafka's Uuid form: 16 random bytes, base64url without padding). One in
  # 64 starts with '-': it is passed as --cluster-id=ID so that it is never read as an option.
  cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"

  # Share groups (KIP-932) came with Kafka 4: 3.9 does not know their settings.
  local share_props=""
  case "$KAFKA_VERSION" in
    3.*) share_props="# (no share groups in Kafka $KAFKA_VERSION)" ;;
    *) share_props=$'share.coordinator.state.topic.replication.factor=1\nshare.coordinator.state.topic.min.isr=1' ;;
  esac

  cat >"$RUN_DIR/server.properties" <<EOF
# Generated by scripts/kafka-host.sh: one combined broker+controller (KRaft), test settings.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$RUN_DIR/data
# Like BAI's broker: services create their topics; one partition, replication 1.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
$share_props
# Test speed: no wait before the first rebalance, small thread pools for a small machine.
group.initial.rebalance.delay.ms=$REBALANCE_DELAY_MS
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF

  cat >"$RUN_DIR/log4j2.properties" <<EOF
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
EOF

  # Small heap, serial GC and C1 only: this broker handles a test suite's trickle of messages,
  # and JVM start-up is most of its start time.
  local java_opts=(-Xms64m "-Xmx$HEAP" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k
    -Djava.awt.headless=true "-Dlog4j2.configurationFile=$RUN_DIR/log4j2.properties"
    -cp "$KAFKA_LIBS/*")
  # Class-data sharing: the first broker of a version (and JDK) dumps its loaded classes at exit;
  # `stop` moves that archive into the cache and later starts map it (about 2 s less start-up).
  local cds_archive cds=() dump=()
  cds_archive="$(cds_archive_path)"
  if [ -f "$cds_archive" ]; then
    cds=("-XX:SharedArchiveFile=$cds_archive" -Xlog:cds=off -Xlog:cds+dynamic=off)
  else
    dump=("-XX:ArchiveClassesAtExit=$RUN_DIR/classes.jsa")
  fi

  java "${java_opts[@]}" "${cds[@]}" kafka.tools.StorageTool format --cluster-id="$cluster_id" \
    -c "$RUN_DIR/server.properties" >"$RUN_DIR/format.log" 2>&1 ||
    die "storage format failed: $(cat "$RUN_DIR/format.log")"

  nohup java "${java_opts[@]}" "${cds[@]}" "${dump[@]}" kafka.Kafka "$RUN_DIR/server.properties" \
    </dev/null >"$LOG" 2>&1 &
  pid=$!
  {
    echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port"
    echo "KAFKA_HOST_PID=$pid"
    echo "KAFKA_HOST_CONTROLLER_PORT=$cport"
    echo "KAFKA_HOST_VERSION=$KAFKA_VERSION"
    echo "KAFKA_HOST_CLUSTER_ID=$cluster_id"
    echo "KAFKA_HOST_LOG=$LOG"
    echo "KAFKA_HOST_CDS_ARCHIVE=$cds_archive"
  } >"$STATE"

  local why
  if ! why="$(wait_ready "127.0.0.1:$port" "$pid" 2>&1)"; then
    log "broker did not become ready: $why; last lines of $LOG (kept as $RUN_DIR.failed.log):"
    tail -n 40 "$LOG" >&2 || true
    cp "$LOG" "$RUN_DIR.failed.log" 2>/dev/null || true
    stop >/dev/null 2>&1 || true
    die "Kafka $KAFKA_VERSION host broker failed to start"
  fi
  log "Kafka $KAFKA_VERSION ready on 127.0.0.1:$port (pid $pid) in $((($(date +%s%N) - t0) / 1000000)) ms"
  echo "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:$port"
}

stop() {
  local pid i
  pid="$(state_pid)"
  if is_our_broker "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      is_our_broker "$pid" || break
      sleep 0.1
    done
    if is_our_broker "$pid"; then
      log "broker (pid $pid) ignored SIGTERM for 20 s, killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped (pid $pid)"
    # The class-data archive the first broker dumped at exit (see start).
    local target
    target="$(sed -n 's/^KAFKA_HOST_CDS_ARCHIVE=//p' "$STATE")"
    if [ -s "$RUN_DIR/classes.jsa" ] && [ -n "$target" ] && [ ! -f "$target" ]; then
      mv "$RUN_DIR/classes.jsa" "$target.tmp$$" && mv "$target.tmp$$" "$target" &&
        log "cached the class-data archive $target"
    fi
  else
    log "not running"
  fi
  rm -rf "$RUN_DIR"
}

status() {
  local pid
  pid="$(state_pid)"
  if is_our_broker "$pid"; then
    cat "$STATE"
    return 0
  fi
  echo "kafka-host: not running" >&2
  return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch ;;
  *)
    echo "usage: $0 start|stop|status|fetch" >&2
    exit 64
    ;;
esac
