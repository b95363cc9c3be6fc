#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker in KRaft mode (broker + controller in one JVM) on 127.0.0.1 for tests.
#
#   scripts/kafka/broker.sh run   [options]   prepare, then exec the broker in the foreground (its pid is this pid)
#   scripts/kafka/broker.sh start [options]   prepare, start in the background, wait until it listens
#   scripts/kafka/broker.sh stop  [--data-dir DIR] [--timeout SECONDS]   SIGTERM, wait, then SIGKILL
#   scripts/kafka/broker.sh prepare [options] install jars, make TLS material, write configs, format storage
#
# Options (all listeners bind 127.0.0.1 only):
#   --data-dir DIR              default .cache/kafka/broker; reused as is when it already holds a formatted broker
#   --plaintext-port N          PLAINTEXT listener, default 9092
#   --ssl-port N                SSL listener (server cert from a test CA made here), default 9093
#   --sasl-plaintext-port N     SASL_PLAINTEXT listener with SASL/PLAIN, default 9094
#   --sasl-ssl-port N           SASL_SSL listener with SASL/PLAIN, default 9095
#   --controller-port N         KRaft controller listener, default 9096
#   --ssl-client-auth MODE      none | requested | required (SSL and SASL_SSL listeners), default requested
#   --heap SIZE                 JVM max heap, default 512m
#
# Files under DIR: tls/{ca,server,client}.{pem,key}, tls/{keystore,truststore}.p12, server.properties,
# log4j.properties, kafka-logs/ (the log dirs), logs/server.log (broker log), logs/stdout.log (start mode), broker.pid.
# SASL/PLAIN users: admin/admin-secret, alice/alice-secret. Key and trust store password: test-secret.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$SCRIPT_DIR/../.." && pwd)"

COMMAND="${1:-}"
[[ $# -gt 0 ]] && shift
DATA_DIR="$PROJECT_DIR/.cache/kafka/broker"
PLAINTEXT_PORT=9092
SSL_PORT=9093
SASL_PLAINTEXT_PORT=9094
SASL_SSL_PORT=9095
CONTROLLER_PORT=9096
SSL_CLIENT_AUTH=requested
HEAP=512m
STOP_TIMEOUT=30
STORE_PASSWORD=test-secret

say() { echo "[kafka-broker] $*" >&2; }
fail() {
  echo "[kafka-broker] ERROR: $*" >&2
  exit 1
}
usage() {
  sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [[ $# -gt 0 ]]; do
  case "$1" in
  --data-dir) DATA_DIR="$2" ;;
  --plaintext-port) PLAINTEXT_PORT="$2" ;;
  --ssl-port) SSL_PORT="$2" ;;
  --sasl-plaintext-port) SASL_PLAINTEXT_PORT="$2" ;;
  --sasl-ssl-port) SASL_SSL_PORT="$2" ;;
  --controller-port) CONTROLLER_PORT="$2" ;;
  --ssl-client-auth) SSL_CLIENT_AUTH="$2" ;;
  --heap) HEAP="$2" ;;
  --timeout) STOP_TIMEOUT="$2" ;;
  -h | --help) usage ;;
  *) fail "unknown option '$1' (see --help)" ;;
  esac
  shift 2 || fail "option '$1' needs a value"
done
case "$SSL_CLIENT_AUTH" in none | requested | required) ;; *) fail "--ssl-client-auth must be none, requested or required" ;; esac
mkdir -p "$DATA_DIR"
DATA_DIR="$(cd "$DATA_DIR" && pwd)"
TLS_DIR="$DATA_DIR/tls"
PID_FILE="$DATA_DIR/broker.pid"

make_tls_material() {
  [[ -f "$TLS_DIR/truststore.p12" ]] && return 0
  command -v openssl >/dev/null 2>&1 || fail "openssl not found; install it (apt-get install openssl)"
  command -v keytool >/dev/null 2>&1 || fail "keytool not found; it ships with the JDK (apt-get install openjdk-17-jdk-headless)"
  say "making a test CA, a server certificate (127.0.0.1, localhost) and a client certificate in $TLS_DIR"
  rm -rf "$TLS_DIR.partial"
  mkdir -p "$TLS_DIR.partial"
  (
    cd "$TLS_DIR.partial"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -keyout ca.key -out ca.pem \
      -subj '/O=Kafka Test/CN=Kafka Test CA' -addext 'basicConstraints=critical,CA:TRUE' \
      -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
    for who in server client; do
      if [[ $who == server ]]; then
        subject='/O=Kafka Test/CN=localhost'
        extensions=$'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth'
      else
        subject='/O=Kafka Test/CN=alice'
        extensions='extendedKeyUsage=clientAuth'
      fi
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$who.key" -out "$who.csr" \
        -subj "$subject" 2>/dev/null
      printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n%s\n' "$extensions" >"$who.ext"
      openssl x509 -req -in "$who.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
        -extfile "$who.ext" -out "$who.pem" 2>/dev/null
      rm -f "$who.csr" "$who.ext"
    done
    openssl pkcs12 -export -in server.pem -inkey server.key -certfile ca.pem -name kafka \
      -passout "pass:$STORE_PASSWORD" -out keystore.p12
    keytool -importcert -noprompt -alias test-ca -file ca.pem -keystore truststore.p12 -storetype PKCS12 \
      -storepass "$STORE_PASSWORD" >/dev/null 2>&1
  ) || fail "could not make TLS material with openssl/keytool in $TLS_DIR.partial"
  rm -rf "$TLS_DIR"
  mv "$TLS_DIR.partial" "$TLS_DIR"
}

write_configs() {
  local jaas='org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";'
  mkdir -p "$DATA_DIR/logs" "$DATA_DIR/kafka-logs"
  # Rewritten on every start so that port changes apply; the storage format (meta.properties) is kept.
  cat >"$DATA_DIR/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$PLAINTEXT_PORT,SSL://127.0.0.1:$SSL_PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PLAINTEXT_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PLAINTEXT_PORT,SSL://127.0.0.1:$SSL_PORT,SASL_PLAINTEXT://127.0.0.1:$SASL_PLAINTEXT_PORT,SASL_SSL://127.0.0.1:$SASL_SSL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$DATA_DIR/kafka-logs

num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.cleaner.threads=1
# A broker killed with SIGKILL keeps its registration until its session times out; the restarted broker
# cannot register before then (default 9 s, plus retry backoff). Tests kill and restart it often.
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500

# As Fabric recommends for brokers backing a Kafka-based ordering service.
unclean.leader.election.enable=false
log.retention.ms=-1
message.max.bytes=103809024
replica.fetch.max.bytes=103809024
socket.request.max.bytes=209715200

ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/keystore.p12
ssl.keystore.password=$STORE_PASSWORD
ssl.key.password=$STORE_PASSWORD
ssl.truststore.type=PKCS12
ssl.truststore.location=$TLS_DIR/truststore.p12
ssl.truststore.password=$STORE_PASSWORD
ssl.client.auth=$SSL_CLIENT_AUTH
ssl.endpoint.identification.algorithm=

sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$jaas
listener.name.sasl_ssl.plain.sasl.jaas.config=$jaas
PROPS
  cat >"$DATA_DIR/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$DATA_DIR/logs/server.log
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
PROPS
}

java_command() {
  local main_class="$1"
  shift
  JAVA_CMD=(java "-Xmx$HEAP" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k
    -Djava.awt.headless=true "-Dkafka.logs.dir=$DATA_DIR/logs"
    "-Dlog4j.configuration=file:$DATA_DIR/log4j.properties"
    -cp "$LIBS_DIR/*" "$main_class" "$@")
}

prepare() {
  command -v java >/dev/null 2>&1 || fail "java not found on PATH; install a JDK 17 (apt-get install openjdk-17-jre-headless)"
  LIBS_DIR="$("$SCRIPT_DIR/install.sh" | tail -n 1)"
  make_tls_material
  write_configs
  if [[ ! -f "$DATA_DIR/kafka-logs/meta.properties" ]]; then
    local cluster_id
    # A Kafka cluster id is a UUID in URL-safe base64 without padding (22 characters).
    # As Kafka's Uuid.randomUuid(), never one starting with '-': the storage tool would read it as an option.
    cluster_id="-"
    while [[ "$cluster_id" == -* ]]; do
      cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
    done
    say "formatting KRaft storage in $DATA_DIR/kafka-logs (cluster id $cluster_id)"
    java_command kafka.tools.StorageTool format -t "$cluster_id" -c "$DATA_DIR/server.properties" --ignore-formatted
    "${JAVA_CMD[@]}" >"$DATA_DIR/logs/format.log" 2>&1 ||
      fail "storage format failed: $(tail -n 20 "$DATA_DIR/logs/format.log")"
  fi
}

port_is_listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "$COMMAND" in
prepare)
  prepare
  ;;
run)
  prepare
  say "starting Kafka broker: PLAINTEXT 127.0.0.1:$PLAINTEXT_PORT, SSL :$SSL_PORT, SASL_PLAINTEXT :$SASL_PLAINTEXT_PORT, SASL_SSL :$SASL_SSL_PORT, log $DATA_DIR/logs/server.log"
  echo $$ >"$PID_FILE"
  java_command kafka.Kafka "$DATA_DIR/server.properties"
  exec "${JAVA_CMD[@]}"
  ;;
start)
  if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    fail "a broker already runs from $DATA_DIR (pid $(cat "$PID_FILE")); stop it first"
  fi
  if port_is_listening "$PLAINTEXT_PORT"; then fail "port $PLAINTEXT_PORT on 127.0.0.1 is already in use"; fi
  prepare
  mkdir -p "$DATA_DIR/logs"
  nohup "${BASH_SOURCE[0]}" run --data-dir "$DATA_DIR" --plaintext-port "$PLAINTEXT_PORT" --ssl-port "$SSL_PORT" \
    --sasl-plaintext-port "$SASL_PLAINTEXT_PORT" --sasl-ssl-port "$SASL_SSL_PORT" \
    --controller-port "$CONTROLLER_PORT" --ssl-client-auth "$SSL_CLIENT_AUTH" --heap "$HEAP" \
    >"$DATA_DIR/logs/stdout.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    if ! kill -0 "$pid" 2>/dev/null; then
      fail "broker exited during start; last log lines:
$(tail -n 30 "$DATA_DIR/logs/server.log" "$DATA_DIR/logs/stdout.log" 2>/dev/null)"
    fi
    if port_is_listening "$PLAINTEXT_PORT"; then
      say "broker pid $pid listens on 127.0.0.1:$PLAINTEXT_PORT"
      exit 0
    fi
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
  fail "broker did not listen on 127.0.0.1:$PLAINTEXT_PORT within 60 s; log tail:
$(tail -n 30 "$DATA_DIR/logs/server.log" 2>/dev/null)"
  ;;
stop)
  [[ -f "$PID_FILE" ]] || {
    say "no broker.pid in $DATA_DIR: nothing to stop"
    exit 0
  }
  pid="$(cat "$PID_FILE")"
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 $((STOP_TIMEOUT * 10))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "broker pid $pid still runs after ${STOP_TIMEOUT}s: sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_FILE"
  say "broker stopped"
  ;;
*) usage ;;
esac
