#!/usr/bin/env bash
# The Linux download, built and tried as a user would take it:
#   the release binary (`cargo build --release`, the profile in Cargo.toml) and its size against the
#   30 MB target → the Debian package (`cargo deb`, from Cargo.toml's [package.metadata.deb]) →
#   installed with dpkg → `fluxcn --version` and `fluxcn paths` from /usr/bin → the menu entry passes
#   desktop-file-validate and the icon is where the entry says → removed again.
# Needs: dpkg, xz (Debian's base), desktop-file-validate (desktop-file-utils), root or sudo for dpkg;
# installs cargo-deb (3.8.0, without its bundled xz: the system's xz compresses) when it is missing.
# Usage: bash scripts/package-linux.sh      (KEEP_INSTALLED=1: leave the package installed)
set -euo pipefail
cd "$(dirname "$0")/.."
limit_mb=30
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

cargo build --release --locked --bin fluxcn
bin=target/release/fluxcn
size=$(stat -c %s "$bin")
echo "release binary: $bin, $size bytes ($(awk "BEGIN { printf \"%.1f\", $size / 1048576 }") MB; target: at most $limit_mb MB)"
[ "$size" -le $(( limit_mb * 1048576 )) ] || { echo "error: the release binary is over $limit_mb MB" >&2; exit 1; }

command -v cargo-deb >/dev/null || cargo install --locked --quiet cargo-deb --version 3.8.0 --no-default-features
rm -f target/debian/fluxcn_*.deb
cargo deb --no-build --locked
deb=$(ls target/debian/fluxcn_*.deb)
echo "package: $deb ($(stat -c %s "$deb") bytes)"
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'

trap '[ -n "${KEEP_INSTALLED:-}" ] || $SUDO dpkg -r fluxcn >/dev/null 2>&1 || true' EXIT
$SUDO dpkg -i "$deb"
installed=$(dpkg -L fluxcn)
for f in /usr/bin/fluxcn /usr/share/applications/fluxcn.desktop /usr/share/icons/hicolor/256x256/apps/fluxcn.png; do
  grep -qx "$f" <<<"$installed" || { echo "error: the package does not install $f" >&2; exit 1; }
done
version=$(/usr/bin/fluxcn --version)
[ "$version" = "fluxcn $(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" ] \
  || { echo "error: /usr/bin/fluxcn --version printed: $version" >&2; exit 1; }
echo "ok: /usr/bin/fluxcn --version: $version"
HOME="$(mktemp -d)" /usr/bin/fluxcn paths | sed 's/^/    /'
desktop-file-validate /usr/share/applications/fluxcn.desktop
icon=$(sed -n 's/^Icon=//p' /usr/share/applications/fluxcn.desktop)
[ -f "/usr/share/icons/hicolor/256x256/apps/$icon.png" ] || { echo "error: no icon named $icon" >&2; exit 1; }
echo "ok: the menu entry is valid and its icon ($icon) is installed"
echo "linux package passed"
