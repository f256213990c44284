#!/usr/bin/env bash
# Runs Klipsharp against upstream Klipper's own Linux-process MCU and checks the link:
# the host reaches ready, keeps its clock sync, answers G-code on its pseudo-terminal,
# and comes back after FIRMWARE_RESTART (the MCU process re-executes) and RESTART.
#
#   scripts/linux-mcu-check.sh [--secondary] KLIPPER_CHECKOUT [SECONDS]
#
# KLIPPER_CHECKOUT  an upstream Klipper source tree; its linuxprocess firmware is built
#                   in a temporary directory (the checkout is not modified)
# SECONDS           how long to watch the clock sync before the restarts (default 300)
# --secondary       use the Linux MCU as a second MCU ([mcu host]) beside the built-in
#                   simulated atmega2560 of config/sim-cartesian.cfg, as a Raspberry Pi
#                   host MCU is used, instead of config/linux-mcu.cfg alone
#
# Environment: KLIPSHARP (the program, default ./klipsharp of this repository),
# FREQ_PPM (allowed clock estimate error after warm-up, default 500),
# AFTER_RESTART (seconds watched after each restart, default 30), RESTARTS (how many
# FIRMWARE_RESTART + RESTART cycles, default 1), KEEP_TMP=1 (keep
# the temporary directory with the firmware, config, logs and terminal transcript).
# Exit status 0 when every check passed.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secondary=0
if [ "${1:-}" = "--secondary" ]; then
  secondary=1
  shift
fi
if [ $# -lt 1 ] || [ ! -f "$1/src/linux/main.c" ]; then
  echo "usage: $0 [--secondary] KLIPPER_CHECKOUT [SECONDS]" >&2
  exit 2
fi
upstream="$(cd "$1" && pwd)"
duration="${2:-300}"
klipsharp="${KLIPSHARP:-$repo/klipsharp}"
freq_ppm="${FREQ_PPM:-500}"
after_restart="${AFTER_RESTART:-30}"
restarts="${RESTARTS:-1}"

tmp="$(mktemp -d /tmp/linux-mcu-check.XXXXXX)"
mcu_pty="/tmp/klipper_host_check_$$"
printer_pty="$tmp/printer"
log="$tmp/klipsharp.log"
tty_out="$tmp/terminal.txt"
fw_pid="" host_pid="" reader_pid=""
failures=0

say() { echo "[$(date +%H:%M:%S)] $*"; }
fail() { say "FAIL: $*"; failures=$((failures + 1)); }

cleanup() {
  [ -n "$reader_pid" ] && kill "$reader_pid" 2>/dev/null
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
  [ -n "$fw_pid" ] && kill "$fw_pid" 2>/dev/null && wait "$fw_pid" 2>/dev/null
  rm -f "$mcu_pty"
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Build the Linux-process MCU outside the checkout
say "building the linuxprocess firmware of $upstream in $tmp/fw"
mkdir -p "$tmp/fw"
tar -C "$upstream" --exclude=./.git --exclude=./out --exclude=./.config -cf - . | tar -C "$tmp/fw" -xf -
cp "$tmp/fw/test/configs/linuxprocess.config" "$tmp/fw/.config"
if ! make -C "$tmp/fw" olddefconfig >"$tmp/build.log" 2>&1 || ! make -C "$tmp/fw" >>"$tmp/build.log" 2>&1; then
  tail -20 "$tmp/build.log" >&2
  echo "firmware build failed (see $tmp/build.log)" >&2
  KEEP_TMP=1
  exit 1
fi

# ---- The printer config
cfg="$tmp/printer.cfg"
if [ "$secondary" = 1 ]; then
  cp "$repo/config/sim-cartesian.json" "$tmp/"
  sed "s#^path: config#path: $tmp#" "$repo/config/sim-cartesian.cfg" >"$cfg"
  printf '\n[mcu host]\nserial: %s\n' "$mcu_pty" >>"$cfg"
  linux_mcu="host"
else
  sed "s#^serial: /tmp/klipper_host_mcu#serial: $mcu_pty#" "$repo/config/linux-mcu.cfg" >"$cfg"
  linux_mcu="mcu"
fi

# ---- Start the MCU process and the host
"$tmp/fw/out/klipper.elf" -I "$mcu_pty" >"$tmp/firmware.out" 2>&1 &
fw_pid=$!
for _ in $(seq 50); do [ -e "$mcu_pty" ] && break; sleep 0.1; done
[ -e "$mcu_pty" ] || { echo "the firmware did not create $mcu_pty" >&2; exit 1; }
say "firmware pid $fw_pid on $mcu_pty -> $(readlink "$mcu_pty")"

"$klipsharp" run "$cfg" -I "$printer_pty" -l "$log" -v >"$tmp/klipsharp.out" 2>&1 &
host_pid=$!
say "klipsharp pid $host_pid: $klipsharp run $cfg -I $printer_pty -l $log -v"
# The first start may build the program
for _ in $(seq 600); do [ -e "$printer_pty" ] && break; kill -0 "$host_pid" 2>/dev/null || break; sleep 1; done
if [ ! -e "$printer_pty" ]; then
  cat "$tmp/klipsharp.out" >&2
  echo "klipsharp did not open $printer_pty" >&2
  KEEP_TMP=1
  exit 1
fi
# A terminal on the G-code pseudo-terminal (it outlives printer restarts)
exec 3<>"$printer_pty"
stty raw -echo <&3
: >"$tty_out"
cat <&3 >>"$tty_out" &
reader_pid=$!

count() { grep -c -- "$1" "$log" 2>/dev/null || true; }
alive() {
  kill -0 "$host_pid" 2>/dev/null || { fail "klipsharp exited"; tail -20 "$log"; exit 1; }
  kill -0 "$fw_pid" 2>/dev/null || { fail "the firmware process exited"; exit 1; }
}

# Sends one line and waits (up to $2 seconds) for a reply containing $3; the reply text goes to $reply
send() {
  local mark
  mark=$(wc -c <"$tty_out")
  printf '%s\n' "$1" >&3
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    sleep 0.2
    reply="$(tail -c +$((mark + 1)) "$tty_out")"
    case "$reply" in *"$3"*) return 0 ;; esac
  done
  return 1
}

# Waits until the log shows $1 "Configured MCU" lines for the Linux MCU and STATUS says Ready
wait_ready() {
  local want=$1 deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    alive
    if [ "$(count "^Configured MCU '$linux_mcu'")" -ge "$want" ] && send STATUS 5 "Klipper state:"; then
      case "$reply" in *"Klipper state: Ready"*) return 0 ;; esac
    fi
    sleep 1
  done
  return 1
}

# Watches for $1 seconds: STATUS answers Ready, a dwell keeps the stats lines coming
watch() {
  local end=$((SECONDS + $1)) next_status=0
  while [ $SECONDS -lt $end ]; do
    alive
    if [ $SECONDS -ge $next_status ]; then
      send STATUS 10 "Klipper state:" || fail "no answer to STATUS"
      case "$reply" in *"Klipper state: Ready"*) ;; *) fail "not ready: $reply" ;; esac
      send "G4 P100" 10 "ok" || fail "no answer to G4"
      next_status=$((SECONDS + 15))
    fi
    sleep 1
  done
}

errors_pattern="Lost communication|Timer too close|Timeout with MCU|Transition to shutdown|Unhandled exception|Internal error|Rescheduled timer in the past|Missed scheduling|Stepper too far in past"

check_log_clean() {
  if grep -E -q "$errors_pattern" "$log"; then
    fail "errors in the log:"
    grep -E "$errors_pattern" "$log" | head -5
  fi
}

# ---- 1. Ready, then clock sync for $duration seconds
start=$SECONDS
if wait_ready 1 600; then
  say "ready after $((SECONDS - start)) s"
else
  fail "not ready after $((SECONDS - start)) s"
  tail -30 "$log"
  exit 1
fi
send M115 10 "FIRMWARE_NAME" || fail "no answer to M115"
say "watching the clock sync for $duration s"
watch "$duration"
check_log_clean

for cycle in $(seq "$restarts"); do
  # ---- 2. FIRMWARE_RESTART: emergency_stop, config_reset, the MCU process re-executes
  configured=$(count "^Configured MCU '$linux_mcu'")
  sending=$(count "^Sending MCU '$linux_mcu' printer configuration")
  resets=$(count "Attempting MCU '$linux_mcu' config_reset command")
  pty_before=$(readlink "$mcu_pty")
  say "FIRMWARE_RESTART ($cycle/$restarts)"
  printf 'FIRMWARE_RESTART\n' >&3
  if wait_ready $((configured + 1)) 120; then
    say "ready again after FIRMWARE_RESTART (MCU pty $pty_before -> $(readlink "$mcu_pty"))"
  else
    fail "not ready after FIRMWARE_RESTART"
  fi
  [ "$(count "Attempting MCU '$linux_mcu' config_reset command")" -eq $((resets + 1)) ] || fail "no config_reset was sent"
  [ "$(count "^Sending MCU '$linux_mcu' printer configuration")" -eq $((sending + 1)) ] \
    || fail "the restarted MCU was not configured again"
  watch "$after_restart"
  check_log_clean

  # ---- 3. RESTART: a new printer on the same, still configured, MCU
  configured=$(count "^Configured MCU '$linux_mcu'")
  sending=$(count "^Sending MCU '$linux_mcu' printer configuration")
  say "RESTART ($cycle/$restarts)"
  printf 'RESTART\n' >&3
  if wait_ready $((configured + 1)) 120; then
    say "ready again after RESTART"
  else
    fail "not ready after RESTART"
  fi
  [ "$(count "^Sending MCU '$linux_mcu' printer configuration")" -eq "$sending" ] \
    || fail "RESTART sent the MCU config again (the CRC should have matched)"
  watch "$after_restart"
  check_log_clean
  [ $failures -eq 0 ] || break
done

# ---- Clock sync summary: the Linux MCU's frequency estimate in every stats line after
# the first 30 s of each printer (each printer's clock starts at 0)
clock_freq=$(grep -m1 -o "^MCU '$linux_mcu' config: .*" "$log" | grep -o 'CLOCK_FREQ=[0-9]*' | cut -d= -f2)
summary=$(awk -v name="$linux_mcu" -v f0="$clock_freq" -v ppm="$freq_ppm" '
  function off(v) { v = (v - f0) / f0 * 1e6; return v < 0 ? -v : v }
  /^Stats / {
    t = $2; sub(":", "", t)
    if (t + 0 < 30) next
    i = index($0, " " name ": ")
    if (i == 0) next
    # The fields of this MCU end where the next "object: " starts
    sect = substr($0, i + length(name) + 3)
    j = index(sect, ": "); if (j > 0) sect = substr(sect, 1, j)
    if (match(sect, / freq=[0-9]+/) == 0) next
    f = substr(sect, RSTART + 6, RLENGTH - 6) + 0
    n++; if (n == 1 || f < lo) lo = f; if (n == 1 || f > hi) hi = f
    if (off(f) > ppm) bad++
    # A secondary MCU: the frequency that maps the main MCU print time onto its clock
    if (match(sect, / adj=[0-9]+/) == 0) next
    a = substr(sect, RSTART + 5, RLENGTH - 5) + 0
    na++; if (na == 1 || a < alo) alo = a; if (na == 1 || a > ahi) ahi = a
    if (off(a) > ppm) bad++
  }
  END { printf "%d %d %d %d %d %d %d\n", n, lo, hi, bad, na, alo, ahi }' "$log")
read -r samples lo hi bad adj_samples adj_lo adj_hi <<<"$summary"
say "clock: $samples stats samples after warm-up, freq estimate $lo..$hi (CLOCK_FREQ $clock_freq), $bad beyond $freq_ppm ppm"
[ "${adj_samples:-0}" -gt 0 ] && say "secondary sync: adjusted frequency $adj_lo..$adj_hi"
say "clock sync: $(count 'Ignoring clock sample') samples ignored, $(count 'Resetting prediction variance') prediction resets (host load)"
# (a watch shorter than the warm-up has none)
[ "${samples:-0}" -gt 0 ] || [ "$duration" -lt 45 ] || fail "no stats lines with the clock estimate"
[ "${bad:-0}" -eq 0 ] || fail "clock estimate off by more than $freq_ppm ppm"

if [ $failures -eq 0 ]; then
  say "PASS ($((SECONDS - start)) s, log $log)"
  exit 0
fi
say "$failures check(s) failed"
KEEP_TMP=1
exit 1
