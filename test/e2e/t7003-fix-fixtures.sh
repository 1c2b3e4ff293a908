#!/bin/sh
# txguard fix over every analyzer fixture and shared example with a TX001
# mark, one test per case, generated from the fixture set: each case is
# committed to a fresh repository (with its group's or its own
# txguard.cfg as .txguard), fixed with and without --unsafe, and then
#  - every file Python could compile before still compiles,
#  - the edit only removed lines, adding at most `pass` lines,
#  - a scan of the fixed tree finds what it found before less the
#    findings fix says it removed: nothing new, nothing left at a fixed
#    site (test/fix/findings_after.py).
. "$(dirname "$0")/lib.sh"

CHECK=$TOP/test/fix/findings_after.py

# cases: one line per case, "DIR NAME" (a directory case, copied whole)
# or "FILE NAME" (a single module), for those with a TX001 mark
cases() {
	for g in "$FIXTURES"/*/; do
		g=${g%/}
		for c in "$g"/*.py "$g"/*/; do
			c=${c%/}
			[ -e "$c" ] || continue
			[ "$(basename "$c")" = units ] && continue
			grep -rlq "# expect:.*TX001" "$c" 2>/dev/null || continue
			echo "$c"
		done
	done
}

# config CASE: the nearest txguard.cfg (the case directory, then its group)
config() {
	if [ -d "$1" ] && [ -f "$1/txguard.cfg" ]; then
		echo "$1/txguard.cfg"
	elif [ -f "$(dirname "$1")/txguard.cfg" ]; then
		echo "$(dirname "$1")/txguard.cfg"
	fi
}

# only_removed ORIG FIXED: the fixed file is the original with lines
# removed and possibly `pass` lines added
only_removed() {
	diff "$1" "$2" >d
	grep "^>" d | grep -v "^> *pass\$" >added
	test ! -s added || { cat added; return 1; }
}

# compiles FILE: Python compiles the file (bytes, any encoding it declares)
compiles() {
	python3 -c 'import sys; compile(open(sys.argv[1], "rb").read(), sys.argv[1], "exec")' "$1" 2>/dev/null
}

fix_case() { # CASE MODE ("" or --unsafe)
	name=$(echo "${1#"$FIXTURES"/}" | tr / _)$2
	rm -rf "$name" && test_create_repo "$name" && (
		cd "$name" &&
		printf "*.orig\n*.json\nfix.log\nd\nadded\nfiles\n" >>.git/info/exclude &&
		if [ -d "$1" ]; then cp -R "$1"/. .; else cp "$1" .; fi &&
		rm -f txguard.cfg pending implemented &&
		cfg=$(config "$1") &&
		{ [ -z "$cfg" ] || cp "$cfg" .txguard; } &&
		git add -A && git commit -q --no-verify -m case &&
		{ txguard scan --format json >before.json; test $? -lt 2; } &&
		git ls-files "*.py" >files &&
		while read -r f; do
			cp "$f" "$f.orig" || return 1
		done <files &&
		{ txguard fix $2 >fix.log 2>&1; test $? -lt 2; } &&
		cat fix.log &&
		while read -r f; do
			cmp -s "$f" "$f.orig" && continue
			only_removed "$f.orig" "$f" || return 1
			if compiles "$f.orig"; then
				compiles "$f" || { echo "$f no longer compiles"; return 1; }
			fi
		done <files &&
		git commit -q --no-verify --allow-empty -am fixed &&
		{ txguard scan --format json >after.json; test $? -lt 2; } &&
		python3 "$CHECK" before.json after.json fix.log
	)
}

ncases=0
fixed=0
for c in $(cases); do
	ncases=$((ncases + 1))
	for mode in "" --unsafe; do
		test_expect_success "fix${mode:+ $mode}: ${c#"$FIXTURES"/}" "
			fix_case '$c' '$mode'
		"
	done
	grep -qs " removed " "$(echo "${c#"$FIXTURES"/}" | tr / _)/fix.log" &&
		fixed=$((fixed + 1))
done

test_expect_success 'the fixture set has TX001 cases, and fix removes some' '
	test "$ncases" -gt 20 &&
	test "$fixed" -gt 5
'

test_done
