#!/usr/bin/env bash
# Build the imtfusion container image without any container registry (README, "Software
# deployment"). Run as root from anywhere:
#   workflow/container/build.sh [options]
# 1. the base image (default localhost/imtfusion-base:bookworm), unless podman has it already:
#    a minimal Debian rootfs from the Debian mirror with debootstrap (python3, python3-venv,
#    python3-dev, ca-certificates; upgraded from bookworm-updates and bookworm-security),
#    imported into podman;
# 2. workflow/Containerfile on it (--build-arg BASE=...): gcc from the Debian mirror, the package
#    and its dependencies from PyPI, the C extension compiled, gcc removed again;
# 3. with --archive FILE, a docker-archive tar of the image for apptainer:
#    apptainer build imtfusion.sif docker-archive:FILE
# Options:
#   --tag IMAGE        image to build (default localhost/imtfusion:VERSION)
#   --base IMAGE       base image name (default localhost/imtfusion-base:bookworm)
#   --rebuild-base     make the base again even if podman has it
#   --mirror URL       Debian mirror (default http://deb.debian.org/debian; a dated
#                      http://snapshot.debian.org/archive/debian/YYYYMMDDTHHMMSSZ pins the base,
#                      then also give --no-upgrade)
#   --no-upgrade       do not add bookworm-updates/-security to the base
#   --archive FILE     also save the image as a docker-archive tar
#   --ca-bundle FILE   CA bundle pip trusts during the build only (behind a TLS-intercepting proxy;
#                      default $PIP_CERT when that file exists); not kept in the image
#   --check            afterwards run `imtfusion --version` and import imtfusion._bamwalk in it
# Needs root, debootstrap and podman (apt-get install debootstrap podman; runc too on hosts whose
# cgroups are hybrid, see run.sh). Network: the Debian mirror and PyPI, no container registry.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
die() { echo "build.sh: error: $*" >&2; exit 1; }
say() { echo "build.sh: $*" >&2; }

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$repo/scripts/imtfusion/__init__.py")
[ -n "$version" ] || die "no __version__ in scripts/imtfusion/__init__.py"
tag="localhost/imtfusion:$version"
base="localhost/imtfusion-base:bookworm"
suite=bookworm
mirror=http://deb.debian.org/debian
rebuild_base=0
upgrade=1
archive=""
ca_bundle="${PIP_CERT:-}"
check=0
while [ $# -gt 0 ]; do
    case "$1" in
        --tag) tag=${2:?--tag needs an image name}; shift 2 ;;
        --base) base=${2:?--base needs an image name}; shift 2 ;;
        --rebuild-base) rebuild_base=1; shift ;;
        --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
        --no-upgrade) upgrade=0; shift ;;
        --archive) archive=${2:?--archive needs a file}; shift 2 ;;
        --ca-bundle) ca_bundle=${2:?--ca-bundle needs a file}; [ -f "$ca_bundle" ] || die "--ca-bundle $ca_bundle: no such file"; shift 2 ;;
        --check) check=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "needs root (debootstrap and rootful podman); run it with sudo"
command -v podman >/dev/null 2>&1 || die "podman not found: apt-get install podman"
# shellcheck source=workflow/container/podman-options.sh
. "$here/podman-options.sh"

start=$SECONDS
if [ "$rebuild_base" = 1 ] || ! podman image exists "$base"; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found: apt-get install debootstrap"
    work=$(mktemp -d "${TMPDIR:-/var/tmp}/imtfusion-base.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    root="$work/rootfs"
    say "base: debootstrap $suite from $mirror into $root"
    if ! debootstrap --variant=minbase --include=python3,python3-venv,python3-dev,ca-certificates \
        "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 20 "$root/debootstrap/debootstrap.log" >&2
        die "debootstrap failed (log above)"
    fi
    if [ "$upgrade" = 1 ]; then
        security=${mirror%/debian}/debian-security
        printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
            "$mirror" "$suite" "$mirror" "$suite" "$security" "$suite" >"$root/etc/apt/sources.list"
        say "base: upgrade from $suite-updates and $suite-security"
        chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade' \
            >"$work/upgrade.log" 2>&1 || { tail -n 20 "$work/upgrade.log" >&2; die "apt-get upgrade in the base failed"; }
    fi
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/log/apt/* "$root/debootstrap"
    rm -f "$root/etc/resolv.conf" "$root/etc/hostname"  # the host's; podman provides its own
    chroot "$root" python3 -c 'import sys, ensurepip, sysconfig, os; assert sys.version_info >= (3, 11), sys.version; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
        || die "the base's python3 is not >= 3.11 with venv and headers"
    say "base: import as $base ($(du -sh "$root" | cut -f1))"
    tar -C "$root" --numeric-owner -cf - . | podman import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
        --message "debootstrap --variant=minbase $suite $mirror (imtfusion workflow/container/build.sh)" \
        - "$base" >/dev/null
    rm -rf "$work"
    trap - EXIT
    say "base: done in $((SECONDS - start)) s"
else
    say "base: $base exists (--rebuild-base makes it again)"
fi

build_opts=()
if [ -n "$ca_bundle" ] && [ ! -f "$ca_bundle" ]; then
    say "build: PIP_CERT=$ca_bundle does not exist, the build's pip keeps its own CA bundle"
    ca_bundle=""
fi
if [ -n "$ca_bundle" ]; then
    cadir=$(mktemp -d "${TMPDIR:-/var/tmp}/imtfusion-ca.XXXXXX")
    trap 'rm -rf "$cadir"' EXIT
    cp "$ca_bundle" "$cadir/ca.crt"
    # /mnt exists (empty) in both bases, so the mount leaves nothing behind in the image
    build_opts+=(--volume "$cadir:/mnt:ro" --build-arg PIP_CERT=/mnt/ca.crt)
    say "build: pip trusts $ca_bundle during the build"
fi
step=$SECONDS
say "build: $tag from workflow/Containerfile on $base"
# chroot isolation: the RUN step needs neither an OCI runtime nor cgroups; host network for apt and pip
podman build --isolation chroot --network host "${PODMAN_ULIMITS[@]}" "${build_opts[@]}" \
    --ignorefile "$repo/workflow/Containerfile.dockerignore" \
    --build-arg "BASE=$base" -f "$repo/workflow/Containerfile" -t "$tag" "$repo" \
    || die "podman build failed (output above)"
say "build: done in $((SECONDS - step)) s"

if [ -n "$archive" ]; then
    rm -f "$archive"
    podman save --format docker-archive -o "$archive" "$tag" || die "podman save failed"
    say "archive: $archive ($(du -h "$archive" | cut -f1)); apptainer build imtfusion.sif docker-archive:$archive"
fi
if [ "$check" = 1 ]; then
    "$here/run.sh" "$tag" imtfusion --version || die "imtfusion --version failed in $tag"
    "$here/run.sh" "$tag" python -c "import imtfusion._bamwalk" || die "imtfusion._bamwalk does not import in $tag"
    say "check: imtfusion --version and import imtfusion._bamwalk ran in $tag"
fi
say "$tag built in $((SECONDS - start)) s"
echo "$tag"
