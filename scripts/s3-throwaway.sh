#!/usr/bin/env bash
# Starts (or reuses) a throwaway single-node Ceph cluster (1 mon, 1 in-memory OSD, 1 RADOS Gateway)
# serving the S3 API on 127.0.0.1, and prints what the tests need as KEY=value lines on stdout.
# Usage: scripts/s3-throwaway.sh start|stop
#   env VOXVAULT_S3_DIR (default /tmp/voxvault-s3), VOXVAULT_S3_PORT (S3 port, default 54380),
#       VOXVAULT_S3_MON_PORT (monitor port, default S3 port + 1)
# All state, logs and pid files live under the dir, with its own ceph.conf; /etc/ceph is never used.
# `start` on a running cluster only prints the info again; otherwise it wipes the dir and builds a
# new cluster (~13 s). `stop` ends the daemons started from the dir and removes nothing.
set -euo pipefail
DIR=${VOXVAULT_S3_DIR:-/tmp/voxvault-s3}
PORT=${VOXVAULT_S3_PORT:-54380}
MON_PORT=${VOXVAULT_S3_MON_PORT:-$((PORT + 1))}
CONF=$DIR/ceph.conf
ENV_FILE=$DIR/s3.env
ENDPOINT=http://127.0.0.1:$PORT
RGW_NAME=client.rgw.voxvault
DAEMONS=(mon.a osd.0 "$RGW_NAME")
export CEPH_CONF=$CONF
unset CEPH_ARGS

for b in ceph-mon ceph-osd radosgw ceph radosgw-admin ceph-authtool monmaptool curl; do
  command -v "$b" >/dev/null 2>&1 || {
    echo "$b not found (apt-get install ceph-mon ceph-osd radosgw ceph-common curl)" >&2; exit 1; }
done

log() { echo "s3-throwaway: $*" >&2; }

# pid of a daemon started from this dir, if it is still running (checks the command line, so a
# recycled pid or another cluster's daemon is never taken for ours)
daemon_pid() {
  local f=$DIR/run/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(tr -dc 0-9 <"$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF" || return 1
  echo "$pid"
}

# SIGTERM, up to 10 s to exit, then SIGKILL
term_and_wait() {
  local pids=() pid i
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null && pids+=("$pid"); done
  for i in $(seq 1 100); do
    local alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -gt 0 ] || return 0
    pids=("${alive[@]}")
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  sleep 0.2
}

# one at a time: the gateway (it hangs up to rgw_exit_timeout_secs if the OSD goes first), then the
# OSD (it tells the monitor it is going), then the monitor; ~6 s in all
stop_all() {
  local d pid
  for d in "$RGW_NAME" osd.0 mon.a; do
    pid=$(daemon_pid "$d") && term_and_wait "$pid"
  done
  return 0
}

answering() {
  curl -s -m 5 "$ENDPOINT/" 2>/dev/null | grep -q ListAllMyBucketsResult
}

all_running() {
  local d
  for d in "${DAEMONS[@]}"; do daemon_pid "$d" >/dev/null || return 1; done
}

# reason and log tails to stderr, stop what this run started, exit 1
fail() {
  log "$1"
  local f
  for f in "$DIR/log/$RGW_NAME.log" "$DIR/log/osd.0.log" "$DIR/log/mon.a.log" "$DIR"/log/*.out; do
    [ -s "$f" ] || continue
    echo "---- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
  stop_all
  exit 1
}

# after a daemon forked into the background: wait for its pid file, remember its pid
declare -A PIDS=()
note_pid() {
  local i pid
  for i in $(seq 1 100); do
    if pid=$(daemon_pid "$1"); then PIDS[$1]=$pid; return 0; fi
    sleep 0.1
  done
  fail "$1 did not stay up"
}

randstr() { # $1 = length, $2 = alphabet
  LC_ALL=C tr -dc "$2" </dev/urandom | head -c "$1" || true
}

# ceph CLI / radosgw-admin against this cluster only, with a timeout so nothing hangs forever
cephc() { timeout 30 ceph --conf "$CONF" --name client.admin --connect-timeout 10 "$@"; }
rgwadm() { timeout 60 radosgw-admin --conf "$CONF" --name client.admin "$@"; }

create_cluster() {
  case "$DIR" in /|'') log "refusing to use '$DIR' as the cluster dir"; exit 1 ;; esac
  if [ -d "$DIR" ] && [ -n "$(ls -A "$DIR")" ] && [ ! -f "$DIR/.voxvault-s3" ]; then
    log "$DIR exists and is not a throwaway cluster dir; refusing to wipe it (set VOXVAULT_S3_DIR)"; exit 1
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"/{mon/data,osd/data,rgw,run,log}
  echo "throwaway Ceph cluster made by scripts/s3-throwaway.sh; wiped by its next start" >"$DIR/.voxvault-s3"
  local fsid osd_uuid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)

  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v1:127.0.0.1:$MON_PORT]
ms bind msgr2 = false
ms bind ipv6 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = /dev/null
keyring = $DIR/keyring
crash dir = $DIR/crash
log to stderr = false
err to stderr = true
log to syslog = false
mon cluster log to syslog = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 1
mon data avail crit = 0

[mon]
log file = $DIR/log/\$name.log
mon data = $DIR/mon/data
keyring = $DIR/mon/keyring

[osd]
log file = $DIR/log/\$name.log
osd data = $DIR/osd/data
keyring = $DIR/osd/keyring
osd objectstore = memstore
memstore device bytes = 4294967296
osd crush update on start = true

[$RGW_NAME]
log file = $DIR/log/\$name.log
keyring = $DIR/rgw/keyring
rgw frontends = beast endpoint=127.0.0.1:$PORT
rgw thread pool size = 64
rgw exit timeout secs = 10
rgw data = $DIR/rgw
EOF

  # keys: every entity's key goes into the monitor's keyring, so mkfs puts them in the auth db
  local q=(--cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *') k
  {
    ceph-authtool "$DIR/mon/keyring" --create-keyring --gen-key -n mon. --cap mon 'allow *'
    ceph-authtool "$DIR/keyring" --create-keyring --gen-key -n client.admin "${q[@]}"
    ceph-authtool "$DIR/osd/keyring" --create-keyring --gen-key -n osd.0 \
      --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
    ceph-authtool "$DIR/rgw/keyring" --create-keyring --gen-key -n "$RGW_NAME" \
      --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw'
    for k in "$DIR/keyring" "$DIR/osd/keyring" "$DIR/rgw/keyring"; do
      ceph-authtool "$DIR/mon/keyring" --import-keyring "$k"
    done
    monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$MON_PORT]" "$DIR/monmap"
  } >>"$DIR/log/setup.out" 2>&1 || fail "creating keyrings / monmap failed"
  ceph-mon --conf "$CONF" --id a --mkfs --monmap "$DIR/monmap" --keyring "$DIR/mon/keyring" \
    >>"$DIR/log/mon.a.out" 2>&1 || fail "ceph-mon --mkfs failed"
  ceph-mon --conf "$CONF" --id a >>"$DIR/log/mon.a.out" 2>&1 || fail "ceph-mon did not start"
  note_pid mon.a

  local id
  id=$(cephc osd new "$osd_uuid" 2>>"$DIR/log/ceph-cli.out") || fail "ceph osd new failed (monitor not answering?)"
  [ "$id" = 0 ] || fail "expected osd id 0, got '$id'"
  ceph-osd --conf "$CONF" --id 0 --mkfs --osd-uuid "$osd_uuid" >>"$DIR/log/osd.0.out" 2>&1 \
    || fail "ceph-osd --mkfs failed"
  ceph-osd --conf "$CONF" --id 0 >>"$DIR/log/osd.0.out" 2>&1 || fail "ceph-osd did not start"
  note_pid osd.0

  radosgw --conf "$CONF" --name "$RGW_NAME" >>"$DIR/log/rgw.out" 2>&1 || fail "radosgw did not start"
  note_pid "$RGW_NAME"
}

wait_for_rgw() {
  local deadline=$((SECONDS + ${VOXVAULT_S3_TIMEOUT:-120}))
  until answering; do
    [ $SECONDS -lt $deadline ] || fail "RADOS Gateway not answering on $ENDPOINT after ${VOXVAULT_S3_TIMEOUT:-120} s"
    local d
    for d in "${!PIDS[@]}"; do
      kill -0 "${PIDS[$d]}" 2>/dev/null || fail "$d exited"
    done
    sleep 0.5
  done
}

create_users() {
  local ak sk oak osk
  ak=$(randstr 20 'A-Z0-9'); sk=$(randstr 40 'A-Za-z0-9')
  oak=$(randstr 20 'A-Z0-9'); osk=$(randstr 40 'A-Za-z0-9')
  rgwadm user create --uid voxvault-test --display-name "voxvault test" \
    --access-key "$ak" --secret-key "$sk" >>"$DIR/log/radosgw-admin.out" 2>&1 \
    || fail "radosgw-admin user create voxvault-test failed"
  rgwadm user create --uid voxvault-other --display-name "voxvault other account" \
    --access-key "$oak" --secret-key "$osk" >>"$DIR/log/radosgw-admin.out" 2>&1 \
    || fail "radosgw-admin user create voxvault-other failed"
  cat >"$ENV_FILE.tmp" <<EOF
VOXVAULT_TEST_S3_ENDPOINT=$ENDPOINT
VOXVAULT_TEST_S3_REGION=us-east-1
VOXVAULT_TEST_S3_ACCESS_KEY_ID=$ak
VOXVAULT_TEST_S3_SECRET_ACCESS_KEY=$sk
VOXVAULT_TEST_S3_OTHER_ACCESS_KEY_ID=$oak
VOXVAULT_TEST_S3_OTHER_SECRET_ACCESS_KEY=$osk
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

case "${1:-start}" in
  start)
    if [ -f "$ENV_FILE" ] && grep -qxF "VOXVAULT_TEST_S3_ENDPOINT=$ENDPOINT" "$ENV_FILE" \
        && all_running && answering; then
      cat "$ENV_FILE"
      exit 0
    fi
    stop_all
    if answering; then
      log "something else answers S3 on $ENDPOINT (not a cluster from $DIR); set VOXVAULT_S3_PORT"; exit 1
    fi
    create_cluster
    wait_for_rgw
    create_users
    cat "$ENV_FILE"
    ;;
  stop)
    stop_all
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
