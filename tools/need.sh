#!/bin/sh
# tools/need.sh COMMAND PACKAGE [BREW_PACKAGE]: when COMMAND is not on PATH, install PACKAGE
# with apt-get (Debian, Ubuntu), brew (macOS: BREW_PACKAGE, default PACKAGE) or dnf (Fedora);
# elsewhere, say in one line what to install. Used by the Makefile.
set -eu
command -v "$1" >/dev/null 2>&1 && exit 0
package=$2
brew_package=${3:-$2}
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
if [ "$(uname -s)" = Darwin ]; then
  if ! command -v brew >/dev/null 2>&1; then
    echo "$1 is missing: install Homebrew (https://brew.sh), then run: brew install $brew_package" >&2
    exit 1
  fi
  brew install $brew_package
elif command -v apt-get >/dev/null 2>&1; then
  $sudo apt-get update -qq && $sudo apt-get install -y -qq $package
elif command -v dnf >/dev/null 2>&1; then
  $sudo dnf install -y -q $package
else
  echo "$1 is missing: install the package '$package' with your system's package manager" >&2
  exit 1
fi
command -v "$1" >/dev/null 2>&1 || { echo "$1 is still missing after installing $package" >&2; exit 1; }
