#!/usr/bin/env bash
# Runs run.sh one round at a time, only when the machine is quiet: the two
# CPUs at least MINIDLE percent idle over the two seconds before (other
# engineers compile on the same machine). Stops at the UTC time UNTIL.
#   bash docs/measurements/cpu-2026-12-06b/watch.sh OUTFILE UNTIL [MINIDLE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1; until=$2; minidle=${3:-75}
idle() { # percent idle over 2 s from /proc/stat
  read -r _ u n s i w x y z _ < /proc/stat; t0=$((u+n+s+i+w+x+y+z)); i0=$i
  sleep 2
  read -r _ u n s i w x y z _ < /proc/stat; t1=$((u+n+s+i+w+x+y+z))
  echo $(( 100 * (i - i0) / (t1 - t0) ))
}
while [ "$(date -u +%H:%M)" \< "$until" ]; do
  p=$(idle)
  if [ "$p" -ge "$minidle" ]; then
    echo "-- idle ${p}% before this round" >> "$out"
    bash "$here/run.sh" 1 "$out"
  else
    sleep 5
  fi
done
