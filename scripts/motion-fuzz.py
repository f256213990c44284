#!/usr/bin/env python3
"""Differential motion fuzzer: upstream klippy versus Klipsharp in batch mode.

Generates seeded random printer configs (every kinematics) and random G-code
(moves, arcs, speed/accel changes, pressure advance, input shaper, ...), runs both
hosts on them and compares the MCU command streams the way the conformance
checker does (per-oid sequences plus the non-oid sequence, step times within
50 us).  Each case is reproducible from (kinematics, seed).

usage:
  motion-fuzz.py --upstream /tmp/upk-d [--host "./klipsharp batch"]
                 [--kin cartesian,delta,...|all] [--seeds 0-99] [--moves 150]
                 [--style random|slicer|mixed] [--xform] [--out DIR] [--minimize] [-v]
  motion-fuzz.py --upstream /tmp/upk-d --replay DIR   # rerun a saved case

--dict picks the MCU (default atmega2560); for other MCUs the configs use that
dictionary's pin names, and the step tolerance follows its clock.
--upstream is a writable copy of upstream's klippy/ directory (its chelper
compiles itself there on first use).  Failing cases are saved under --out
(default /tmp/motion-fuzz/<kin>-<seed>/: printer.cfg, test.gcode, both decoded
streams).  With --minimize the G-code of a failing case is reduced by delta
debugging (the config is kept) and saved as min.gcode.  --xform adds G-code move
transforms (bed_mesh with stored profiles or bed_tilt, skew_correction) and
their commands; it draws from a separate random stream (cases <kin>-<seed>-xform).
"""
import argparse, importlib.util, json, math, os, random, shlex, shutil, subprocess
import sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEFAULT_TOOLS = os.path.normpath(os.path.join(REPO, "..", "shared", "tools",
                                              "conformance.py"))
DEFAULT_DICT = os.path.normpath(os.path.join(REPO, "..", "shared", "golden",
                                             "dict", "atmega2560.dict"))

KINEMATICS = ["cartesian", "corexy", "corexz", "hybrid_corexy", "hybrid_corexz",
              "delta", "deltesian", "rotary_delta", "polar", "winch",
              "generic_cartesian", "dual_carriage", "generic_dual"]
SHAPERS = ["zv", "mzv", "zvd", "ei", "2hump_ei", "3hump_ei"]


def load_conformance(path):
    spec = importlib.util.spec_from_file_location("conformance", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fmt(v, digits=3):
    s = "%.*f" % (digits, v)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    if s in ("-0", ""):
        s = "0"
    return s

# ---------------------------------------------------------------- pins


class Pins:
    """Hands out distinct pins: atmega2560's (ADC pins kept for thermistors), or, given
    the names of another MCU's pins, those (batch mode checks no pin's abilities)."""
    def __init__(self, rnd, names=None):
        if names is not None:
            self.free = list(names)
            rnd.shuffle(self.free)
            self.adc = [self.free.pop() for _ in range(8)]
            return
        ports = {"A": 8, "B": 8, "C": 8, "D": 8, "E": 8, "G": 6, "H": 8,
                 "J": 8, "L": 8}
        self.free = ["P%s%d" % (p, i) for p, n in ports.items() for i in range(n)
                     if "P%s%d" % (p, i) not in ("PE0", "PE1", "PB1", "PB2", "PB3",
                                                 "PD0", "PD1")]
        rnd.shuffle(self.free)
        self.adc = ["PK%d" % i for i in range(8)] + ["PF%d" % i for i in range(8)]
        rnd.shuffle(self.adc)

    def pin(self):
        if not self.free:
            sys.exit("motion-fuzz: the MCU has too few pins for this generated printer "
                     "(pick a --dict with more)")
        return self.free.pop()

    def adc_pin(self):
        return self.adc.pop()


def mcu_pin_names(dict_path):
    """The pin names of a non-AVR data dictionary (None for AVR: the atmega2560 set),
    without the pins its build reserves (USB, crystal)."""
    data = json.load(open(dict_path))
    config = data.get("config", {})
    if str(config.get("MCU", "")).startswith(("atmega", "at90usb")):
        return None
    reserved = set()
    for key, val in config.items():
        if key.startswith("RESERVE_PINS_"):
            reserved.update(str(val).split(","))
    names = []
    for key, val in sorted(data.get("enumerations", {}).get("pin", {}).items()):
        if not isinstance(val, list):
            continue
        root = key.rstrip("0123456789")
        start = int(key[len(root):]) if root != key else 0
        names += ["%s%d" % (root, start + i) for i in range(val[1])]
    return [n for n in names if n not in reserved]

# ---------------------------------------------------------------- regions


class Box:
    def __init__(self, lo, hi, margin=0.01):
        self.lo = [v + margin for v in lo]
        self.hi = [v - margin for v in hi]

    def sample(self, rnd, shrink=0.):
        return [rnd.uniform(l + shrink * (h - l) / 2, h - shrink * (h - l) / 2)
                for l, h in zip(self.lo, self.hi)]

    def inside(self, p, margin=1e-6):
        return all(l - margin <= v <= h + margin
                   for v, l, h in zip(p, self.lo, self.hi))

    def circle_inside(self, c, r, plane):
        a, b = plane
        return (c[a] - r >= self.lo[a] and c[a] + r <= self.hi[a]
                and c[b] - r >= self.lo[b] and c[b] + r <= self.hi[b])

    def span(self):
        return min(h - l for l, h in zip(self.lo[:2], self.hi[:2]))


class Cylinder:
    """|xy| <= radius (around cx, cy), zlo <= z <= zhi."""
    def __init__(self, radius, zlo, zhi, cx=0., cy=0.):
        self.r, self.zlo, self.zhi, self.cx, self.cy = radius, zlo, zhi, cx, cy

    def sample(self, rnd, shrink=0.):
        r = self.r * (1. - shrink) * math.sqrt(rnd.random())
        a = rnd.uniform(0, 2 * math.pi)
        dz = (self.zhi - self.zlo) * shrink / 2
        return [self.cx + r * math.cos(a), self.cy + r * math.sin(a),
                rnd.uniform(self.zlo + dz, self.zhi - dz)]

    def inside(self, p, margin=1e-6):
        return (math.hypot(p[0] - self.cx, p[1] - self.cy) <= self.r + margin
                and self.zlo - margin <= p[2] <= self.zhi + margin)

    def circle_inside(self, c, r, plane):
        if plane == (0, 1):
            return math.hypot(c[0] - self.cx, c[1] - self.cy) + r <= self.r
        # vertical circle: check a bounding box of it
        a, b = plane
        corners = []
        for da in (-r, r):
            for db in (-r, r):
                p = list(c)
                p[a] += da
                p[b] += db
                corners.append(p)
        return all(self.inside(p, 0.) for p in corners)

    def span(self):
        return self.r

# ---------------------------------------------------------------- configs


class Config:
    def __init__(self, rnd, kin, pin_names=None):
        self.rnd = rnd
        self.kin = kin
        self.pins = Pins(rnd, pin_names)
        self.sections = []
        self.region = None
        self.home_cmd = "G28"
        self.extruders = []
        self.extruder_steppers = []
        self.has_arcs = False
        self.has_retraction = False
        self.has_shaper = False
        self.has_exclude = False
        self.dual = None          # (axis, [region0, region1])
        self.max_velocity = 0.
        self.max_accel = 0.
        self.z_allowed = True
        self.max_ratio = {}
        self.manual = False
        self.cart_like = False
        self.stepper_names = []

    def add(self, name, opts):
        self.sections.append((name, opts))

    def text(self):
        out = []
        for name, opts in self.sections:
            out.append("[%s]" % name)
            for k, v in opts:
                out.append("%s: %s" % (k, v))
            out.append("")
        return "\n".join(out)

    # -- building blocks
    def motor(self, rotary=False, linear_scale=1.):
        rnd = self.rnd
        p = self.pins
        opts = [("step_pin", p.pin()), ("dir_pin", rnd.choice(["", "!"]) + p.pin())]
        if rnd.random() < 0.8:
            opts.append(("enable_pin", "!" + p.pin()))
        opts.append(("microsteps", rnd.choice([1, 2, 4, 8, 16, 16, 16, 32])))
        if rnd.random() < 0.3:
            opts.append(("full_steps_per_rotation", rnd.choice([200, 400, 48])))
        if rotary:
            a = rnd.choice([80, 60, 100, 107, 120])
            b = rnd.choice([16, 20, 12])
            gr = "%d:%d" % (a, b)
            if rnd.random() < 0.3:
                gr += ", %d:%d" % (rnd.choice([60, 40]), rnd.choice([16, 20]))
            opts.append(("gear_ratio", gr))
        else:
            rd = rnd.choice([8, 32, 40, 40, 40, 20, 2, 4, 60, 33.5, 36.1234])
            opts.append(("rotation_distance", fmt(rd * linear_scale, 4)))
        if rnd.random() < 0.2:
            opts.append(("step_pulse_duration", rnd.choice(
                ["0.000002", "0.000000100", "0.000005"])))
        return opts

    def rail(self, pmin, pmax, endstop_at_max=None, homing=True):
        rnd = self.rnd
        opts = self.motor()
        if homing:
            opts.append(("endstop_pin", "^" + self.pins.pin()))
            if endstop_at_max is None:
                endstop_at_max = rnd.random() < 0.25
            opts.append(("position_endstop", fmt(pmax if endstop_at_max else pmin)))
            if pmin != 0 or rnd.random() < 0.3:
                opts.append(("position_min", fmt(pmin)))
            opts.append(("position_max", fmt(pmax)))
            opts.append(("homing_speed", fmt(rnd.choice([5, 20, 50, 80]))))
            if rnd.random() < 0.3:
                opts.append(("homing_retract_dist", fmt(rnd.choice([0, 2, 5, 10]))))
            if rnd.random() < 0.3:
                opts.append(("second_homing_speed", fmt(rnd.choice([1, 2.5, 10]))))
        return opts

    def printer(self, extra=()):
        rnd = self.rnd
        self.max_velocity = rnd.choice([50, 150, 300, 300, 500, 800])
        self.max_accel = rnd.choice([500, 1000, 3000, 3000, 7000, 20000])
        opts = [("kinematics", self.kin), ("max_velocity", fmt(self.max_velocity)),
                ("max_accel", fmt(self.max_accel))]
        r = rnd.random()
        if r < 0.5:
            opts.append(("minimum_cruise_ratio",
                         fmt(rnd.choice([0., 0.1, 0.25, 0.5, 0.75, 0.9]))))
        if rnd.random() < 0.5:
            opts.append(("square_corner_velocity",
                         fmt(rnd.choice([0., 0.5, 1, 5, 8, 20]))))
        opts.extend(extra(self) if callable(extra) else extra)
        self.add("printer", opts)

    def z_limits(self):
        rnd = self.rnd
        opts = []
        if rnd.random() < 0.8:
            opts.append(("max_z_velocity", fmt(min(self.max_velocity,
                                                   rnd.choice([5, 10, 25, 50, 150])))))
        if rnd.random() < 0.7:
            opts.append(("max_z_accel", fmt(min(self.max_accel,
                                                rnd.choice([30, 100, 500, 1000])))))
        return opts

    def extruder_section(self, name):
        rnd = self.rnd
        opts = self.motor()
        opts += [("nozzle_diameter", fmt(rnd.choice([0.4, 0.4, 0.6, 0.25]))),
                 ("filament_diameter", fmt(rnd.choice([1.75, 1.75, 2.85])))]
        if True:
            opts += [("heater_pin", self.pins.pin()),
                     ("sensor_type", "EPCOS 100K B57560G104F"),
                     ("sensor_pin", self.pins.adc_pin()),
                     ("control", "pid"), ("pid_Kp", "22.2"), ("pid_Ki", "1.08"),
                     ("pid_Kd", "114"), ("min_temp", "0"), ("max_temp", "250")]
        if rnd.random() < 0.5:
            opts.append(("pressure_advance", fmt(rnd.choice([0.02, 0.05, 0.1, 0.5, 1.0]), 4)))
        if rnd.random() < 0.3:
            opts.append(("pressure_advance_smooth_time",
                         fmt(rnd.choice([0.005, 0.02, 0.04, 0.1, 0.2]), 4)))
        if rnd.random() < 0.3:
            opts.append(("instantaneous_corner_velocity", fmt(rnd.choice([0.1, 1, 5]))))
        if rnd.random() < 0.3:
            opts.append(("max_extrude_only_velocity", fmt(rnd.choice([10, 50, 120]))))
        if rnd.random() < 0.3:
            opts.append(("max_extrude_only_accel", fmt(rnd.choice([100, 1000, 5000]))))
        if rnd.random() < 0.3:
            opts.append(("max_extrude_only_distance", fmt(rnd.choice([20, 100, 500]))))
        nozzle = float(dict(opts)["nozzle_diameter"])
        filament = float(dict(opts)["filament_diameter"])
        cross = 4. * nozzle ** 2
        if rnd.random() < 0.3:
            cross = rnd.choice([5, 50])
            opts.append(("max_extrude_cross_section", fmt(cross)))
        self.add(name, opts)
        self.extruders.append(name)
        self.max_ratio[name] = cross / (math.pi * (filament * .5) ** 2)

    def extras(self):
        rnd = self.rnd
        n = rnd.choice([1, 1, 1, 2, 3])
        self.extruder_section("extruder")
        for i in range(1, n):
            self.extruder_section("extruder%d" % i)
        if rnd.random() < 0.25:
            opts = self.motor()
            opts.insert(0, ("extruder", rnd.choice(self.extruders + [""])))
            self.add("extruder_stepper my_es", opts)
            self.extruder_steppers.append("my_es")
        if rnd.random() < 0.5 or self.kin in ("polar",):
            self.has_arcs = True
            if rnd.random() < 0.5:
                self.add("gcode_arcs", [("resolution", fmt(rnd.choice([0.1, 0.5, 1, 2.5]), 3))])
            else:
                self.add("gcode_arcs", [])
        if rnd.random() < 0.4 and self.dual is None:
            self.has_shaper = True
            opts = []
            for ax in "xyz" if rnd.random() < 0.2 else "xy":
                if rnd.random() < 0.85:
                    st = rnd.choice(SHAPERS)
                    opts.append(("shaper_type_" + ax, st))
                    opts.append(("shaper_freq_" + ax, fmt(rnd.uniform(15, 120), 2)))
                    if rnd.random() < 0.3:
                        opts.append(("damping_ratio_" + ax,
                                     fmt(rnd.choice([0.05, 0.1, 0.15]), 3)))
            self.add("input_shaper", opts)
        elif rnd.random() < (0.2 if self.dual is None else 0.6):
            # all shapers off at start (dual carriages require it): enabled later
            self.has_shaper = True
            self.add("input_shaper", [])
        if rnd.random() < 0.4:
            self.has_retraction = True
            self.add("firmware_retraction", [
                ("retract_length", fmt(rnd.choice([0, 0.5, 1, 3]))),
                ("retract_speed", fmt(rnd.choice([20, 40, 60]))),
                ("unretract_extra_length", fmt(rnd.choice([0, 0.1]))),
                ("unretract_speed", fmt(rnd.choice([10, 30])))])
        if rnd.random() < 0.3:
            self.has_exclude = True
            self.add("exclude_object", [])
        if rnd.random() < 0.3:
            opts = self.motor()
            opts += [("velocity", fmt(rnd.choice([5, 20, 100]))),
                     ("accel", fmt(rnd.choice([0, 0, 100, 1000])))]
            if rnd.random() < 0.5:
                opts += [("position_min", "-100"), ("position_max", "100")]
            self.add("manual_stepper ms", opts)
            self.manual = True
        self.add("force_move", [("enable_force_move", "True")])
        self.add("display_status", [])
        self.add("fan", [("pin", self.pins.pin())])
        # PrusaSlicer's object labels: Klipper has no M486 of its own
        self.add("gcode_macro M486", [("gcode", "")])
        self.add("mcu", [("serial", "/dev/ttyACM0")])


def build_config(rnd, kin, pin_names=None):
    c = Config(rnd, kin, pin_names)
    if kin in ("cartesian", "corexy", "corexz", "hybrid_corexy", "hybrid_corexz",
               "dual_carriage"):
        c.printer()
        if kin == "dual_carriage":
            base = rnd.choice(["cartesian", "cartesian", "hybrid_corexy", "hybrid_corexz"])
            c.sections[-1][1][0] = ("kinematics", base)
        span = [rnd.choice([100, 200, 235, 300]), rnd.choice([100, 200, 235]),
                rnd.choice([50, 100, 200])]
        lo = [rnd.choice([0, 0, -5, -20]), rnd.choice([0, 0, -3]), rnd.choice([0, -2])]
        hi = [l + s for l, s in zip(lo, span)]
        zl = c.z_limits()
        ropts = {}
        for i, ax in enumerate("xyz"):
            ropts[ax] = c.rail(lo[i], hi[i], endstop_at_max=False if (
                ax == "z" or (ax == "x" and kin == "dual_carriage")) else None)
            c.add("stepper_" + ax, ropts[ax])
            if ax == "z" and rnd.random() < 0.3:
                for j in range(1, rnd.choice([2, 3, 4])):
                    c.add("stepper_z%d" % j, c.motor())
        c.region = Box(lo, hi)
        c.cart_like = True
        c.stepper_names = ["stepper_x", "stepper_y", "stepper_z"]
        if kin == "dual_carriage":
            # second carriage on x homing at the far end
            dopts = c.motor()
            dopts = [("axis", "x")] + dopts + [
                ("endstop_pin", "^" + c.pins.pin()), ("position_endstop", fmt(hi[0])),
                ("position_min", fmt(lo[0])), ("position_max", fmt(hi[0])),
                ("homing_speed", "50")]
            safe = rnd.choice([None, 0, 10, 30])
            if safe is not None:
                dopts.insert(1, ("safe_distance", fmt(safe)))
            c.add("dual_carriage", dopts)
            s = span[0]
            r0 = Box([lo[0], lo[1], lo[2]], [lo[0] + 0.35 * s, hi[1], hi[2]])
            r1 = Box([hi[0] - 0.35 * s, lo[1], lo[2]], [hi[0], hi[1], hi[2]])
            c.dual = ("x", [r0, r1])
            c.dual_endstops = (lo[0], hi[0])
        # kinematics with z-limits in [printer]
        c.sections[0][1].extend(zl)
    elif kin == "generic_dual":
        # generic_cartesian with a dual carriage on X and extra carriages on Y and Z
        # (the layout of the corpus' generic_cartesian.cfg, random coefficients)
        c.printer(Config.z_limits)
        c.sections[-1][1][0] = ("kinematics", "generic_cartesian")
        span = [rnd.choice([200, 300]), rnd.choice([100, 200]), rnd.choice([50, 100])]
        def carriage(name, axis, endstop, pmax, section="carriage"):
            opts = ([("axis", axis)] if axis else []) + [
                ("endstop_pin", "^" + c.pins.pin()), ("position_endstop", fmt(endstop)),
                ("position_max", fmt(pmax)), ("homing_speed", "50")]
            c.add("%s %s" % (section, name), opts)
        carriage("carriage_x", "x", 0, span[0])
        carriage("carriage_y", "y", 0, span[1])
        carriage("carriage_z", "z", 0, span[2])
        c.add("extra_carriage carriage_y1", [("primary_carriage", "carriage_y"),
                                             ("endstop_pin", "^" + c.pins.pin())])
        c.add("extra_carriage carriage_z1", [("primary_carriage", "carriage_z"),
                                             ("endstop_pin", "^" + c.pins.pin())])
        dopts = [("primary_carriage", "carriage_x"), ("endstop_pin", "^" + c.pins.pin()),
                 ("position_endstop", fmt(span[0])), ("position_max", fmt(span[0])),
                 ("homing_speed", "50")]
        if rnd.random() < 0.5:
            dopts.append(("safe_distance", fmt(rnd.choice([0, 20]))))
        c.add("dual_carriage carriage_u", dopts)
        def term(coef, name, first=False):
            if coef == 1.:
                t = name
            elif coef == -1.:
                t = "-" + name
            else:
                t = "%s*%s" % (fmt(coef), name)
            return t if first or t.startswith("-") else "+" + t
        a, b = rnd.choice([0., 1., -1., 0.5]), rnd.choice([0., 1., -1., -0.5])
        cc, d = rnd.choice([0., 0.5, -0.5, 1.]), rnd.choice([0., 0.5, -1.])
        rows = [("stepper_x", term(1., "carriage_x", True) + (term(a, "carriage_y") if a else "")),
                ("stepper_u", term(1., "carriage_u", True) + (term(b, "carriage_y1") if b else "")),
                ("stepper_y", term(1., "carriage_y", True) + (term(cc, "carriage_z") if cc else "")),
                ("stepper_y1", term(1., "carriage_y1", True) + (term(d, "carriage_z1") if d else "")),
                ("stepper_z", "carriage_z"), ("stepper_z1", "carriage_z1")]
        for name, carr in rows:
            c.add("stepper " + name, [("carriages", carr)] + c.motor())
        c.region = Box([0, 0, 0], span)
        s0 = span[0]
        r0 = Box([0, 0, 0], [0.35 * s0, span[1], span[2]])
        r1 = Box([s0 - 0.35 * s0, 0, 0], [s0, span[1], span[2]])
        c.dual = ("x", [r0, r1])
        c.dual_endstops = (0., float(s0))
    elif kin == "generic_cartesian":
        c.printer(Config.z_limits)
        span = [rnd.choice([100, 200, 300]), rnd.choice([100, 200]), rnd.choice([50, 100])]
        lo = [0., 0., 0.]
        for i, ax in enumerate("xyz"):
            opts = [("axis", ax), ("endstop_pin", "^" + c.pins.pin()),
                    ("position_endstop", fmt(0. if ax == "z" else rnd.choice([0., span[i]]))),
                    ("position_max", fmt(span[i])), ("homing_speed", "20")]
            c.add("carriage carriage_" + ax, opts)
        # random invertible stepper/carriage matrix
        coefs = [-2., -1., -1., -0.5, 0.5, 1., 1., 1., 2.]
        while True:
            rows = []
            nst = rnd.choice([3, 3, 4])
            for i in range(nst):
                row = [0.] * 3
                row[i % 3] = rnd.choice(coefs)
                for j in range(3):
                    if j != i % 3 and rnd.random() < 0.35:
                        row[j] = rnd.choice(coefs)
                rows.append(row)
            m = rows[:3]
            det = (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                   - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                   + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))
            if abs(det) > 0.2:
                break
        for i, row in enumerate(rows):
            terms = []
            for j, v in enumerate(row):
                if not v:
                    continue
                name = "carriage_" + "xyz"[j]
                if v == 1.:
                    t = name
                elif v == -1.:
                    t = "-" + name
                else:
                    t = "%s*%s" % (fmt(v), name)
                if terms and not t.startswith("-"):
                    t = "+" + t
                terms.append(t)
            opts = [("carriages", "".join(terms))] + c.motor()
            c.add("stepper stepper_%d" % i, opts)
        c.region = Box(lo, span)
    elif kin == "delta":
        radius = rnd.uniform(80, 200)
        arm = radius + rnd.uniform(60, 200)
        endstop = rnd.uniform(150, 400)
        print_radius = radius
        if rnd.random() < 0.4:
            print_radius = float(fmt(radius * rnd.uniform(0.4, 0.9), 2))
        c.printer(lambda c: c.z_limits() + [("delta_radius", fmt(radius, 3))] +
                  ([("print_radius", fmt(print_radius, 2))]
                   if print_radius != radius else []))
        for i, t in enumerate("abc"):
            opts = c.motor() + [("endstop_pin", "^" + c.pins.pin())]
            if i == 0:
                opts += [("position_endstop", fmt(endstop, 3)), ("arm_length", fmt(arm, 3)),
                         ("homing_speed", "50")]
            elif rnd.random() < 0.3:
                opts += [("position_endstop", fmt(endstop + rnd.uniform(-3, 3), 3))]
            if i and rnd.random() < 0.3:
                opts += [("arm_length", fmt(arm + rnd.uniform(-2, 2), 3))]
            if rnd.random() < 0.3:
                opts += [("angle", fmt([210., 330., 90.][i] + rnd.uniform(-1, 1), 3))]
            c.add("stepper_" + t, opts)
        if rnd.random() < 0.5:
            # conservative: well inside the print radius and below the taper
            pr = min(radius, arm - radius) * 0.35
            c.region = Cylinder(pr, 0., endstop * 0.45)
        else:
            # the whole envelope below the taper (slow zones near the edge)
            pr = 0.97 * min(print_radius, arm - radius)
            limit_z = endstop - 3 - (arm + 2 - math.sqrt((arm - 2) ** 2 - radius ** 2))
            c.region = Cylinder(pr, 0., max(5., min(endstop - 3, limit_z - 3)))
    elif kin == "deltesian":
        arm_x = rnd.uniform(140, 180)
        arm = arm_x + rnd.uniform(40, 80)
        endstop = rnd.uniform(220, 300)
        c.printer(Config.z_limits)
        opts = c.motor() + [("endstop_pin", "^" + c.pins.pin()),
                            ("position_endstop", fmt(endstop, 2)),
                            ("arm_length", fmt(arm, 2)), ("arm_x_length", fmt(arm_x, 2)),
                            ("homing_speed", "50")]
        c.add("stepper_left", opts)
        c.add("stepper_right", c.motor() + [("endstop_pin", "^" + c.pins.pin())])
        ymax = rnd.choice([150, 200])
        c.add("stepper_y", c.rail(0, ymax, endstop_at_max=False))
        # x slowdown starts where the arm ratio exceeds 3: keep well inside it
        xs = min(math.sqrt(9 * arm ** 2 / 10) - arm_x, 60)
        c.region = Box([-0.5 * xs, 0, 0], [0.5 * xs, ymax, 0.3 * endstop])
    elif kin == "rotary_delta":
        c.printer(lambda c: [o for o in c.z_limits() if o[0] == "max_z_velocity"] + [("shoulder_radius", fmt(33.9 + rnd.uniform(-2, 2), 3)),
                                       ("shoulder_height", fmt(412.9 + rnd.uniform(-3, 3), 3))])
        ua = 170. + rnd.uniform(-3, 3)
        la = 320. + rnd.uniform(-3, 3)
        for i, t in enumerate("abc"):
            opts = c.motor(rotary=True) + [("endstop_pin", "^" + c.pins.pin())]
            if i == 0:
                opts += [("position_endstop", fmt(252 + rnd.uniform(-3, 3), 2)),
                         ("upper_arm_length", fmt(ua, 3)), ("lower_arm_length", fmt(la, 3)),
                         ("homing_speed", "50")]
            c.add("stepper_" + t, opts)
        c.region = Cylinder(60., 0., 120.)
    elif kin == "polar":
        av = rnd.choice([None, 0.5, 2, 5, 20])
        c.printer(lambda c: c.z_limits() + (
            [("max_angular_velocity", fmt(av))] if av else []))
        c.add("stepper_bed", c.motor(rotary=True))
        rmax = rnd.choice([100, 150, 300])
        c.add("stepper_arm", c.rail(0, rmax, endstop_at_max=True))
        zmax = rnd.choice([100, 200])
        c.add("stepper_z", c.rail(0, zmax, endstop_at_max=False))
        c.region = Cylinder(rmax * 0.95, 0., zmax)
    elif kin == "winch":
        c.printer()
        n = rnd.choice([3, 4, 4, 5])
        anchors = []
        for i in range(n):
            a = rnd.uniform(0, 2 * math.pi) if i < 3 else rnd.uniform(0, 2 * math.pi)
            d = rnd.uniform(800, 2500)
            z = rnd.uniform(-200, 0) if i < 3 else rnd.uniform(1500, 3000)
            if i < 3:
                a = i * 2 * math.pi / 3 + rnd.uniform(-0.4, 0.4)
            anchors.append((d * math.cos(a), d * math.sin(a), z))
        for i, (x, y, z) in enumerate(anchors):
            opts = c.motor() + [("anchor_x", fmt(x, 2)), ("anchor_y", fmt(y, 2)),
                                ("anchor_z", fmt(z, 2))]
            c.add("stepper_" + "abcdefg"[i], opts)
        c.region = Box([-150, -150, 0], [150, 150, 200])
    else:
        raise ValueError(kin)
    c.stepper_names = [n for n, _ in c.sections
                       if n.startswith("stepper_") or n == "dual_carriage"]
    c.extras()
    return c

# ---------------------------------------------------------------- g-code


class GCodeGen:
    def __init__(self, rnd, cfg, style):
        self.rnd = rnd
        self.cfg = cfg
        self.style = style
        self.lines = []
        self.pos = [0., 0., 0.]     # toolhead position
        self.e = 0.                 # toolhead e position
        self.base = [0., 0., 0., 0.]
        self.efactor = 1.
        self.absolute = True
        self.abs_e = True
        self.known = False
        self.region = cfg.region if cfg.dual is None else cfg.dual[1][0]
        self.active_extruder = "extruder"
        self.dual_active = 0
        self.plane = (0, 1)
        self.retracted = False
        self.cur_f = 1500.
        self.ms_pos = 0.
        self.ms_axis = False
        self.a_pos = 0.
        self.dual_mode = "PRIMARY"
        self.carriage = [None, None]
        self.saved = None

    def emit(self, line):
        self.lines.append(line)

    def rv(self, lo, hi):
        return self.rnd.uniform(lo, hi)

    def feed(self, dist=None):
        rnd = self.rnd
        r = rnd.random()
        if r < 0.05 and dist is not None:
            # slow, but keep the print time modest: upstream's batch output
            # drops messages scheduled far beyond the run's wall-clock time
            f = rnd.choice([1, 6, 30])
            return max(f, dist * 60. / 20.)
        if r < 0.15:
            return rnd.choice([100000, 60000, 36000])
        return rnd.choice([600, 1200, 1800, 3000, 6000, 9000, 12000, 18000, 24000])

    def ecoord(self, delta):
        """G-code E word for an extruder change of delta (toolhead units)."""
        if self.abs_e and self.absolute:
            v = (self.e + delta - self.base[3]) / self.efactor
        else:
            v = delta / self.efactor
        self.e += delta
        return " E" + fmt(v, 5)

    def coords(self, target, axes="XYZ"):
        out = ""
        for i, a in enumerate("XYZ"):
            if a not in axes:
                continue
            if self.absolute:
                v = target[i] - self.base[i]
            else:
                v = target[i] - self.pos[i]
            text = fmt(v, self.rnd.choice([3, 3, 3, 4, 6]))
            out += " %s%s" % (a, text)
            # the position the host computes from the rounded word
            if self.absolute:
                target[i] = float(text) + self.base[i]
            else:
                target[i] = self.pos[i] + float(text)
        return out

    def move_to(self, target, extrude=0., f=None, axes=None, cmd="G1"):
        if axes is None:
            axes = "".join(a for i, a in enumerate("XYZ")
                           if abs(target[i] - self.pos[i]) > 1e-9
                           or self.rnd.random() < 0.2)
            if not self.known:
                axes = "XYZ"
        d = math.dist(target, self.pos)
        if f is None and d * 60. / self.cur_f > 20.:
            f = self.rnd.choice([1200, 3000, 6000])
        if f is not None:
            self.cur_f = f
        old_x = self.pos[0]
        line = cmd + self.coords(target, axes)
        # Round-trip what the host will see
        for i, a in enumerate("XYZ"):
            if a in axes:
                self.pos[i] = target[i]
        if extrude:
            line += self.ecoord(extrude)
        if self.ms_axis and self.rnd.random() < 0.4:
            a = max(-90., min(90., self.a_pos + self.rnd.uniform(-30, 30)))
            v = a if self.absolute else a - self.a_pos
            text = fmt(v, 3)
            self.a_pos = float(text) if self.absolute else self.a_pos + float(text)
            line += " A" + text
        if f is not None:
            line += " F" + fmt(f, 1)
        if self.cfg.dual is not None:
            if self.known:
                self.dual_track(self.pos[0] - old_x)
            else:
                self.carriage[self.dual_active] = self.pos[0]
        self.emit(line)
        self.known = True

    def ensure_known(self):
        if not self.known:
            if not self.absolute:
                self.emit("G90")
                self.absolute = True
            target = self.region.sample(self.rnd, 0.2)
            self.move_to(target, f=self.rnd.choice([3000, 6000]), axes="XYZ")

    def e_ratio(self, k=None):
        """E per mm of XY travel: a fraction of the active extruder's limit."""
        if k is None:
            k = self.rnd.choice([0.0, 0.2, 0.4, 0.6, 0.7])
        return k * min(0.1, self.cfg.max_ratio[self.active_extruder])

    # -- operations
    def op_line(self):
        rnd = self.rnd
        t = self.region.sample(rnd)
        r = rnd.random()
        if r < 0.3:
            # mostly planar move (layer-like)
            t[2] = self.pos[2]
        elif r < 0.4:
            # z only
            t[0], t[1] = self.pos[0], self.pos[1]
        d = math.dist(t[:2], self.pos[:2])
        e = d * self.e_ratio() if rnd.random() < 0.6 and d > 0.01 else 0.
        self.move_to(t, e, self.feed(math.dist(t, self.pos)) if rnd.random() < 0.6 else None)

    def op_short(self):
        rnd = self.rnd
        scale = rnd.choice([0.0005, 0.001, 0.01, 0.1, 0.5, 2.])
        for _ in range(rnd.randint(1, 15)):
            t = [p + rnd.uniform(-scale, scale) for p in self.pos]
            if rnd.random() < 0.7:
                t[2] = self.pos[2]
            if not self.region.inside(t, 0.):
                continue
            d = math.dist(t[:2], self.pos[:2])
            e = d * self.e_ratio() if rnd.random() < 0.5 else 0.
            self.move_to(t, e, self.feed(math.dist(t, self.pos)) if rnd.random() < 0.2 else None)

    def op_zero(self):
        self.move_to(list(self.pos), 0., self.feed(0.) if self.rnd.random() < 0.5 else None,
                     axes=self.rnd.choice(["X", "XY", "XYZ", ""]) or "X")

    def op_extrude_only(self):
        rnd = self.rnd
        d = rnd.choice([-2, -1, -0.5, 0.5, 1, 2, 5, 0.01])
        line = "G1" + self.ecoord(d)
        if rnd.random() < 0.7:
            self.cur_f = rnd.choice([300, 1200, 2100, 2700, 6000])
            line += " F" + fmt(self.cur_f)
        self.emit(line)

    def op_polygon(self):
        # slicer-like perimeter loop with extrusion
        rnd = self.rnd
        c = self.region.sample(rnd, 0.3)
        c[2] = self.pos[2]
        r = rnd.uniform(2, max(3, self.region.span() * 0.2))
        n = rnd.choice([3, 4, 6, 8, 24, 64])
        a0 = rnd.uniform(0, 2 * math.pi)
        pts = []
        for i in range(n + 1):
            a = a0 + 2 * math.pi * i / n
            p = [c[0] + r * math.cos(a), c[1] + r * math.sin(a), c[2]]
            if not self.region.inside(p, 0.):
                return
            pts.append(p)
        self.move_to(pts[0], 0., rnd.choice([6000, 9000, 12000]))
        f = rnd.choice([1200, 1800, 2400, 3600])
        er = self.e_ratio(rnd.choice([0.3, 0.5, 0.7]))
        for i, p in enumerate(pts[1:]):
            self.move_to(p, math.dist(p[:2], self.pos[:2]) * er, f if i == 0 else None)

    def op_arc(self):
        rnd = self.rnd
        if not self.cfg.has_arcs:
            return self.op_line()
        if not self.absolute:
            self.emit("G90")
            self.absolute = True
        planes = [(0, 1)] * 6 + [(0, 2), (1, 2)]
        plane = rnd.choice(planes)
        if plane != self.plane:
            self.emit({(0, 1): "G17", (0, 2): "G18", (1, 2): "G19"}[plane])
            self.plane = plane
        a, b = plane
        r = rnd.choice([0.2, 1, 3, 5, 10, 20, 40])
        ang = rnd.uniform(0, 2 * math.pi)
        c = list(self.pos)
        c[a] = self.pos[a] + r * math.cos(ang)
        c[b] = self.pos[b] + r * math.sin(ang)
        if not self.region.circle_inside(c, r, plane):
            return self.op_line()
        h = 3 - a - b
        end_ang = rnd.uniform(0, 2 * math.pi)
        t = list(self.pos)
        full = rnd.random() < 0.1
        if full:
            pass  # full circle: the plane's words are left out
        else:
            t[a] = c[a] + r * math.cos(end_ang)
            t[b] = c[b] + r * math.sin(end_ang)
        if rnd.random() < 0.2:
            t[h] = self.pos[h] + rnd.uniform(-2, 2)
            if not self.region.inside(t, 0.):
                t[h] = self.pos[h]
        off = [c[a] - self.pos[a], c[b] - self.pos[b]]
        names = {0: "I", 1: "J", 2: "K"}
        line = rnd.choice(["G2", "G3"]) + self.coords(t, "".join(
            "XYZ"[i] for i in range(3) if (i in (a, b) and not full)
            or t[i] != self.pos[i] or (i not in (a, b) and rnd.random() < 0.3)))
        line += " %s%s %s%s" % (names[a], fmt(off[0], 4), names[b], fmt(off[1], 4))
        if self.cfg.dual is not None:
            self.dual_track(t[0] - self.pos[0])
        self.pos = t
        if rnd.random() < 0.5 and a == 0 and b == 1:
            # arc length as gcode_arcs computes it
            rp, rq = -off[0], -off[1]
            ra, rb = t[a] - c[a], t[b] - c[b]
            ang = math.atan2(rp * rb - rq * ra, rp * ra + rq * rb)
            if ang < 0.:
                ang += 2 * math.pi
            if line.startswith("G2"):
                ang -= 2 * math.pi
            if ang == 0. and full:
                ang = 2 * math.pi
            arc = abs(ang) * r
            if arc > 0.5:
                line += self.ecoord(arc * self.e_ratio())
        arc_len = 2 * math.pi * r + 2
        if rnd.random() < 0.6 or arc_len * 60. / self.cur_f > 20.:
            self.cur_f = max(self.feed(arc_len), arc_len * 3.)
            line += " F" + fmt(self.cur_f, 1)
        self.emit(line)

    def op_g92(self):
        rnd = self.rnd
        if not self.known:
            return
        r = rnd.random()
        if r < 0.5:
            self.emit("G92 E0")
            self.base[3] = self.e
        elif r < 0.8:
            axes = rnd.sample("XYZE", rnd.randint(1, 3))
            line = "G92"
            for a in "XYZE":
                if a not in axes:
                    continue
                v = rnd.choice([0., rnd.uniform(-50, 50)])
                line += " %s%s" % (a, fmt(v))
                i = "XYZE".index(a)
                if i == 3:
                    self.base[3] = self.e - float(fmt(v)) * self.efactor
                else:
                    self.base[i] = self.pos[i] - float(fmt(v))
            self.emit(line)
        elif r < 0.9:
            self.emit("G92")
            self.base = list(self.pos) + [self.e]
        else:
            a = rnd.choice("XYZ")
            v = rnd.uniform(-2, 2)
            self.emit("SET_GCODE_OFFSET %s=%s" % (a, fmt(v)))
            # offsets relative to the homing position (0 here)
            self.base["XYZ".index(a)] += float(fmt(v)) - self.gcode_offset(a)
            self.offsets[a] = float(fmt(v))

    offsets = None

    def gcode_offset(self, a):
        if self.offsets is None:
            self.offsets = {"X": 0., "Y": 0., "Z": 0.}
        return self.offsets[a]

    def op_mode(self):
        rnd = self.rnd
        r = rnd.random()
        if r < 0.35:
            self.absolute = not self.absolute
            self.emit("G90" if self.absolute else "G91")
        elif r < 0.7:
            self.abs_e = not self.abs_e
            self.emit("M82" if self.abs_e else "M83")
        elif r < 0.85:
            s = rnd.choice([50, 80, 100, 100, 150, 200])
            self.emit("M220 S%d" % s)
        else:
            s = rnd.choice([80, 95, 100, 100, 110])
            if self.known:
                old = self.efactor
                self.base[3] = self.e - ((self.e - self.base[3]) / old) * (s / 100.)
            self.efactor = s / 100.
            self.emit("M221 S%d" % s)

    def op_limits(self):
        rnd = self.rnd
        r = rnd.random()
        if r < 0.35:
            self.emit("M204 S%d" % rnd.choice([100, 500, 1000, 2500, 5000, 12000, 50000]))
        elif r < 0.45:
            self.emit("M204 P%d T%d" % (rnd.choice([500, 2000]), rnd.choice([800, 3000])))
        else:
            parts = []
            if rnd.random() < 0.6:
                parts.append("VELOCITY=%s" % fmt(rnd.choice([5, 25, 100, 300, 600])))
            if rnd.random() < 0.6:
                parts.append("ACCEL=%s" % fmt(rnd.choice([50, 500, 3000, 10000, 40000])))
            if rnd.random() < 0.4:
                parts.append("SQUARE_CORNER_VELOCITY=%s" % fmt(rnd.choice([0, 1, 5, 15])))
            if rnd.random() < 0.4:
                parts.append("MINIMUM_CRUISE_RATIO=%s" % fmt(rnd.choice([0, 0.2, 0.5, 0.8])))
            if rnd.random() < 0.1:
                parts.append("ACCEL_TO_DECEL=%s" % fmt(rnd.choice([500, 2000])))
            self.emit("SET_VELOCITY_LIMIT " + " ".join(parts))

    def op_pa(self):
        rnd = self.rnd
        parts = []
        if rnd.random() < 0.8:
            parts.append("ADVANCE=%s" % fmt(rnd.choice([0, 0.01, 0.04, 0.1, 0.5]), 4))
        if rnd.random() < 0.4:
            parts.append("SMOOTH_TIME=%s" % fmt(rnd.choice([0.0, 0.01, 0.04, 0.15]), 4))
        if rnd.random() < 0.3:
            parts.append("EXTRUDER=%s" % rnd.choice(self.cfg.extruders + self.cfg.extruder_steppers))
        self.emit("SET_PRESSURE_ADVANCE " + " ".join(parts))

    def op_shaper(self):
        rnd = self.rnd
        if not self.cfg.has_shaper:
            return
        parts = []
        for ax in "XY" if rnd.random() < 0.9 else "XYZ":
            if rnd.random() < 0.6:
                parts.append("SHAPER_FREQ_%s=%s" % (ax, fmt(rnd.choice(
                    [0, 20, 35.5, 60, 100, 150]), 2)))
            if rnd.random() < 0.5:
                parts.append("SHAPER_TYPE_%s=%s" % (ax, rnd.choice(SHAPERS)))
            if rnd.random() < 0.2:
                parts.append("DAMPING_RATIO_%s=%s" % (ax, fmt(rnd.choice([0, 0.05, 0.2]), 3)))
        if rnd.random() < 0.1:
            parts = ["SHAPER_TYPE=%s" % rnd.choice(SHAPERS)] + parts
        self.emit("SET_INPUT_SHAPER " + " ".join(parts))

    def op_dwell(self):
        rnd = self.rnd
        r = rnd.random()
        if r < 0.6:
            self.emit("G4 P%d" % rnd.choice([0, 1, 10, 100, 500, 2000]))
        elif r < 0.8:
            self.emit("M400")
        else:
            self.emit("G4 S%s" % fmt(rnd.choice([0.05, 1, 3])))

    def op_extruder_switch(self):
        rnd = self.rnd
        cfg = self.cfg
        r = rnd.random()
        if len(cfg.extruders) > 1 and r < 0.6:
            e = rnd.choice(cfg.extruders)
            self.emit("ACTIVATE_EXTRUDER EXTRUDER=%s" % e)
            self.active_extruder = e
            # gcode_move resets the extrude factor and the E base on a switch
            self.efactor = 1.
            self.e_unknown()
        elif cfg.extruder_steppers and r < 0.8:
            self.emit("SYNC_EXTRUDER_MOTION EXTRUDER=my_es MOTION_QUEUE=%s"
                      % rnd.choice(cfg.extruders + [""]))
        elif r < 0.9:
            self.emit("SET_EXTRUDER_ROTATION_DISTANCE EXTRUDER=%s DISTANCE=%s" % (
                rnd.choice(cfg.extruders + cfg.extruder_steppers),
                fmt(rnd.choice([-33.5, 7.5, 22.6789, 40]), 4)))
        else:
            self.emit("SET_EXTRUDER_ROTATION_DISTANCE EXTRUDER=%s" % rnd.choice(cfg.extruders))

    def e_unknown(self):
        self.emit("G92 E0")
        self.base[3] = self.e

    def op_retract(self):
        rnd = self.rnd
        if not self.cfg.has_retraction:
            return self.op_extrude_only()
        r = rnd.random()
        if r < 0.15:
            self.emit("SET_RETRACTION RETRACT_LENGTH=%s RETRACT_SPEED=%s" % (
                fmt(rnd.choice([0, 0.4, 1.5])), fmt(rnd.choice([15, 35]))))
        elif r < 0.2:
            self.emit("SET_RETRACTION UNRETRACT_EXTRA_LENGTH=%s UNRETRACT_SPEED=%s" % (
                fmt(rnd.choice([0, 0.05])), fmt(rnd.choice([5, 25]))))
        elif not self.retracted:
            self.emit("G10")
            self.retracted = True
        else:
            self.emit("G11")
            self.retracted = False
        # the module moves E through gcode_move: its G92 bookkeeping is its own
        self.emit("G92 E0")
        self.base[3] = self.e

    def dual_track(self, dx):
        """Carriage positions after an X move of dx (mode dependent)."""
        k = self.dual_active
        if self.carriage[k] is not None:
            self.carriage[k] += dx
        o = 1 - k
        if self.carriage[o] is not None:
            if self.dual_mode == "COPY":
                self.carriage[o] += dx
            elif self.dual_mode == "MIRROR":
                self.carriage[o] -= dx

    def op_dual(self):
        cfg = self.cfg
        rnd = self.rnd
        if cfg.dual is None:
            return
        r0, r1 = cfg.dual[1]
        if (rnd.random() < 0.4 and self.dual_mode == "PRIMARY" and self.dual_active == 0
                and None not in self.carriage):
            # carriage 1 follows carriage 0; keep each in its own zone
            mode = rnd.choice(["COPY", "MIRROR"])
            c0, c1 = self.carriage
            lo0, hi0 = r0.lo[0] + 0.5, r0.hi[0] - 0.5
            lo1, hi1 = r1.lo[0] + 0.5, r1.hi[0] - 0.5
            if mode == "COPY":
                dlo, dhi = max(lo0 - c0, lo1 - c1), min(hi0 - c0, hi1 - c1)
            else:
                dlo, dhi = max(lo0 - c0, c1 - hi1), min(hi0 - c0, c1 - lo1)
            if dhi - dlo < 2.:
                return
            self.emit("SET_DUAL_CARRIAGE CARRIAGE=1 MODE=%s" % mode)
            self.dual_mode = mode
            self.region = Box([c0 + dlo, r0.lo[1], r0.lo[2]], [c0 + dhi, r0.hi[1], r0.hi[2]], 0.)
            return
        k = rnd.choice([0, 1])
        self.emit("SET_DUAL_CARRIAGE CARRIAGE=%d" % k)
        self.dual_active = k
        self.dual_mode = "PRIMARY"
        self.region = cfg.dual[1][k]
        if self.carriage[k] is not None:
            self.pos[0] = self.carriage[k]
            if not self.region.inside(self.pos, 0.):
                self.known = False
        else:
            self.known = False
        self.ensure_known()

    def op_state(self):
        """SAVE/RESTORE_GCODE_STATE (optionally moving back) and SET_GCODE_OFFSET MOVE=1."""
        rnd = self.rnd
        if not self.known or self.cfg.dual is not None:
            return
        self.gcode_offset("X")
        r = rnd.random()
        if r < 0.4 or self.saved is None:
            self.emit("SAVE_GCODE_STATE NAME=s1")
            self.saved = dict(pos=list(self.pos), base=list(self.base), e=self.e,
                              efactor=self.efactor, absolute=self.absolute,
                              abs_e=self.abs_e, offsets=dict(self.offsets),
                              cur_f=self.cur_f)
        elif r < 0.8:
            st = self.saved
            move = rnd.random() < 0.6 and self.region.inside(st["pos"], 0.)
            line = "RESTORE_GCODE_STATE NAME=s1"
            if move:
                line += " MOVE=1"
                if rnd.random() < 0.5:
                    line += " MOVE_SPEED=%s" % fmt(rnd.choice([5, 50, 300]))
            self.emit(line)
            self.base[:3] = st["base"][:3]
            self.base[3] = st["base"][3] + (self.e - st["e"])
            self.efactor = st["efactor"]
            self.absolute, self.abs_e = st["absolute"], st["abs_e"]
            self.offsets = dict(st["offsets"])
            self.cur_f = st["cur_f"]
            if move:
                self.pos = list(st["pos"])
        else:
            a = rnd.choice("XYZ")
            i = "XYZ".index(a)
            v = float(fmt(rnd.uniform(-3, 3), 3))
            delta = v - self.offsets[a]
            t = list(self.pos)
            t[i] += delta
            move = rnd.random() < 0.6 and self.region.inside(t, 0.)
            self.emit("SET_GCODE_OFFSET %s=%s%s" % (a, fmt(v, 3), " MOVE=1" if move else ""))
            self.base[i] += delta
            self.offsets[a] = v
            if move:
                self.pos = t

    def op_manual(self):
        rnd = self.rnd
        if not self.cfg.manual:
            return
        if self.ms_axis:
            if rnd.random() < 0.3:
                self.emit("MANUAL_STEPPER STEPPER=ms GCODE_AXIS=")
                self.ms_axis = False
                self.ms_pos = self.a_pos
            return
        r = rnd.random()
        if r < 0.45:
            v = max(-95., min(95., self.ms_pos + rnd.choice([-50, -5, -0.01, 0, 0.3, 7, 60])))
            line = "MANUAL_STEPPER STEPPER=ms MOVE=%s" % fmt(v, 3)
            if rnd.random() < 0.5:
                line += " SPEED=%s" % fmt(rnd.choice([1, 10, 50, 200]))
            if rnd.random() < 0.5:
                line += " ACCEL=%s" % fmt(rnd.choice([0, 10, 500, 5000]))
            if rnd.random() < 0.4:
                line += " SYNC=%d" % rnd.choice([0, 1])
            self.ms_pos = float(fmt(v, 3))
            self.emit(line)
        elif r < 0.55:
            self.ms_pos = float(fmt(rnd.uniform(-20, 20), 2))
            self.emit("MANUAL_STEPPER STEPPER=ms SET_POSITION=%s" % fmt(self.ms_pos, 2))
        elif r < 0.65:
            self.emit("MANUAL_STEPPER STEPPER=ms ENABLE=%d" % rnd.choice([0, 1, 1]))
        elif r < 0.75:
            self.emit("MANUAL_STEPPER STEPPER=ms SYNC=1")
        else:
            line = "MANUAL_STEPPER STEPPER=ms GCODE_AXIS=A"
            if rnd.random() < 0.4:
                line += " LIMIT_VELOCITY=%s" % fmt(rnd.choice([5, 50, 500]))
            if rnd.random() < 0.4:
                line += " LIMIT_ACCEL=%s" % fmt(rnd.choice([50, 500, 5000]))
            if rnd.random() < 0.4:
                line += " INSTANTANEOUS_CORNER_VELOCITY=%s" % fmt(rnd.choice([0, 1, 10]))
            self.emit(line)
            self.ms_axis = True
            self.a_pos = self.ms_pos

    def op_home(self):
        """Home some axes again mid-print (cartesian-like printers)."""
        rnd = self.rnd
        if not self.cfg.cart_like or self.dual_mode != "PRIMARY":
            return
        axes = rnd.choice(["X", "Y", "Z", "X Y", ""])
        self.emit(("G28 " + axes).strip())
        for a in axes.split() or ["X", "Y", "Z"]:
            i = "XYZ".index(a)
            self.base[i] = self.gcode_offset(a)
        if self.cfg.dual is not None and (not axes or "X" in axes):
            self.dual_active = 0
            self.region = self.cfg.dual[1][0]
            self.carriage = list(self.cfg.dual_endstops)
        self.known = False

    def op_forcemove(self):
        rnd = self.rnd
        if not self.cfg.stepper_names or self.dual_mode != "PRIMARY":
            return
        st = rnd.choice(self.cfg.stepper_names)
        d = rnd.choice([0.5, 2, 10])
        v = rnd.choice([5, 20, 50])
        acc = " ACCEL=%s" % fmt(rnd.choice([0, 100, 1000])) if rnd.random() < 0.5 else ""
        # there and back: the toolhead position is unchanged afterwards
        self.emit("FORCE_MOVE STEPPER=%s DISTANCE=%s VELOCITY=%s%s" % (st, fmt(d), fmt(v), acc))
        self.emit("FORCE_MOVE STEPPER=%s DISTANCE=%s VELOCITY=%s%s" % (st, fmt(-d), fmt(v), acc))

    def op_force(self):
        rnd = self.rnd
        r = rnd.random()
        if r < 0.3:
            self.emit("M400")
            self.emit("SET_KINEMATIC_POSITION")
        elif r < 0.6 and self.known and self.dual_mode == "PRIMARY":
            # declare a different position: later moves are relative to it
            t = self.region.sample(rnd, 0.1)
            line = "SET_KINEMATIC_POSITION"
            for i, a in enumerate("XYZ"):
                if rnd.random() < 0.7:
                    text = fmt(t[i], 3)
                    line += " %s=%s" % (a, text)
                    self.pos[i] = float(text)
            if self.cfg.dual is not None:
                self.carriage[self.dual_active] = self.pos[0]
            self.emit(line)
        else:
            self.emit("GET_POSITION")

    def op_long(self):
        # corner to corner at high speed
        rnd = self.rnd
        reg = self.region
        if isinstance(reg, Box):
            t = [reg.hi[0] if self.pos[0] < (reg.lo[0] + reg.hi[0]) / 2 else reg.lo[0],
                 reg.hi[1] if self.pos[1] < (reg.lo[1] + reg.hi[1]) / 2 else reg.lo[1],
                 self.pos[2]]
        else:
            a = rnd.uniform(0, 2 * math.pi)
            t = [reg.cx + reg.r * math.cos(a), reg.cy + reg.r * math.sin(a), self.pos[2]]
        self.move_to(t, 0., rnd.choice([60000, 120000, 30000]))

    def random_program(self, nmoves):
        rnd = self.rnd
        self.emit("G28")
        if self.cfg.dual is not None:
            self.carriage = list(self.cfg.dual_endstops)
        self.emit("G90")
        self.ensure_known()
        ops = [(self.op_line, 30), (self.op_short, 8), (self.op_zero, 2),
               (self.op_extrude_only, 4), (self.op_polygon, 5), (self.op_arc, 8),
               (self.op_g92, 4), (self.op_mode, 5), (self.op_limits, 4),
               (self.op_pa, 2), (self.op_shaper, 2), (self.op_dwell, 3),
               (self.op_extruder_switch, 2), (self.op_retract, 3),
               (self.op_dual, 3), (self.op_force, 1), (self.op_long, 2),
               (self.op_manual, 3), (self.op_home, 1), (self.op_forcemove, 1),
               (self.op_state, 2), (lambda: self.emit("GET_POSITION"), 2)]
        weights = [w for _, w in ops]
        n = 0
        while len(self.lines) < nmoves:
            op = rnd.choices([o for o, _ in ops], weights)[0]
            op()
            n += 1
            if not self.known:
                self.ensure_known()
        return self.lines

    def slicer_program(self, nmoves):
        """Output shaped like common slicers' (PrusaSlicer, Cura, Orca...)."""
        rnd = self.rnd
        flavour = rnd.choice(["prusa", "cura", "orca", "super"])
        em = self.emit
        if flavour == "cura":
            em(";FLAVOR:Marlin")
            em(";Generated with Cura_SteamEngine 5.4.0")
            em("M140 S0")
            em("M104 S0")
            em("M82 ;absolute extrusion mode")
        else:
            em("; generated by %s" % {"prusa": "PrusaSlicer 2.6.1",
                                      "orca": "OrcaSlicer 1.9.0",
                                      "super": "SuperSlicer 2.5.59"}[flavour])
            em("M73 P0 R12")
            em("M107")
            em("M83 ; use relative distances for extrusion")
            self.abs_e = False
        em("G21 ; set units to millimeters")
        em("G90 ; use absolute coordinates")
        em("G28 ; home all axes")
        if self.cfg.dual is not None:
            self.carriage = list(self.cfg.dual_endstops)
        if rnd.random() < 0.5:
            em("M204 S%d" % rnd.choice([500, 1000, 1250, 4000]))
        self.ensure_known()
        em("G92 E0")
        self.base[3] = self.e
        objects = ["part_%d" % i for i in range(rnd.randint(1, 3))]
        if self.cfg.has_exclude:
            for o in objects:
                c = self.region.sample(rnd, 0.4)
                em("EXCLUDE_OBJECT_DEFINE NAME=%s CENTER=%s,%s POLYGON=[[%s,%s],[%s,%s],[%s,%s]]" % (
                    o, fmt(c[0]), fmt(c[1]), fmt(c[0] - 5), fmt(c[1] - 5),
                    fmt(c[0] + 5), fmt(c[1] - 5), fmt(c[0]), fmt(c[1] + 5)))
        layer = 0
        z0 = self.pos[2]
        lh = rnd.choice([0.1, 0.2, 0.28])
        while len(self.lines) < nmoves:
            layer += 1
            z = z0 + layer * lh
            if not self.region.inside([self.pos[0], self.pos[1], z], 0.):
                break
            if flavour == "cura":
                em(";LAYER:%d" % (layer - 1))
            else:
                em(";LAYER_CHANGE")
                em(";Z:%s" % fmt(z))
                em(";HEIGHT:%s" % fmt(lh))
            if rnd.random() < 0.3:
                em("M73 P%d R%d" % (min(99, layer * 3), max(0, 12 - layer)))
            self.retract(flavour)
            self.move_to([self.pos[0], self.pos[1], z], 0., rnd.choice([600, 720, 9000]),
                         axes="Z")
            if flavour in ("prusa", "super", "orca") and rnd.random() < 0.5:
                em("M204 S%d" % rnd.choice([800, 1000, 1500]))
            if layer == 2:
                em("M106 S%d" % rnd.choice([127, 255]))
            for o in objects:
                if self.cfg.has_exclude:
                    em("EXCLUDE_OBJECT_START NAME=%s" % o)
                elif flavour in ("prusa", "super"):
                    em("M486 S%d" % objects.index(o))
                c = self.region.sample(rnd, 0.5)
                c[2] = z
                r = rnd.uniform(3, max(4, self.region.span() * 0.15))
                n = rnd.choice([4, 6, 12, 36])
                pts = []
                ok = True
                for i in range(n + 1):
                    a = 2 * math.pi * i / n
                    p = [c[0] + r * math.cos(a), c[1] + r * math.sin(a), z]
                    ok = ok and self.region.inside(p, 0.)
                    pts.append(p)
                if not ok:
                    continue
                em(";TYPE:External perimeter" if flavour != "cura" else ";TYPE:WALL-OUTER")
                self.move_to(pts[0], 0., rnd.choice([7800, 9000, 12000]))
                self.unretract(flavour)
                f = rnd.choice([1200, 1500, 2700])
                for i, p in enumerate(pts[1:]):
                    self.move_to(p, math.dist(p[:2], self.pos[:2]) * self.e_ratio(0.5),
                                 f if i == 0 else None)
                # infill zigzag
                em(";TYPE:Solid infill" if flavour != "cura" else ";TYPE:FILL")
                y = c[1] - r * 0.6
                while y < c[1] + r * 0.6 and len(self.lines) < nmoves:
                    x1, x2 = c[0] - r * 0.6, c[0] + r * 0.6
                    p1, p2 = [x1, y, z], [x2, y, z]
                    if rnd.random() < 0.5:
                        p1, p2 = p2, p1
                    self.move_to(p1, 0., None)
                    self.move_to(p2, math.dist(p1[:2], p2[:2]) * self.e_ratio(0.6),
                                 rnd.choice([None, 3000, 4800]))
                    y += rnd.choice([0.45, 0.9, 2.0])
                    if flavour == "cura" and rnd.random() < 0.2:
                        em("G1 F1500 E%s" % fmt((self.e - self.base[3]) / self.efactor, 5)
                           if self.abs_e else "G1 F1500 E0")
                self.retract(flavour)
                if self.cfg.has_exclude:
                    em("EXCLUDE_OBJECT_END NAME=%s" % o)
                    if rnd.random() < 0.25 and o != objects[0]:
                        em("EXCLUDE_OBJECT NAME=%s" % o)
                elif flavour in ("prusa", "super"):
                    em("M486 S-1")
                if flavour in ("prusa", "super", "orca") and rnd.random() < 0.3:
                    em("G92 E0")
                    self.base[3] = self.e
        em("M107")
        em("M104 S0")
        em("M84" if rnd.random() < 0.3 else "M400")
        return self.lines

    def retract(self, flavour):
        if self.cfg.has_retraction and self.rnd.random() < 0.5:
            if not self.retracted:
                self.emit("G10 ; retract")
                self.retracted = True
            self.emit("G92 E0") if self.abs_e else None
            if self.abs_e:
                self.base[3] = self.e
            return
        if self.rnd.random() < 0.7:
            self.emit("G1" + self.ecoord(-0.8) + " F2100")

    def unretract(self, flavour):
        if self.retracted:
            self.emit("G11 ; unretract")
            self.retracted = False
            if self.abs_e:
                self.emit("G92 E0")
                self.base[3] = self.e
            return
        if self.rnd.random() < 0.7:
            self.emit("G1" + self.ecoord(0.8) + " F2100")


# Upstream's serialqueue thread races the exit: what the final flush queues may not
# be written (more often the bigger it is).  Waiting for the moves and giving upstream
# a few more input blocks to read lets its flush timer and writer finish first.
PADDING = ["M400"] + ["M105"] * 1500


# ---------------------------------------------------------------- move transforms


def shrink_region(reg, xy, z):
    if isinstance(reg, Box):
        reg.lo = [reg.lo[0] + xy, reg.lo[1] + xy, reg.lo[2] + z]
        reg.hi = [reg.hi[0] - xy, reg.hi[1] - xy, reg.hi[2] - z]
    else:
        reg.r -= xy
        reg.zlo += z
        reg.zhi -= z


def region_bounds(reg):
    if isinstance(reg, Box):
        return reg.lo[0], reg.hi[0], reg.lo[1], reg.hi[1]
    return reg.cx - reg.r, reg.cx + reg.r, reg.cy - reg.r, reg.cy + reg.r


def add_transforms(xr, cfg):
    """bed_mesh (stored profiles) or bed_tilt, and/or skew_correction (--xform).

    Drawn from their own random stream xr; returns the commands that may be
    inserted into the program.  The regions shrink so the corrected moves stay
    inside the printer's limits."""
    for reg in [cfg.region] + (list(cfg.dual[1]) if cfg.dual else []):
        shrink_region(reg, 2., 1.)
    x0, x1, y0, y1 = region_bounds(cfg.region)
    if cfg.dual:
        x0 = min(region_bounds(r)[0] for r in cfg.dual[1])
        x1 = max(region_bounds(r)[1] for r in cfg.dual[1])
    cmds = []
    kind = xr.choice(["mesh", "mesh", "tilt", "none"])
    if kind == "mesh":
        opts = [("mesh_min", "%s,%s" % (fmt(x0), fmt(y0))),
                ("mesh_max", "%s,%s" % (fmt(x1), fmt(y1))), ("probe_count", "3,3")]
        r = xr.random()
        if r < 0.4:
            opts += [("fade_start", fmt(xr.choice([0.5, 1, 2]))),
                     ("fade_end", fmt(xr.choice([5, 10, 30])))]
            if xr.random() < 0.3:
                opts.append(("fade_target", fmt(xr.choice([0, 0.1]), 3)))
        elif r < 0.5:
            opts.append(("fade_end", "0"))
        if xr.random() < 0.3:
            opts.append(("split_delta_z", fmt(xr.choice([0.001, 0.025, 0.1]), 4)))
        if xr.random() < 0.3:
            opts.append(("move_check_distance", fmt(xr.choice([3, 5, 20]))))
        cfg.add("bed_mesh", opts)
        names = []
        for k in range(xr.choice([1, 2])):
            algo = xr.choice(["lagrange", "bicubic"])
            nx = xr.choice([4, 5, 6] if algo == "bicubic" else [2, 3, 4, 5])
            ny = xr.choice([4, 5] if algo == "bicubic" else [2, 3, 4])
            # a sub-rectangle (moves also leave it: lookups clamp)
            a, b = sorted(xr.uniform(x0, x1) for _ in range(2))
            c, d = sorted(xr.uniform(y0, y1) for _ in range(2))
            if b - a < 10 or d - c < 10:
                a, b, c, d = x0, x1, y0, y1
            scale = xr.choice([0.05, 0.2, 0.45])
            rows = ["  " + ", ".join(fmt(xr.uniform(-scale, scale), 6) for _ in range(nx))
                    for _ in range(ny)]
            name = "p%d" % k
            cfg.add("bed_mesh " + name, [
                ("version", "1"), ("points", "\n" + "\n".join(rows)),
                ("x_count", str(nx)), ("y_count", str(ny)),
                ("mesh_x_pps", str(xr.choice([0, 1, 2, 3]))),
                ("mesh_y_pps", str(xr.choice([0, 2, 3]))),
                ("algo", algo), ("tension", fmt(xr.choice([0.2, 0.5]))),
                ("min_x", fmt(a, 3)), ("max_x", fmt(b, 3)),
                ("min_y", fmt(c, 3)), ("max_y", fmt(d, 3))])
            names.append(name)
        cmds += [("BED_MESH_PROFILE LOAD=" + n, 6) for n in names]
        cmds += [("BED_MESH_CLEAR", 2), ("BED_MESH_OFFSET X=%s Y=%s" % (
            fmt(xr.uniform(-5, 5), 2), fmt(xr.uniform(-5, 5), 2)), 1),
            ("BED_MESH_OFFSET ZFADE=%s" % fmt(xr.choice([0, 0.5, 3]), 2), 1)]
    elif kind == "tilt":
        cfg.add("bed_tilt", [("x_adjust", fmt(xr.uniform(-0.002, 0.002), 6)),
                             ("y_adjust", fmt(xr.uniform(-0.002, 0.002), 6)),
                             ("z_adjust", fmt(xr.uniform(-0.3, 0.3), 3))])
    if xr.random() < 0.6:
        cfg.add("skew_correction", [])
        for k in range(xr.choice([1, 2])):
            cfg.add("skew_correction s%d" % k, [
                (n, fmt(xr.uniform(-0.003, 0.003), 6))
                for n in ("xy_skew", "xz_skew", "yz_skew")])
            cmds.append(("SKEW_PROFILE LOAD=s%d" % k, 4))
        cmds.append(("SET_SKEW CLEAR=1", 2))
        ac = xr.uniform(140, 142)
        bd = xr.uniform(140, 142)
        cmds.append(("SET_SKEW XY=%s,%s,%s" % (fmt(ac, 2), fmt(bd, 2), fmt(100., 2)), 2))
        if xr.random() < 0.5:
            cmds.append(("SET_SKEW XZ=%s,%s,%s YZ=%s,%s,%s" % (
                fmt(xr.uniform(140, 142), 2), fmt(xr.uniform(140, 142), 2), "100",
                fmt(xr.uniform(140, 142), 2), fmt(xr.uniform(140, 142), 2), "100"), 1))
    return cmds


def insert_transforms(xr, lines, cmds):
    """Transform commands at random points after the first move."""
    if not cmds:
        return lines
    first = next((i for i, l in enumerate(lines) if l.startswith(("G0 ", "G1 "))), len(lines))
    out = lines[:first + 1]
    texts, weights = [c for c, _ in cmds], [w for _, w in cmds]
    # start with the first profile loaded half of the time
    if xr.random() < 0.5:
        out.append(texts[0])
    for line in lines[first + 1:]:
        out.append(line)
        if xr.random() < 0.04:
            out.append(xr.choices(texts, weights)[0])
    return out


def make_case(kin, seed, nmoves, style, pad=True, xform=False, pin_names=None):
    rnd = random.Random("%s:%d" % (kin, seed))
    cfg = build_config(rnd, kin, pin_names)
    xcmds = []
    if xform:
        xr = random.Random("%s:%d:xform" % (kin, seed))
        xcmds = add_transforms(xr, cfg)
    if style == "mixed":
        style = rnd.choice(["random", "random", "slicer"])
    gen = GCodeGen(rnd, cfg, style)
    if style == "slicer":
        lines = gen.slicer_program(nmoves)
    else:
        lines = gen.random_program(nmoves)
    if xform:
        lines = insert_transforms(xr, lines, xcmds)
    if pad:
        lines = lines + PADDING
    return cfg.text(), "\n".join(lines) + "\n"

# ---------------------------------------------------------------- running


class Runner:
    def __init__(self, args, conf):
        self.args = args
        self.conf = conf
        self.dict_path = args.dict
        self.dictionary = conf.Dictionary(self.dict_path)
        self.tolerance = 0.000050 * self.dictionary.clock_freq
        self.flaky = 0
        self.hangs = 0

    def run_one(self, cmd, cfg, gcode, out):
        args = cmd + [cfg, "-i", gcode, "-o", out, "-d", self.dict_path]
        logfile = out + ".log"
        if os.path.exists(logfile):
            os.unlink(logfile)
        args += ["-l", logfile]
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=self.args.timeout)
            code, err = r.returncode, (r.stderr or "") + (r.stdout or "")
        except subprocess.TimeoutExpired:
            code, err = -1, "timed out"
        if os.path.exists(logfile):
            err = open(logfile, errors="replace").read() + err
        lines = []
        if os.path.exists(out):
            lines = self.conf.decode(self.dictionary, open(out, "rb").read())
        return code, err, lines

    def compare(self, cfg_text, gcode_text, keep=None):
        tmp = tempfile.mkdtemp(prefix="mfuzz")
        try:
            cfg = os.path.join(tmp, "printer.cfg")
            gc = os.path.join(tmp, "test.gcode")
            open(cfg, "w").write(cfg_text)
            open(gc, "w").write(gcode_text)
            up = [sys.executable if self.args.python is None else self.args.python,
                  os.path.join(self.args.upstream, "klippy.py")]
            t0 = time.time()
            ucode, uerr, ulines = self.run_one(up, cfg, gc, os.path.join(tmp, "up.out"))
            if ucode == -1:
                # upstream hangs now and then too: one more try
                ucode, uerr, ulines = self.run_one(up, cfg, gc, os.path.join(tmp, "up.out"))
            t1 = time.time()
            kcode, kerr, klines = self.run_one(shlex.split(self.args.host), cfg, gc,
                                               os.path.join(tmp, "ks.out"))
            t2 = time.time()
            why = None
            if ucode < -1:
                # upstream died on a signal (its queue_append_far writes past a
                # full step queue, see the README): nothing to compare against
                return "SKIP upstream crashed (signal %d: %s)" % (-ucode, last_error(uerr)), \
                    {"upstream_exit": ucode, "klipsharp_exit": kcode, "upstream_error": "",
                     "secs": (t1 - t0, 0.), "lines": len(ulines)}
            if kcode == -1 and ucode != -1:
                # retry once to tell a hang from a slow machine
                kcode, kerr, klines = self.run_one(shlex.split(self.args.host), cfg, gc,
                                                   os.path.join(tmp, "ks.out"))
                self.hangs += 1
            if kcode == -1 and ucode != -1:
                why = "klipsharp timed out (twice)"
            elif (ucode == 0) != (kcode == 0):
                why = "exit status: upstream %d (%s) klipsharp %d (%s)" % (
                    ucode, last_error(uerr), kcode, last_error(kerr))
            elif ucode != 0:
                # as the corpus checker: a failing run is compared by status
                pass
            else:
                n, diff = self.conf.compare_streams(ulines, klines, None,
                                                    tolerance=self.tolerance)
                # Upstream's serialqueue thread races the main thread: the last
                # messages queued at exit may be dropped, and messages of one
                # object queued on different command queues (homing's trsync
                # commands and the first steps) may be written in either order,
                # depending on the machine load.  On a difference rerun upstream:
                # any of its runs matching counts as a match.
                tries = 0
                first_diff = diff
                while diff and tries < self.args.retries:
                    tries += 1
                    c2, e2, l2 = self.run_one(up, cfg, gc, os.path.join(tmp, "up.out"))
                    if c2 != ucode:
                        continue
                    n2, diff2 = self.conf.compare_streams(
                        l2, klines, None, tolerance=self.tolerance)
                    if not diff2:
                        ulines, uerr, diff = l2, e2, None
                        self.flaky += 1
                        if self.args.v:
                            print("  (upstream rerun %d matched; first run: %s)"
                                  % (tries, first_diff[:150]), flush=True)
                ptime = print_time(kerr)
                if diff and ptime is not None and \
                        ptime * self.dictionary.clock_freq > LONG_PRINT_CLOCKS:
                    # upstream's batch output paces messages by wall-clock time
                    # (1e12 ticks/s): a print this long ends before its last
                    # messages are due, so upstream's stream is cut short
                    return "SKIP print time %.0fs too long for upstream's batch output" % (
                        ptime,), {"upstream_exit": ucode, "klipsharp_exit": kcode,
                                  "upstream_error": "", "secs": (t1 - t0, t2 - t1),
                                  "lines": len(ulines)}
                if diff:
                    why = diff
                else:
                    # GET_POSITION's G-code state lines (gcode_move), in order
                    up_pos, ks_pos = positions(uerr), positions(kerr)
                    if up_pos != ks_pos:
                        i = next((i for i, (a, b) in enumerate(zip(up_pos, ks_pos))
                                  if a != b), min(len(up_pos), len(ks_pos)))
                        why = "GET_POSITION line %d: expected [%s] got [%s]" % (
                            i + 1, up_pos[i] if i < len(up_pos) else "<end>",
                            ks_pos[i] if i < len(ks_pos) else "<end>")
            info = {"upstream_exit": ucode, "klipsharp_exit": kcode,
                    "upstream_error": last_error(uerr) if ucode else "",
                    "secs": (t1 - t0, t2 - t1), "lines": len(ulines)}
            if keep is not None and why:
                os.makedirs(keep, exist_ok=True)
                shutil.copy(cfg, os.path.join(keep, "printer.cfg"))
                shutil.copy(gc, os.path.join(keep, "test.gcode"))
                open(os.path.join(keep, "upstream.txt"), "w").write("\n".join(ulines) + "\n")
                open(os.path.join(keep, "klipsharp.txt"), "w").write("\n".join(klines) + "\n")
                open(os.path.join(keep, "upstream.log"), "w").write(uerr)
                open(os.path.join(keep, "klipsharp.log"), "w").write(kerr)
                open(os.path.join(keep, "why.txt"), "w").write(why + "\n")
            return why, info
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


POSITION_PREFIXES = ("toolhead: X:", "gcode: X:", "gcode base: X:", "gcode homing: X:")


def positions(log):
    out = []
    for line in log.splitlines():
        if line.startswith("INFO:root:"):
            line = line[len("INFO:root:"):]
        if line.startswith(POSITION_PREFIXES):
            out.append(line.strip())
    return out


# MCU clocks of print time beyond which upstream's batch output is cut short (3000 s
# at 16 MHz): it releases each message when its clock is due at 1e12 clocks per
# second of wall time, and exits without waiting for the rest.
LONG_PRINT_CLOCKS = 3000. * 16e6


def print_time(log):
    """The print time klippy reports at exit, or None."""
    for line in reversed(log.splitlines()):
        if line.startswith("Exiting (print time "):
            try:
                return float(line[len("Exiting (print time "):].split("s")[0])
            except ValueError:
                return None
    return None


def last_error(text):
    lines = [l for l in text.splitlines() if l.strip()]
    for l in reversed(lines):
        if (l.startswith(("WARNING:root:", "ERROR:root:", "!! ")) or "Error" in l
                or "error" in l) and "Exiting" not in l:
            return l.strip()[:200]
    return lines[-1].strip()[:200] if lines else ""


def minimize(runner, cfg_text, lines, verbose):
    """ddmin over the G-code lines after the first G28 (kept)."""
    head_n = next((i + 1 for i, l in enumerate(lines) if l.split(";")[0].strip()
                   .startswith("G28")), 0)
    head, body = lines[:head_n], lines[head_n:]
    tail = []
    if body[-len(PADDING):] == PADDING:
        body, tail = body[:-len(PADDING)], PADDING

    def fails(b):
        why, _ = runner.compare(cfg_text, "\n".join(head + b + tail) + "\n")
        return why is not None and not why.startswith("SKIP")

    n = 2
    while len(body) >= 2:
        chunk = max(1, len(body) // n)
        reduced = False
        for i in range(0, len(body), chunk):
            cand = body[:i] + body[i + chunk:]
            if cand and fails(cand):
                body = cand
                n = max(n - 1, 2)
                reduced = True
                if verbose:
                    print("  minimise: %d lines" % len(body), flush=True)
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(body), n * 2)
    return head + body + tail


def parse_seeds(s):
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="copy of upstream klippy/")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--host", default=os.path.join(REPO, "klipsharp") + " batch")
    ap.add_argument("--conformance", default=DEFAULT_TOOLS)
    ap.add_argument("--dict", default=DEFAULT_DICT)
    ap.add_argument("--kin", default="all")
    ap.add_argument("--seeds", default="0-9")
    ap.add_argument("--moves", type=int, default=150)
    ap.add_argument("--style", default="mixed", choices=["random", "slicer", "mixed"])
    ap.add_argument("--out", default="/tmp/motion-fuzz")
    ap.add_argument("--minimize", action="store_true")
    ap.add_argument("--no-pad", action="store_true",
                    help="do not end the G-code with M400 and idle lines")
    ap.add_argument("--xform", action="store_true",
                    help="add move transforms (bed_mesh profiles, bed_tilt, "
                    "skew_correction) and their commands")
    ap.add_argument("--timeout", type=float, default=120.)
    ap.add_argument("--retries", type=int, default=6,
                    help="upstream reruns on a difference (upstream's own races)")
    ap.add_argument("--replay", help="rerun a saved case directory")
    ap.add_argument("--print", action="store_true",
                    help="only write the generated case(s) to --out")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args()
    conf = load_conformance(args.conformance)
    runner = Runner(args, conf)
    if args.replay:
        cfg = open(os.path.join(args.replay, "printer.cfg")).read()
        gfile = os.path.join(args.replay, "min.gcode")
        if not os.path.exists(gfile):
            gfile = os.path.join(args.replay, "test.gcode")
        why, info = runner.compare(cfg, open(gfile).read(), keep=args.replay)
        if why is not None and why.startswith("SKIP"):
            print(why, info)
            return 0
        print("FAIL: %s" % why if why else "PASS", info)
        return 1 if why else 0
    kins = KINEMATICS if args.kin == "all" else args.kin.split(",")
    pin_names = mcu_pin_names(args.dict)
    passed = failed = skipped = 0
    failures = []
    for seed in parse_seeds(args.seeds):
        for kin in kins:
            cfg, gcode = make_case(kin, seed, args.moves, args.style, not args.no_pad,
                                   args.xform, pin_names)
            name = "%s-%d%s" % (kin, seed, "-xform" if args.xform else "")
            keep = os.path.join(args.out, name)
            if args.print:
                os.makedirs(keep, exist_ok=True)
                open(os.path.join(keep, "printer.cfg"), "w").write(cfg)
                open(os.path.join(keep, "test.gcode"), "w").write(gcode)
                continue
            why, info = runner.compare(cfg, gcode, keep=keep)
            if why is not None and why.startswith("SKIP"):
                skipped += 1
                print("%s %s" % (name, why), flush=True)
                continue
            if why is None:
                passed += 1
                if args.v:
                    print("PASS %s (%d msgs, exit %d%s, %.1fs+%.1fs)" % (
                        name, info["lines"], info["upstream_exit"],
                        " " + info["upstream_error"] if info["upstream_error"] else "",
                        info["secs"][0], info["secs"][1]), flush=True)
                continue
            failed += 1
            failures.append(name)
            print("FAIL %s: %s" % (name, why), flush=True)
            if args.minimize:
                lines = gcode.splitlines()
                small = minimize(runner, cfg, lines, args.v)
                open(os.path.join(keep, "min.gcode"), "w").write("\n".join(small) + "\n")
                why2, _ = runner.compare(cfg, "\n".join(small) + "\n",
                                         keep=os.path.join(keep, "min"))
                print("  minimised to %d lines (%s): %s" % (
                    len(small), os.path.join(keep, "min", "test.gcode"), why2), flush=True)
    if not args.print:
        print("%d passed, %d failed, %d skipped (%d passed only on an upstream rerun, "
              "%d klipsharp timeouts retried)" % (passed, failed, skipped, runner.flaky,
                                                 runner.hangs))
        if failures:
            print("failed: " + " ".join(failures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
