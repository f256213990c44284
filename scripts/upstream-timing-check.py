#!/usr/bin/env python3
"""Show whether a corpus case's reference depends on how fast upstream's host runs.

In batch mode upstream's reactor still runs on the wall clock: timers (a controller
fan's first check 0.1 s after start, display refreshes, driver polling) fire or not
depending on how long upstream takes to get through the G-code, and the file output
is cut where the process exits. This runs upstream klippy on one case of the corpus
as it is, and again with its reactor clock running SCALE times slower (what a host
SCALE times faster would see), and Klipsharp once. For each run it prints the
checker's verdict against the recorded reference and whether the run's messages
equal Klipsharp's, object by object.

usage: upstream-timing-check.py --upstream KLIPPY_DIR [--python PY] [--scale N]...
           [--host CMD] [--runs N] CASEFILE INDEX

KLIPPY_DIR is upstream's klippy/ folder (a copy is patched; it is left unchanged).
CASEFILE is relative to the corpus root (e.g. test/klippy/printers.test), INDEX the
case's number in it (as in the checker's case names).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "shared"))
sys.path.insert(0, os.path.join(SHARED, "tools"))
import conformance  # noqa: E402

CLOCK_LINE = "        self.monotonic = chelper.get_ffi()[1].get_monotonic\n"
SCALED_CLOCK = (
    "        _wall = chelper.get_ffi()[1].get_monotonic\n"
    "        _scale = float(os.environ.get('KLIPPY_CLOCK_SCALE', '1'))\n"
    "        _t0 = _wall()\n"
    "        self.monotonic = lambda: _t0 + (_wall() - _t0) / _scale\n")


def scaled_copy(klippy_dir, into):
    """A copy of upstream's klippy whose reactor clock is divided by KLIPPY_CLOCK_SCALE."""
    dest = os.path.join(into, "klippy")
    shutil.copytree(klippy_dir, dest, ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    path = os.path.join(dest, "reactor.py")
    with open(path) as f:
        text = f.read()
    if CLOCK_LINE not in text:
        sys.exit("%s: the reactor's clock line was not found; this script knows another upstream version" % path)
    with open(path, "w") as f:
        f.write(text.replace(CLOCK_LINE, SCALED_CLOCK, 1))
    return dest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="upstream's klippy/ folder")
    ap.add_argument("--python", default=sys.executable, help="python for upstream (needs its modules)")
    ap.add_argument("--scale", type=float, action="append", help="clock slow-downs to try (default 5 and 20)")
    ap.add_argument("--host", default=os.path.join(HERE, "..", "klipsharp") + " batch")
    ap.add_argument("--runs", type=int, default=2, help="upstream runs at normal speed")
    ap.add_argument("casefile")
    ap.add_argument("index", type=int)
    args = ap.parse_args()
    corpus = os.path.join(SHARED, "golden")
    casefile = os.path.join(corpus, args.casefile)
    cases = conformance.parse_case_file(casefile)
    config, dicts, gcode_file, gcode, should_fail = cases[args.index]
    base = os.path.dirname(casefile)
    cfg = os.path.normpath(os.path.join(base, config))
    stem = os.path.splitext(os.path.basename(casefile))[0]
    name = "%s/%02d-%s" % (stem, args.index, os.path.splitext(os.path.basename(cfg))[0])
    tmp = tempfile.mkdtemp(prefix="timing")
    try:
        if gcode_file:
            gfile = os.path.normpath(os.path.join(base, gcode_file))
        else:
            gfile = os.path.join(tmp, "case.gcode")
            with open(gfile, "w") as f:
                f.write("\n".join(gcode + [""]))
        dic = conformance.Dictionary(os.path.join(corpus, "dict", dicts[0]))
        expected = conformance.read_text(os.path.join(corpus, "expected", name, "mcu.txt.gz"))
        klippy = scaled_copy(os.path.abspath(args.upstream), tmp)

        def run(cmd, out, env=None):
            r = subprocess.run(cmd + [cfg, "-i", gfile, "-o", out, "-d", os.path.join(corpus, "dict", dicts[0])],
                               capture_output=True, text=True, cwd=corpus, env=env)
            if r.returncode != 0 or not os.path.exists(out):
                return None
            with open(out, "rb") as f:
                return conformance.decode(dic, f.read())

        ours = run(args.host.split(), os.path.join(tmp, "klipsharp.serial"))
        if ours is None:
            sys.exit("Klipsharp failed on %s" % name)
        runs = [("upstream run %d" % (i + 1), None) for i in range(args.runs)]
        runs += [("upstream, clock %gx slower" % s, s) for s in (args.scale or [5.0, 20.0])]
        print(name)
        for label, scale in runs + [("Klipsharp", "ours")]:
            if scale == "ours":
                got = ours
            else:
                env = dict(os.environ, KLIPPY_CLOCK_SCALE=str(scale or 1))
                got = run([args.python, os.path.join(klippy, "klippy.py")], os.path.join(tmp, "u.serial"), env)
            if got is None:
                print("  %-28s failed" % label)
                continue
            _, vs_ref = conformance.compare_streams(expected, got, None, 0.000050 * dic.clock_freq)
            _, vs_ours = conformance.compare_streams(got, ours)
            print("  %-28s reference: %s" % (label, "passes" if vs_ref is None else vs_ref))
            if scale != "ours":
                print("  %-28s Klipsharp: %s" % ("", "same messages" if vs_ours is None else vs_ours))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
