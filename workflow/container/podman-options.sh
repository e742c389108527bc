# shellcheck shell=bash
# Sourced by build.sh and run.sh: sets the arrays PODMAN_ULIMITS and PODMAN_RUN_OPTIONS.
# Rootful podman asks the runtime for RLIMIT_NOFILE and RLIMIT_NPROC of 1048576; without
# CAP_SYS_RESOURCE that fails above the caller's hard limits, so ask for no more than those
# (podman itself lowers its RLIMIT_NPROC to 32768, the cap for nproc).
_limit() {  # hard limit of ulimit option $1, at most $2
    local hard
    hard=$(ulimit -H "$1")
    if [ "$hard" = unlimited ] || [ "$hard" -gt "$2" ]; then hard=$2; fi
    echo "$hard"
}
_nofile=$(_limit -n 1048576)
_nproc=$(_limit -u 32768)
PODMAN_ULIMITS=(--ulimit "nofile=$_nofile:$_nofile" --ulimit "nproc=$_nproc:$_nproc")
PODMAN_RUN_OPTIONS=("${PODMAN_ULIMITS[@]}")
# crun 1.8 (Debian bookworm) refuses hybrid cgroup hosts; runc runs there.
if [ -n "${IMTFUSION_OCI_RUNTIME+set}" ]; then
    [ -z "$IMTFUSION_OCI_RUNTIME" ] || PODMAN_RUN_OPTIONS+=(--runtime "$IMTFUSION_OCI_RUNTIME")
elif command -v runc >/dev/null 2>&1; then
    PODMAN_RUN_OPTIONS+=(--runtime runc)
fi
unset _nofile _nproc
