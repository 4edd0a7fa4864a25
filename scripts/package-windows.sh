#!/usr/bin/env bash
# The Windows download: `fluxcn.exe` built for x86_64-pc-windows-gnu with the release profile
# (mingw-w64 as the C cross compiler), zipped with the icon and the README as
# target/dist/fluxcn-<version>-windows-x86_64.zip. The window sets its own icon at run time; the
# .ico is there for a shortcut. Needs: the x86_64-pc-windows-gnu target, gcc-mingw-w64-x86-64, and
# python3 (its zipfile module makes the zip). An installer (NSIS, MSI) is made on Windows with `cargo packager --release`
# (Cargo.toml's [package.metadata.packager]).
# Usage: bash scripts/package-windows.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-pc-windows-gnu
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cargo build --release --locked --target "$target" --bin fluxcn
exe="target/$target/release/fluxcn.exe"
stage="target/dist/fluxcn-$version-windows-x86_64"
rm -rf "$stage" "$stage.zip"
mkdir -p "$stage"
cp "$exe" "$stage/fluxcn.exe"
cp assets/fluxcn.ico README.md "$stage/"
( cd target/dist && python3 -m zipfile -c "fluxcn-$version-windows-x86_64.zip" "fluxcn-$version-windows-x86_64" )
echo "windows zip: $stage.zip ($(stat -c %s "$stage.zip") bytes; fluxcn.exe $(stat -c %s "$exe") bytes)"
