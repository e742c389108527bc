#!/usr/bin/env bash
# Run a command in an image built by workflow/container/build.sh, with the podman options that
# work on hosts where the defaults do not (see the README, "Software deployment"):
#   workflow/container/run.sh [--volume HOST:CONTAINER[:ro]]... [--workdir DIR] IMAGE COMMAND...
# * --runtime runc when runc is installed: crun 1.8 (Debian bookworm) refuses hosts with cgroup v1
#   and v2 controllers at once ("cgroups in hybrid mode not supported"); IMTFUSION_OCI_RUNTIME
#   overrides it (an empty value keeps podman's default).
# * --ulimit nofile/nproc within the caller's hard limits: rootful podman asks for 1048576 each,
#   which fails without CAP_SYS_RESOURCE ("setrlimit `RLIMIT_NOFILE`: Operation not permitted").
# * --network none: the pipeline needs no network.
set -euo pipefail

die() { echo "run.sh: $*" >&2; exit 1; }
command -v podman >/dev/null 2>&1 || die "podman not found (apt-get install podman)"

opts=()
while [ $# -gt 0 ]; do
    case "$1" in
        --volume|-v) [ $# -ge 2 ] || die "$1 needs HOST:CONTAINER"; opts+=(--volume "$2"); shift 2 ;;
        --workdir|-w) [ $# -ge 2 ] || die "$1 needs a directory"; opts+=(--workdir "$2"); shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        --) shift; break ;;
        -*) die "unknown option $1 (try --help)" ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || die "usage: run.sh [--volume H:C]... [--workdir DIR] IMAGE COMMAND..."

# shellcheck source=workflow/container/podman-options.sh
. "$(dirname "$0")/podman-options.sh"
exec podman run --rm --network none "${PODMAN_RUN_OPTIONS[@]}" "${opts[@]}" "$@"
