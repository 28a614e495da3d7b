#!/usr/bin/env bash
# local-cluster.sh - start/stop a throw-away single-node Slurm cluster on this
# machine (localhost only), for tests and demos of mcdnn's Slurm support.
#
# NOT for production.  It runs munged, slurmctld and slurmd as the invoking
# user (root in CI; an unprivileged user also works, then jobs can only run as
# that user) with a private munge key, a generated slurm.conf and all
# state, logs, pid files and sockets inside STATE_DIR.  Nothing is written to
# /etc, /var or /run, and `stop` only signals processes whose pid files live
# in STATE_DIR (and whose command line names STATE_DIR).
#
# Usage:
#   tools/slurm/local-cluster.sh start  STATE_DIR   # last stdout line: export SLURM_CONF=...
#   tools/slurm/local-cluster.sh stop   STATE_DIR   # idempotent; leaves STATE_DIR in place
#   tools/slurm/local-cluster.sh status STATE_DIR   # daemons, sinfo, squeue
#
#   e.g.  d=$(mktemp -d); eval "$(tools/slurm/local-cluster.sh start "$d")"
#         sbatch --parsable --wrap hostname; ...
#         tools/slurm/local-cluster.sh stop "$d"; rm -rf "$d"
#
# STATE_DIR must be absent, empty, or a directory this script created earlier
# (recognised by the marker file .mcdnn-local-cluster); anything else is
# refused.  Keep its absolute path short (<= 80 chars): unix socket paths are
# limited to 108 bytes.  `start` on a directory whose cluster is already
# running is idempotent: it checks the node is up and prints the export line
# again.  If only some daemons are alive it stops them and starts afresh.
# Progress messages go to stderr; stdout carries only the export line, so
# `eval "$(... start DIR)"` works.
#
# Needs (Debian 12): slurm-wlm (slurmctld, slurmd, slurm-client), munge.
#   apt-get install -y slurm-wlm munge
# The packages' own systemd units / /etc/slurm / /etc/munge are not used.
#
# How a real cluster differs (none of this is needed there, mcdnn just uses
# the site's sbatch/squeue/scancel with the site's SLURM_CONF or /etc/slurm):
#   - munged and the Slurm daemons run as system services (systemd) with a
#     munge key shared across all nodes, under dedicated users (munge, slurm);
#     slurmd runs as root on each compute node;
#   - slurm.conf lists many nodes/partitions, usually with cgroup-based
#     process tracking and resource confinement, accounting via slurmdbd,
#     and a shared filesystem for job working directories;
#   - here there is one node (this host, NodeAddr=127.0.0.1), no cgroups,
#     no accounting, and jobs run as the submitting user (root in CI).
#     All addresses in slurm.conf are 127.0.0.1; slurmctld/slurmd still
#     listen on all interfaces (22.05 has no bind-address option), but
#     nothing can talk to them without the private munge key.
set -euo pipefail

PROG=${0##*/}
MARKER_NAME=.mcdnn-local-cluster
CLUSTER_NAME=mcdnn-local
START_TIMEOUT=${MCDNN_SLURM_START_TIMEOUT:-60}   # seconds to wait for the node to be idle
STOP_TIMEOUT=${MCDNN_SLURM_STOP_TIMEOUT:-30}     # seconds to wait for each daemon to exit

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

usage() {
    cat >&2 <<EOF
usage: $PROG start|stop|status STATE_DIR
  start   create/reuse STATE_DIR, start munged+slurmctld+slurmd, wait until the
          node is idle, print 'export SLURM_CONF=STATE_DIR/slurm.conf'
  stop    stop the daemons started from STATE_DIR (idempotent, keeps STATE_DIR)
  status  show daemons, sinfo and squeue
EOF
    exit 2
}

need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            die "'$c' not found; install the Debian packages: apt-get install -y slurm-wlm munge"
    done
}

# ---------------------------------------------------------------- paths ----
set_paths() {
    STATE=$1
    CONF=$STATE/slurm.conf
    MARKER=$STATE/$MARKER_NAME
    MUNGE_DIR=$STATE/munge
    MUNGE_KEY=$MUNGE_DIR/munge.key
    MUNGE_SOCKET=$MUNGE_DIR/munge.socket
    MUNGE_PID=$MUNGE_DIR/munged.pid
    MUNGE_LOG=$STATE/log/munged.log
    MUNGE_SEED=$MUNGE_DIR/munged.seed
    CTLD_PID=$STATE/run/slurmctld.pid
    SLURMD_PID=$STATE/run/slurmd.pid
    CTLD_LOG=$STATE/log/slurmctld.log
    SLURMD_LOG=$STATE/log/slurmd.log
}

# Absolute path of $1 without requiring it to exist (its parent must).
abspath() {
    local p=$1 parent base
    [[ $p == /* ]] || p=$PWD/$p
    p=${p%/}
    [[ -n $p ]] || p=/
    parent=$(dirname -- "$p")
    base=$(basename -- "$p")
    [[ -d $parent ]] || die "parent directory '$parent' does not exist"
    parent=$(cd -P -- "$parent" && pwd)
    printf '%s/%s\n' "${parent%/}" "$base"
}

# ------------------------------------------------------------ processes ----
# Prints the pid from pid file $1 if that process is alive and its command line
# contains the word $2 and the state dir (so a recycled pid is never touched).
live_pid() {
    local pidfile=$1 what=$2 pid cmd
    [[ -r $pidfile ]] || return 1
    pid=$(tr -dc '0-9' <"$pidfile")
    [[ -n $pid ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$what"* && $cmd == *"$STATE"* ]] || return 1
    printf '%s\n' "$pid"
}

stop_one() {
    local pidfile=$1 what=$2 pid i
    pid=$(live_pid "$pidfile" "$what") || { rm -f -- "$pidfile"; return 0; }
    log "stopping $what (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$what (pid $pid) did not exit after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f -- "$pidfile"
}

# slurmstepd processes of jobs still running on our slurmd outlive slurmd.
# They inherit SLURM_CONF=$CONF from slurmd (we export it), which identifies
# them as ours; kill those (and their job processes die with their session).
kill_stray_stepds() {
    local p env_ok pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ $(cat "$p/comm" 2>/dev/null) == slurmstepd ]] || continue
        env_ok=$(tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -Fx "SLURM_CONF=$CONF" || true)
        [[ -n $env_ok ]] || continue
        log "killing leftover slurmstepd (pid $pid)"
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# -------------------------------------------------------------- helpers ----
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Pick two consecutive free TCP ports, preferring Slurm's defaults 6817/6818.
pick_ports() {
    local p
    for p in 6817 $(seq 16817 2 16999) $(seq 26817 2 26999); do
        if ! port_in_use "$p" && ! port_in_use "$((p + 1))"; then
            CTLD_PORT=$p
            SLURMD_PORT=$((p + 1))
            return 0
        fi
    done
    die "no free port pair found for slurmctld/slurmd"
}

print_logs() {
    local f
    for f in "$MUNGE_LOG" "$CTLD_LOG" "$SLURMD_LOG" "$STATE"/log/*.out; do
        [[ -s $f ]] || continue
        printf '\n===== tail -n 40 %s =====\n' "$f" >&2
        tail -n 40 -- "$f" >&2 || true
    done
}

node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1 || true; }

all_running() {
    live_pid "$MUNGE_PID" munged >/dev/null &&
        live_pid "$CTLD_PID" slurmctld >/dev/null &&
        live_pid "$SLURMD_PID" slurmd >/dev/null
}

any_running() {
    live_pid "$MUNGE_PID" munged >/dev/null ||
        live_pid "$CTLD_PID" slurmctld >/dev/null ||
        live_pid "$SLURMD_PID" slurmd >/dev/null
}

do_stop() {
    export SLURM_CONF=$CONF
    # Cancel remaining jobs while the controller is still up, so no job
    # outlives the cluster.
    if live_pid "$CTLD_PID" slurmctld >/dev/null && [[ -r $CONF ]]; then
        local jobs i
        jobs=$(timeout 10 squeue -h -o '%A' 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            log "cancelling remaining jobs: $(tr '\n' ' ' <<<"$jobs")"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                [[ -z $(timeout 5 squeue -h -t running,completing -o '%A' 2>/dev/null || true) ]] && break
                sleep 0.2
            done
        fi
    fi
    stop_one "$SLURMD_PID" slurmd
    kill_stray_stepds
    stop_one "$CTLD_PID" slurmctld
    stop_one "$MUNGE_PID" munged
}

# ----------------------------------------------------------------- start ---
write_conf() {
    local hw cpus boards spb cps tpc mem user
    hw=$(slurmd -C 2>/dev/null | head -n1) || true
    [[ $hw == NodeName=* ]] || die "'slurmd -C' failed: $hw"
    field() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
    cpus=$(field CPUs); boards=$(field Boards); spb=$(field SocketsPerBoard)
    cps=$(field CoresPerSocket); tpc=$(field ThreadsPerCore); mem=$(field RealMemory)
    [[ -n $cpus && -n $mem ]] || die "cannot parse 'slurmd -C' output: $hw"
    user=$(id -un)
    pick_ports

    cat >"$CONF.tmp" <<EOF
# Generated by tools/slurm/local-cluster.sh for tests/demos - NOT for production.
ClusterName=$CLUSTER_NAME
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MailProg=/bin/true
PlugStackConfig=$STATE/plugstack.conf
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
SlurmctldDebug=info
SlurmdDebug=info
# Short timers: this is a test cluster.
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=60
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus${boards:+ Boards=$boards}${spb:+ SocketsPerBoard=$spb}${cps:+ CoresPerSocket=$cps}${tpc:+ ThreadsPerCore=$tpc} RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    mv -f -- "$CONF.tmp" "$CONF"
    # An empty plugstack.conf keeps /etc/slurm/plugstack.conf(.d) out of it.
    : >"$STATE/plugstack.conf"
}

start_munged() {
    if [[ ! -s $MUNGE_KEY ]]; then
        rm -f -- "$MUNGE_KEY"
        if command -v mungekey >/dev/null 2>&1; then
            mungekey -c -k "$MUNGE_KEY" 2>/dev/null ||
                dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        fi
    fi
    chmod 0400 "$MUNGE_KEY"
    rm -f -- "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    # munged refuses to start when the socket's directory (or a parent, e.g.
    # a 0700 mktemp dir) is not world-executable; --force turns that check
    # into a warning.  Only processes of the invoking user need the socket.
    munged --force \
        --key-file="$MUNGE_KEY" --socket="$MUNGE_SOCKET" --pid-file="$MUNGE_PID" \
        --log-file="$MUNGE_LOG" --seed-file="$MUNGE_SEED" \
        </dev/null >>"$STATE/log/munged.out" 2>&1 ||
        { print_logs; die "munged failed to start"; }
    local i
    for ((i = 0; i < 50; i++)); do
        if [[ -S $MUNGE_SOCKET ]] &&
            munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    print_logs
    do_stop
    die "munged did not come up (socket $MUNGE_SOCKET)"
}

do_start() {
    need munged munge unmunge slurmctld slurmd sinfo squeue scontrol scancel
    NODE=$(hostname -s)
    [[ -n $NODE ]] || die "'hostname -s' is empty"

    if [[ -e $STATE && ! -d $STATE ]]; then
        die "'$STATE' exists and is not a directory"
    fi
    if [[ -d $STATE && ! -f $MARKER ]]; then
        if [[ -n $(ls -A -- "$STATE") ]]; then
            die "'$STATE' is not empty and was not created by $PROG (no $MARKER_NAME); refusing to use it"
        fi
    fi
    ((${#STATE} <= 80)) || die "STATE_DIR path '$STATE' is too long (${#STATE} > 80 chars; unix sockets live in it)"

    mkdir -p -- "$STATE"
    [[ -f $MARKER ]] || printf 'created by %s on %s for cluster %s\n' "$PROG" "$(date -u +%FT%TZ)" "$CLUSTER_NAME" >"$MARKER"
    export SLURM_CONF=$CONF

    if all_running && [[ $(node_state) == idle* || $(node_state) == mix* || $(node_state) == alloc* ]]; then
        log "cluster in $STATE is already running (node $NODE: $(node_state))"
        printf 'export SLURM_CONF=%s\n' "$CONF"
        return 0
    fi
    if any_running; then
        log "cluster in $STATE is partly running; restarting it"
        do_stop
    fi

    local t0=$SECONDS
    mkdir -p -- "$STATE/log" "$STATE/run" "$STATE/ctld" "$STATE/slurmd" "$MUNGE_DIR"
    chmod 0700 "$MUNGE_DIR"
    rm -f -- "$CTLD_PID" "$SLURMD_PID"

    log "starting munged"
    start_munged

    write_conf
    log "starting slurmctld on port $CTLD_PORT, slurmd on port $SLURMD_PORT (node $NODE)"
    slurmctld -f "$CONF" </dev/null >>"$STATE/log/slurmctld.out" 2>&1 ||
        { print_logs; do_stop; die "slurmctld failed to start"; }
    slurmd -f "$CONF" </dev/null >>"$STATE/log/slurmd.out" 2>&1 ||
        { print_logs; do_stop; die "slurmd failed to start"; }

    local st=""
    while ((SECONDS - t0 < START_TIMEOUT)); do
        st=$(node_state)
        case $st in
            idle | idle~ | mixed | allocated) break ;;
            down* | drain*)
                # ReturnToService=2 normally resumes it; nudge just in case.
                scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
        esac
        if ! live_pid "$CTLD_PID" slurmctld >/dev/null && ((SECONDS - t0 > 5)); then
            st="slurmctld died"; break
        fi
        sleep 0.5
    done
    case $st in
        idle | idle~ | mixed | allocated) ;;
        *)
            log "node $NODE did not become idle within ${START_TIMEOUT}s (state: '${st:-unknown}')"
            print_logs
            do_stop
            exit 1 ;;
    esac
    log "cluster up in $((SECONDS - t0))s; node $NODE is $st"
    printf 'export SLURM_CONF=%s\n' "$CONF"
}

do_status() {
    export SLURM_CONF=$CONF
    local p
    for p in "munged:$MUNGE_PID" "slurmctld:$CTLD_PID" "slurmd:$SLURMD_PID"; do
        if pid=$(live_pid "${p#*:}" "${p%%:*}"); then
            echo "${p%%:*}: running (pid $pid)"
        else
            echo "${p%%:*}: not running"
        fi
    done
    if live_pid "$CTLD_PID" slurmctld >/dev/null; then
        echo "--- sinfo"
        sinfo -N -l || true
        echo "--- squeue"
        squeue -l || true
    fi
}

# ------------------------------------------------------------------ main ---
[[ $# -eq 2 ]] || usage
cmd=$1
[[ -n $2 ]] || usage
set_paths "$(abspath "$2")"

case $cmd in
    start) do_start ;;
    stop | status)
        if [[ ! -d $STATE ]]; then
            [[ $cmd == stop ]] && exit 0
            die "'$STATE' does not exist"
        fi
        [[ -f $MARKER ]] || die "'$STATE' was not created by $PROG (no $MARKER_NAME); refusing to touch it"
        if [[ $cmd == stop ]]; then do_stop; else do_status; fi ;;
    *) usage ;;
esac
