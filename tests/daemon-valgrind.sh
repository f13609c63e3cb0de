#!/bin/sh
# tests/daemon-valgrind.sh — tests/test_daemon, then tests/test_fault (the
# daemon meeting store and allocation failures), with dt4ecgd under
# valgrind --leak-check=full --error-exitcode=1: any memory error or
# definite leak in the daemon makes it exit 1, which fails the SIGTERM test.
# Skipped (77) when valgrind is not installed, and in the sanitizer build:
# AddressSanitizer and valgrind cannot watch the same process (that build's
# own leak checker covers it there).
command -v valgrind >/dev/null 2>&1 || { echo "valgrind not installed"; exit 77; }
: "${DT4ECG_BUILDDIR:=.}"
if ldd "$DT4ECG_BUILDDIR/daemon/dt4ecgd" 2>/dev/null | grep -q libasan; then
	echo "dt4ecgd is built with AddressSanitizer: valgrind run skipped"
	exit 77
fi
DT4ECG_VALGRIND=1 "$DT4ECG_BUILDDIR/tests/test_daemon" || exit $?
DT4ECG_VALGRIND=1 exec "$DT4ECG_BUILDDIR/tests/test_fault"
