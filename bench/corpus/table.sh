#!/bin/sh
# The table of `make corpus`: LIBBPF and RAWBPF are the two loaders'
# outputs (NAME<TAB>ok, or NAME<TAB>first error line), one line per
# object in the same order. Objects that did not compile are in
# not-compiled beside them.
set -eu
libbpf=$1 rawbpf=$2
notc=$(dirname "$libbpf")/not-compiled
paste "$libbpf" "$rawbpf" | awk -F '\t' -v notc="$( [ -e "$notc" ] && wc -l < "$notc" || echo 0)" '
$1 != $3 { print "corpus: the two outputs disagree on the order: " $1 " " $3 > "/dev/stderr"; exit 1 }
{
	l = ($2 == "ok"); r = ($4 == "ok")
	if (l && r) both++
	else if (l) { onlyl++; ol[onlyl] = "| " $1 " | " $4 " |" }
	else if (r) { onlyr++; or[onlyr] = "| " $1 " | " $2 " |" }
	else neither++
}
END {
	print "| objects (selftests progs of linux-source-6.12) | count |"
	print "|---|---|"
	print "| loaded by both | " both+0 " |"
	print "| loaded only by libbpf 1.5 | " onlyl+0 " |"
	print "| loaded only by rawbpf | " onlyr+0 " |"
	print "| loaded by neither | " neither+0 " |"
	print "| did not compile (clang 19, this kernel'\''s vmlinux.h) | " notc " |"
	if (onlyl) {
		print ""
		print "Loaded only by libbpf (rawbpf'\''s first error line):"
		print ""
		print "| object | rawbpf |"
		print "|---|---|"
		for (i = 1; i <= onlyl; i++) print ol[i]
	}
	if (onlyr) {
		print ""
		print "Loaded only by rawbpf (libbpf'\''s first warning):"
		print ""
		print "| object | libbpf |"
		print "|---|---|"
		for (i = 1; i <= onlyr; i++) print or[i]
	}
}'
