#!/usr/bin/env bash
# Brings up what Courier needs on a developer machine or in CI, idempotently:
# PostgreSQL and Redis (Debian packages; started when down, installed when
# missing), the S3 server versitygw (built once with `go install` into a cache
# folder, started on a loopback port with its data under .data/), a second
# S3 server, MinIO, that the upload tests also run against (built and
# started the same way), the media tools ffmpeg and libheif, and chromium
# with playwright-core for the web client's browser tests. A second
# run only checks and returns.
#
# Settings are the ones Courier reads, with the same defaults:
#   COURIER_S3_ENDPOINT (http://127.0.0.1:7070), COURIER_S3_ACCESS_KEY,
#   COURIER_S3_SECRET_KEY, COURIER_CACHE (~/.cache/courier), COURIER_DATA (.data),
#   COURIER_TEST_MINIO_ENDPOINT (http://127.0.0.1:17100; same keys),
#   COURIER_PG_MAX_CONNECTIONS (400: the suite runs packages side by side)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${COURIER_CACHE:-$HOME/.cache/courier}
DATA=${COURIER_DATA:-$ROOT/.data}
S3_ENDPOINT=${COURIER_S3_ENDPOINT:-http://127.0.0.1:7070}
S3_ACCESS_KEY=${COURIER_S3_ACCESS_KEY:-courier}
S3_SECRET_KEY=${COURIER_S3_SECRET_KEY:-courier-dev-secret}
VERSITYGW_VERSION=v1.8.0
MINIO_ENDPOINT=${COURIER_TEST_MINIO_ENDPOINT:-http://127.0.0.1:17100}
# The MinIO build the tests were last run against; `go install
# github.com/minio/minio@latest` names a newer one when there is.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
PG_MAX_CONNECTIONS=${COURIER_PG_MAX_CONNECTIONS:-400}
APT_UPDATED=

say() { printf '==> %s\n' "$*"; }
die() { printf 'services: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
	if [ -z "$APT_UPDATED" ]; then
		say "apt-get update"
		as_root apt-get update -qq || die "apt-get update failed"
		APT_UPDATED=1
	fi
	say "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null ||
		die "apt-get install $* failed"
}

# wait_for CMD... retries a check for up to 30 s.
wait_for() {
	for _ in $(seq 1 60); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	return 1
}

media_tools() {
	local missing=()
	command -v ffmpeg >/dev/null || missing+=(ffmpeg)
	command -v heif-enc >/dev/null || missing+=(libheif-examples)
	# libheif1 is the shared library gen2brain/heic loads at run time
	# (its WASM fallback is slower); -dev pulls it in with the headers.
	dpkg -s libheif-dev >/dev/null 2>&1 || missing+=(libheif-dev)
	# libjpeg-turbo's TurboJPEG API decodes JPEGs at reduced size for
	# thumbnails (cgo; build with -tags nojpegturbo to go without).
	dpkg -s libturbojpeg0-dev >/dev/null 2>&1 || missing+=(libturbojpeg0-dev)
	# tmux drives `courier chat` in two terminals in its end-to-end test.
	command -v tmux >/dev/null || missing+=(tmux)
	if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
	say "media tools: ffmpeg $(ffmpeg -version | head -1 | awk '{print $3}'), libheif ok"
}

postgres() {
	if ! command -v pg_ctlcluster >/dev/null; then
		apt_install postgresql
	fi
	if ! pg_isready -q -h 127.0.0.1 -p 5432; then
		local version
		version=$(ls /etc/postgresql | sort -V | tail -1)
		say "starting PostgreSQL $version"
		as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
			die "could not start PostgreSQL $version (see /var/log/postgresql)"
		wait_for pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not answer on 127.0.0.1:5432"
	fi
	# The suite runs packages side by side, each with nodes and pools of
	# its own: PostgreSQL's default of 100 connections is too few.
	local conns
	conns=$(psql -h 127.0.0.1 -U postgres -tAc "SHOW max_connections")
	if [ "$conns" -lt "$PG_MAX_CONNECTIONS" ]; then
		local version
		version=$(ls /etc/postgresql | sort -V | tail -1)
		say "PostgreSQL max_connections $conns -> $PG_MAX_CONNECTIONS (restart)"
		psql -h 127.0.0.1 -U postgres -qc "ALTER SYSTEM SET max_connections = $PG_MAX_CONNECTIONS" ||
			die "could not raise max_connections"
		as_root pg_ctlcluster --skip-systemctl-redirect "$version" main restart ||
			die "could not restart PostgreSQL $version (see /var/log/postgresql)"
		wait_for pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not answer on 127.0.0.1:5432"
	fi
	for db in courier courier_test; do
		if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1; then
			say "creating database $db"
			psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" ||
				die "could not create database $db (is 127.0.0.1 trust auth for user postgres?)"
		fi
	done
	say "PostgreSQL on 127.0.0.1:5432 (databases courier, courier_test)"
}

redis() {
	if ! command -v redis-server >/dev/null; then
		apt_install redis-server
	fi
	if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
		say "starting Redis"
		as_root mkdir -p /var/lib/redis /var/log/redis
		as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
			--appendonly no --dir /var/lib/redis --logfile /var/log/redis/courier.log ||
			die "could not start redis-server"
		wait_for redis-cli -h 127.0.0.1 -p 6379 ping || die "Redis did not answer on 127.0.0.1:6379"
	fi
	say "Redis on 127.0.0.1:6379"
}

s3_up() { curl -s -o /dev/null "$S3_ENDPOINT/"; }

versitygw() {
	local bin=$CACHE/bin/versitygw
	if [ ! -x "$bin" ]; then
		say "building versitygw $VERSITYGW_VERSION into $CACHE/bin (once; a few minutes)"
		mkdir -p "$CACHE/bin"
		(cd /tmp && GOBIN=$CACHE/bin GOFLAGS=-mod=mod go install \
			"github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION") ||
			die "go install versitygw failed"
	fi
	if ! s3_up; then
		local hostport=${S3_ENDPOINT#http://}
		hostport=${hostport%%/*}
		mkdir -p "$DATA/s3" "$DATA/s3-versions"
		say "starting versitygw on $hostport (data in $DATA/s3, log in $DATA/versitygw.log)"
		ROOT_ACCESS_KEY=$S3_ACCESS_KEY ROOT_SECRET_KEY=$S3_SECRET_KEY \
			nohup "$bin" --port "$hostport" posix "$DATA/s3" >"$DATA/versitygw.log" 2>&1 &
		wait_for s3_up || die "versitygw did not answer on $S3_ENDPOINT; see $DATA/versitygw.log"
	fi
	say "S3 (versitygw) on $S3_ENDPOINT"
}

minio_up() { curl -s -o /dev/null -f "$MINIO_ENDPOINT/minio/health/live"; }

minio() {
	local bin=$CACHE/bin/minio
	if [ ! -x "$bin" ]; then
		say "building MinIO $MINIO_VERSION into $CACHE/bin (once; a few minutes)"
		mkdir -p "$CACHE/bin"
		(cd /tmp && GOBIN=$CACHE/bin GOFLAGS=-mod=mod go install "github.com/minio/minio@$MINIO_VERSION") ||
			die "go install minio failed"
	fi
	if ! minio_up; then
		local hostport=${MINIO_ENDPOINT#http://}
		hostport=${hostport%%/*}
		local port=${hostport##*:}
		mkdir -p "$DATA/minio"
		say "starting MinIO on $hostport (data in $DATA/minio, log in $DATA/minio.log)"
		MINIO_ROOT_USER=$S3_ACCESS_KEY MINIO_ROOT_PASSWORD=$S3_SECRET_KEY \
			nohup "$bin" server --quiet --address "$hostport" --console-address "${hostport%:*}:$((port + 1))" \
			"$DATA/minio" >"$DATA/minio.log" 2>&1 &
		wait_for minio_up || die "MinIO did not answer on $MINIO_ENDPOINT; see $DATA/minio.log"
	fi
	say "second S3 (MinIO) on $MINIO_ENDPOINT"
}

# browser: Debian's chromium and npm's playwright-core (in $CACHE/node, so
# the repository holds no node_modules) for the web client's browser tests.
PLAYWRIGHT_VERSION=${COURIER_PLAYWRIGHT_VERSION:-1.65.2}
browser() {
	command -v chromium >/dev/null || apt_install chromium
	command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
	if [ ! -f "$CACHE/node/node_modules/playwright-core/package.json" ]; then
		say "npm install playwright-core@$PLAYWRIGHT_VERSION into $CACHE/node"
		mkdir -p "$CACHE/node"
		(cd "$CACHE/node" && npm install --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION" >/dev/null) ||
			die "npm install playwright-core failed"
	fi
	say "browser: $(chromium --version 2>/dev/null | head -1), playwright-core in $CACHE/node"
}

command -v curl >/dev/null || apt_install curl
command -v go >/dev/null || die "Go is not on PATH (expected /usr/local/go/bin)"

case "${1:-all}" in
all) postgres; redis; versitygw; minio; media_tools; browser ;;
browser) browser ;;
postgres) postgres ;;
redis) redis ;;
s3) versitygw; minio ;;
media) media_tools ;;
minio) minio ;;
*) die "usage: $0 [all|postgres|redis|s3|minio|media|browser]" ;;
esac
