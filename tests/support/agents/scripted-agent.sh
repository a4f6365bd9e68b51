#!/bin/sh
# A scripted "agent" for activity tests and benchmarks: it works (prints),
# goes quiet, then asks a y/n question and waits for the answer, like an AI
# coding agent asking for permission.
#
# Usage: scripted-agent.sh [WORK_SECONDS [QUIET_SECONDS [ROUNDS]]]
#   WORK_SECONDS   how long to print, one "working: step N" line every 0.1 s
#                  (default 2; fractions allowed, e.g. 1.5)
#   QUIET_SECONDS  how long to print nothing afterwards (default 3)
#   ROUNDS         how many times to work, go quiet and ask (default 1)
#
# Each round ends by printing `Proceed? [y/N] ` (no newline) and reading one
# line from the terminal; it then prints "answered: <line>". After the last
# round it prints "done" and exits 0 (so its pane dies). Only POSIX sh,
# `sleep` with fractions (coreutils, busybox) and awk are needed.

work=${1:-2}
quiet=${2:-3}
rounds=${3:-1}

# Number of 0.1 s steps in $work seconds.
steps=$(awk -v s="$work" 'BEGIN { n = int(s * 10 + 0.5); if (n < 1) n = 1; print n }')

round=1
while [ "$round" -le "$rounds" ]; do
    step=1
    while [ "$step" -le "$steps" ]; do
        echo "working: round $round step $step"
        sleep 0.1
        step=$((step + 1))
    done
    sleep "$quiet"
    printf 'Proceed? [y/N] '
    IFS= read -r answer || answer=
    echo "answered: $answer"
    round=$((round + 1))
done
echo done
