#!/usr/bin/env bash
# Installs the Apache Kafka broker (Scala 2.13 build) and its runtime jars from Maven Central into
# <project>/.cache/kafka/<version>/libs, so tests can run a real KRaft broker with `java -cp 'libs/*'`.
# Idempotent: a completed install leaves a marker file and a re-run returns at once.
#
# Usage: scripts/kafka/install.sh            (prints the libs folder on the last line of stdout)
# Env:   KAFKA_VERSION (default 3.9.1), KAFKA_CACHE_DIR (default <project>/.cache/kafka)
set -euo pipefail

KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
SLF4J_VERSION="1.7.36" # Kafka 3.9 logs through slf4j 1.7; slf4j-reload4j routes it to a log4j 1.x file appender
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROJECT_DIR="$(cd "$SCRIPT_DIR/../.." && pwd)"
CACHE_DIR="${KAFKA_CACHE_DIR:-$PROJECT_DIR/.cache/kafka}"
INSTALL_DIR="$CACHE_DIR/$KAFKA_VERSION"
LIBS_DIR="$INSTALL_DIR/libs"
MARKER="$INSTALL_DIR/.installed"

say() { echo "[kafka-install] $*" >&2; }
fail() {
  echo "[kafka-install] ERROR: $*" >&2
  exit 1
}

if [[ -f "$MARKER" ]] && compgen -G "$LIBS_DIR/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; then
  say "Kafka $KAFKA_VERSION already installed in $LIBS_DIR"
  echo "$LIBS_DIR"
  exit 0
fi

command -v java >/dev/null 2>&1 || fail "java not found on PATH; install a JDK 17 (apt-get install openjdk-17-jre-headless)"
command -v mvn >/dev/null 2>&1 || fail "mvn not found on PATH; install Maven (apt-get install maven)"
JAVA_MAJOR="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
[[ "${JAVA_MAJOR%%.*}" -ge 11 ]] 2>/dev/null || fail "Kafka $KAFKA_VERSION needs Java 11 or newer, found '${JAVA_MAJOR:-unknown}'"

say "installing Apache Kafka $KAFKA_VERSION (org.apache.kafka:kafka_2.13) from Maven Central into $LIBS_DIR"
WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kafka-install.XXXXXX")"
trap 'rm -rf "$WORK_DIR"' EXIT
cat >"$WORK_DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.test</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM

rm -rf "$LIBS_DIR.partial"
mkdir -p "$LIBS_DIR.partial"
say "resolving the broker and its runtime dependencies with Maven (first run downloads ~80 MB)"
if ! mvn -B -q -f "$WORK_DIR/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$LIBS_DIR.partial" >"$WORK_DIR/mvn.log" 2>&1; then
  tail -n 40 "$WORK_DIR/mvn.log" >&2
  fail "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is Maven Central reachable?)"
fi
[[ -f "$LIBS_DIR.partial/kafka_2.13-$KAFKA_VERSION.jar" ]] || fail "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is missing"

rm -rf "$LIBS_DIR"
mv "$LIBS_DIR.partial" "$LIBS_DIR"
date -u +%FT%TZ >"$MARKER"
say "installed $(ls "$LIBS_DIR" | wc -l) jars ($(du -sh "$LIBS_DIR" | cut -f1)) in $LIBS_DIR"
echo "$LIBS_DIR"
