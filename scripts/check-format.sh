#!/bin/sh
# Checks that the lines a change touches follow .clang-format (KNF), and
# only those: the tree predates the file and is not reformatted wholesale.
#   scripts/check-format.sh [BASE]   lines changed since BASE (default: the
#                                    merge base with main, else HEAD~1), plus
#                                    what is staged and in the work tree
# Prints clang-format's diff and exits 1 when a changed line is off style;
# `git clang-format BASE` then fixes those lines in place.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
command -v git-clang-format >/dev/null 2>&1 || {
	echo "check-format.sh: git-clang-format is needed (apt-get install clang-format)" >&2
	exit 2
}
if [ $# -gt 0 ]; then
	base=$1
elif git rev-parse -q --verify main >/dev/null &&
    [ "$(git rev-parse HEAD)" != "$(git rev-parse main)" ]; then
	base=$(git merge-base HEAD main)
else
	base=HEAD~1
fi
# git clang-format diffs without rename detection: a moved file would count
# as all new, so files moved since BASE (git mv) are left out.
files=$(git diff --name-only -M --diff-filter=ACM "$base" -- '*.c' '*.h')
[ -n "$files" ] || {
	echo "check-format.sh: no changed C file since $(git rev-parse --short "$base")"
	exit 0
}
# shellcheck disable=SC2086
out=$(git clang-format --quiet --diff --extensions c,h "$base" -- $files 2>&1) || true
case "$out" in
""|*"no modified files to format"*|*"did not modify any files"*)
	echo "check-format.sh: changed lines since $(git rev-parse --short "$base") follow .clang-format"
	exit 0 ;;
esac
printf '%s\n' "$out"
echo "check-format.sh: lines changed since $(git rev-parse --short "$base") are off style (fix: git clang-format $base)" >&2
exit 1
