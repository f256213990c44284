#!/usr/bin/env python3
"""Runs every case of the given corpus .test files through `klipsharp batch` twice,
with step generation waiting each round on one thread and queued behind the G-code on
a helper thread, and checks that the output files are byte for byte the same.

    cd ../shared/golden && python3 $OLDPWD/scripts/queued-stepgen-check.py test/klippy/*.test slicer/slicer-box.test
"""
import filecmp, importlib.util, os, shutil, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = os.path.join(HERE, "..", "klipsharp")
TOOLS = os.path.join(HERE, "..", "..", "shared", "tools", "conformance.py")
MODES = (("waiting", {"KLIPSHARP_QUEUED_STEPGEN": "0", "KLIPSHARP_STEPGEN_THREADS": "1"}),
         ("queued", {"KLIPSHARP_STEPGEN_THREADS": "2"}))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    spec = importlib.util.spec_from_file_location("conformance", TOOLS)
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    corpus = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(TOOLS))), "golden")
    same = differ = failing = 0
    for cf in map(os.path.abspath, sys.argv[1:]):
        for idx, (config, dicts, gcode_file, gcode, should_fail) in enumerate(conf.parse_case_file(cf)):
            base = os.path.dirname(cf)
            tmp = tempfile.mkdtemp(prefix="queued")
            try:
                gfile = os.path.normpath(os.path.join(base, gcode_file)) if gcode_file else os.path.join(tmp, "in.gcode")
                if not gcode_file:
                    with open(gfile, "w") as f:
                        f.write("\n".join(gcode + [""]))
                results = []
                for mode, env in MODES:
                    args = [HOST, "batch", os.path.normpath(os.path.join(base, config)), "-i", gfile,
                            "-o", os.path.join(tmp, mode), "-d", os.path.join(corpus, "dict", dicts[0])]
                    for extra in dicts[1:]:
                        name, fn = extra.split("=", 1)
                        args += ["-d", "%s=%s" % (name.strip(), os.path.join(corpus, "dict", fn.strip()))]
                    r = subprocess.run(args, capture_output=True, env=dict(os.environ, **env))
                    outs = sorted(f[len(mode):] for f in os.listdir(tmp) if f.startswith(mode))
                    results.append((r.returncode, outs))
                ok = results[0] == results[1] and all(
                    filecmp.cmp(os.path.join(tmp, MODES[0][0] + o), os.path.join(tmp, MODES[1][0] + o), shallow=False)
                    for o in results[0][1])
                name = "%s/%02d" % (os.path.splitext(os.path.basename(cf))[0], idx)
                if results[0][0] != 0 and not should_fail:
                    failing += 1
                    print("FAILS %s: exit %d" % (name, results[0][0]), flush=True)
                if ok:
                    same += 1
                else:
                    differ += 1
                    print("DIFFER %s: %s" % (name, results), flush=True)
            finally:
                shutil.rmtree(tmp)
    print("%d same, %d differ, %d exit non-zero without being expected to" % (same, differ, failing))
    return 1 if differ or failing else 0


if __name__ == "__main__":
    sys.exit(main())
