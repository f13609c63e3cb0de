#!/bin/sh
# Install the Debian 12 packages dt4ecg needs to build, test and run.
# Only what is missing is installed; safe to run again.
#   scripts/install-deps.sh          build + run + test dependencies
#   scripts/install-deps.sh --peer   also the PyTorch / ONNX Runtime peers' packages
set -eu

PKGS="build-essential autoconf automake libtool pkg-config
libmicrohttpd-dev libjansson-dev libsodium-dev libsqlite3-dev sqlite3
libpq-dev postgresql
libdnnl-dev libcmocka-dev libsoxr-dev libyaml-dev
libcurl4-gnutls-dev libgnutls28-dev gnutls-bin openssl curl valgrind strace
cppcheck clang clang-tools clang-format bear python3"

if [ "${1:-}" = "--peer" ]; then
	PKGS="$PKGS python3-torch python3-scipy python3-numpy libopenblas0-openmp"
	# A machine may already carry its own Node.js with npm; Debian's npm conflicts with it.
	command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
fi

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
echo "install-deps: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
