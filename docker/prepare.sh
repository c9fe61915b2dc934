#!/usr/bin/env bash
# Everything `docker-compose build` needs, made on the host without an image registry:
#   1. the base image botify-base:bookworm: a minimal Debian root file system made with
#      debootstrap from the host's Debian mirror (python3, redis-server, nginx-light and
#      their dependencies, security updates applied) and loaded with `docker import`;
#   2. build/wheels/: botify's dependencies as manylinux wheels for CPython 3.11 (the
#      base image's Python), downloaded with pip on the host, so no build needs PyPI.
# Both are cached: the image is rebuilt only when its package list changes, the wheels only
# when requirements.txt does. Needs root (debootstrap), debootstrap, docker and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=botify-base:bookworm
PACKAGES=python3,python3-venv,redis-server,nginx-light
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PYTHON=${PYTHON:-$( [[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3 )}
WHEELS=build/wheels

step() { printf '[prepare] %s\n' "$*"; }

# debootstrap mounts /proc (and more) inside the root file system while it installs, and
# leaves them mounted if it is interrupted: unmount them before removing anything, and never
# let rm cross into another file system.
remove_rootfs() {
  awk -v root="$1/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r mountpoint; do umount -l "$mountpoint"; done
  rm -rf --one-file-system "$1"
}

base_image() {
  local built
  built=$(docker image inspect --format '{{ index .Config.Labels "botify.packages" }}' \
    "$BASE_IMAGE" 2>/dev/null || true)
  if [[ "$built" == "$PACKAGES" ]]; then
    step "$BASE_IMAGE is up to date ($PACKAGES)"
    return
  fi
  local rootfs
  rootfs=$(mktemp -d /tmp/botify-rootfs.XXXXXX)
  # shellcheck disable=SC2064  # expand now: the trap must remove this very directory
  trap "remove_rootfs '$rootfs'" EXIT
  step "debootstrap bookworm ($PACKAGES) from $MIRROR"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$MIRROR" >/dev/null
  step "security updates from $SECURITY_MIRROR"
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
SOURCES
  # policy-rc.d: Debian's way to tell upgraded packages not to start services in a chroot.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod +x "$rootfs/usr/sbin/policy-rc.d"
  chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -qq && apt-get upgrade -y -qq >/dev/null && apt-get clean'
  rm -rf "$rootfs"/usr/sbin/policy-rc.d "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/*
  step "docker import $BASE_IMAGE"
  tar -C "$rootfs" -c . | docker import \
    --change "LABEL botify.packages=$PACKAGES" \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$BASE_IMAGE" >/dev/null
  remove_rootfs "$rootfs"
  trap - EXIT
}

# pip download picks wheels for another interpreter (--python-version, --platform) but judges
# environment markers by the host's own: a requirement like `async-timeout;
# python_full_version < "3.11.3"` is skipped on a 3.11.7 host though the image's 3.11.2 needs
# it. So the image's own pip, offline, names what is missing, until nothing is.
missing_wheel() {
  local output
  if output=$(docker run --rm --network none -v "$PWD/$WHEELS:/wheels:ro" "$BASE_IMAGE" sh -c \
    'python3 -m venv /tmp/venv && /tmp/venv/bin/pip install --dry-run --no-index \
       --find-links /wheels -r /wheels/requirements.txt "setuptools>=68" wheel' 2>&1); then
    return 0
  fi
  local missing
  missing=$(sed -n 's/^ERROR: No matching distribution found for \([^;]*\).*$/\1/p' <<<"$output")
  if [[ -z "$missing" ]]; then
    echo "$output" >&2
    exit 1
  fi
  echo "$missing"
}

download() {
  # pip does not widen a manylinux_2_X platform to older glibc versions by itself: name
  # every one that bookworm's glibc 2.36 runs.
  local platforms=(--platform linux_x86_64 --platform manylinux2014_x86_64)
  for minor in $(seq 5 36); do platforms+=(--platform "manylinux_2_${minor}_x86_64"); done
  "$PYTHON" -m pip download --quiet --only-binary=:all: --dest "$WHEELS" \
    --python-version 3.11 --implementation cp --abi cp311 "${platforms[@]}" "$@"
}

wheels() {
  if cmp -s requirements.txt "$WHEELS/requirements.txt"; then
    step "$WHEELS is up to date with requirements.txt"
    return
  fi
  step "pip download: wheels for the image's CPython 3.11 into $WHEELS"
  rm -rf "$WHEELS"
  download -r requirements.txt "setuptools>=68" wheel
  cp requirements.txt "$WHEELS/requirements.txt"
  local missing
  for _ in $(seq 10); do
    missing=$(missing_wheel)
    [[ -z "$missing" ]] && return
    step "the image's pip also needs: $missing"
    download "$missing"
  done
  echo "docker/prepare.sh: $WHEELS still misses $missing" >&2
  rm "$WHEELS/requirements.txt"
  exit 1
}

started=$SECONDS
base_image
step "base image ready after $((SECONDS - started)) s"
wheels
step "done in $((SECONDS - started)) s"
