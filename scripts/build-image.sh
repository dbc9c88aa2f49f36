#!/usr/bin/env bash
# Build the Debian 12 (bookworm) systemd test-host image from the Debian archive with debootstrap
# and `docker import` it. The tag is a hash of the recipe, so the image is rebuilt only when the
# recipe changes. Prints the image reference on stdout.
#
# AISEC_TEST_IMAGE=<registry image>  skips the build and uses that image instead (for users who can
#                                   reach a registry, e.g. a geerlingguy/docker-debian12-ansible mirror).
# DEBOOTSTRAP_MIRROR=<url>           overrides debootstrap's mirror (default: the machine's Debian mirror).
. "$(dirname "$0")/lib.sh"

if [ -n "${AISEC_TEST_IMAGE:-}" ] && [ "${AISEC_TEST_IMAGE}" != "auto" ]; then
  echo "$AISEC_TEST_IMAGE"; exit 0
fi
ensure_docker
recipe="$AISEC_ROOT/images/debian12/recipe.env"
hash="$(cat "$recipe" "$AISEC_ROOT/scripts/build-image.sh" | sha256sum | cut -c1-12)"
image="aisec-gpu-host/debian12:$hash"
if docker image inspect "$image" >/dev/null 2>&1; then
  docker tag "$image" aisec-gpu-host/debian12:latest
  echo "$image"; exit 0
fi
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
# shellcheck disable=SC1090
. "$recipe"
mirror="${DEBOOTSTRAP_MIRROR:-}"
if [ -z "$mirror" ]; then
  # Reuse the mirror this machine already reaches.
  mirror="$(grep -rhoE '^(URIs:|deb)\s+\S+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
            | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
  [ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
fi
rootfs="$(mktemp -d /var/tmp/aisec-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap $SUITE ($VARIANT) from $mirror -> $image"
debootstrap --variant="$VARIANT" --include="$PACKAGES" "$SUITE" "$rootfs" "$mirror" >&2
cat >"$rootfs/etc/apt/sources.list" <<SRC
deb $mirror $SUITE main
deb $mirror $SUITE-updates main
deb ${mirror%/debian*}/debian-security $SUITE-security main
SRC
# Each container makes its own host keys; no getty/udev noise in containers.
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' >"$rootfs/etc/systemd/system/ssh.service.d/hostkeys.conf"
for unit in getty.target systemd-udevd.service systemd-udev-trigger.service systemd-remount-fs.service \
            systemd-firstboot.service systemd-timesyncd.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo 'gpu-node' >"$rootfs/etc/hostname"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
# No package lists in the image: date their directory to the epoch so that apt's cache_valid_time sees a
# host whose lists were never refreshed (as a fresh install is), not lists "updated" at build time.
touch -d @0 "$rootfs/var/lib/apt/lists"
tar -C "$rootfs" -c . | docker import -c 'CMD ["/lib/systemd/systemd"]' -c 'ENV container=docker' - "$image" >&2
docker tag "$image" aisec-gpu-host/debian12:latest
log "built $image"
echo "$image"
