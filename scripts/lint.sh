#!/bin/sh
# make lint: cppcheck and clang's static analyser (scan-build) over the code.
#   scripts/lint.sh                 both; exits 1 on any cppcheck finding or
#                                   any scan-build report not in the baseline
#   scripts/lint.sh --cppcheck      cppcheck only (seconds)
#   scripts/lint.sh --update        rewrites the baseline from this run (then
#                                   review every line it adds: see the file)
#   scripts/lint.sh --compare       compares the last run's reports again
#                                   (no new analysis)
# cppcheck must be clean; scan-build is held to scripts/lint/scan-build.baseline,
# one reviewed report a line as "file|function|checker|message  # verdict"
# (no line numbers, so that unrelated edits do not move it).  The analysis
# builds the tree from scratch in $LINT_DIR (default build-lint beside the
# sources) with clang; it takes a few minutes on two cores.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-all}
dir=${LINT_DIR:-$top/build-lint}
baseline=$top/scripts/lint/scan-build.baseline
status=0

for tool in cppcheck scan-build clang; do
	command -v $tool >/dev/null 2>&1 || {
		echo "lint.sh: $tool is needed (scripts/install-deps.sh)" >&2
		exit 2
	}
done

# --- cppcheck: the libraries and programs (tests are cmocka code that the
# analyser cannot follow) --------------------------------------------------
echo "lint.sh: cppcheck"
if ! cppcheck -q -j2 --std=c11 -D_GNU_SOURCE -I"$top" \
    --library="$top/scripts/lint/jansson.cfg" \
    --enable=warning,portability --inline-suppr --error-exitcode=1 \
    --template='{file}:{line}: {severity}: {message} [{id}]' \
    util nn ecg data pipeline store proto daemon admin kiosk bench fuzz; then
	echo "lint.sh: cppcheck found the above" >&2
	status=1
fi
[ "$mode" = --cppcheck ] && exit $status

# --- scan-build ----------------------------------------------------------
echo "lint.sh: scan-build (in $dir)"
if [ "$mode" != --compare ]; then
	[ -x "$top/configure" ] || "$top/bootstrap"
	mkdir -p "$dir"
	rm -rf "$dir/reports"
	(
		cd "$dir"
		[ -f Makefile ] || scan-build --use-cc=clang "$top/configure" \
		    -q --disable-werror >/dev/null
		make -s clean >/dev/null 2>&1 || true
		scan-build --use-cc=clang -plist -o "$dir/reports" \
		    make -s -j"${LINT_JOBS:-2}" >"$dir/scan-build.log" 2>&1
	) || { tail -n 30 "$dir/scan-build.log" >&2; exit 1; }
fi
python3 - "$top" "$dir" "$baseline" "$mode" <<'PY' || status=1
import collections, glob, os, plistlib, sys

top, build, baseline, mode = sys.argv[1:5]
reports = os.path.join(build, 'reports')
found = collections.Counter()
where = {}
for p in glob.glob(os.path.join(reports, '*', '*.plist')):
    with open(p, 'rb') as f:
        d = plistlib.load(f)
    for g in d.get('diagnostics', []):
        loc = g['location']
        path = os.path.relpath(os.path.realpath(
            os.path.join(build, d['files'][loc['file']])), top)
        key = '|'.join((path, g.get('issue_context', ''),
                        g.get('check_name', g.get('type', '')),
                        g['description']))
        if (key, loc['line']) in where.get(key, set()):
            continue            # the same report from two objects
        where.setdefault(key, set()).add((key, loc['line']))
        found[key] += 1
known = collections.Counter()
verdict = {}
if os.path.exists(baseline):
    for line in open(baseline):
        if not line.strip() or line.startswith('#'):
            continue
        key, _, why = line.rstrip('\n').partition('  # ')
        known[key] += 1
        verdict[key] = why
if mode == '--update':
    with open(baseline, 'w') as f:
        f.write('# scan-build reports reviewed and kept (scripts/lint.sh):\n'
                '# file|function|checker|message  # verdict\n')
        for key in sorted(found):
            for _ in range(found[key]):
                f.write('%s  # %s\n' % (key, verdict.get(key, 'UNREVIEWED')))
    print('lint.sh: %d reports written to %s' % (sum(found.values()), baseline))
    sys.exit(0)
new = found - known
gone = known - found
for key in sorted(gone):
    print('lint.sh: fixed (drop it from the baseline): %s' % key)
for key in sorted(new):
    lines = sorted(l for _, l in where[key])
    print('lint.sh: NEW scan-build report: %s (line %s)' %
          (key, ', '.join(map(str, lines))))
print('lint.sh: scan-build: %d reports, %d in the baseline, %d new'
      % (sum(found.values()), sum(known.values()), sum(new.values())))
sys.exit(1 if new else 0)
PY
[ $status -eq 0 ] && echo "lint.sh: clean" || echo "lint.sh: FAILED" >&2
exit $status
