#!/usr/bin/env python3
# Generate random motion scenarios for the differential tests (see README.md).
# Usage: gen_scenarios.py OUTDIR COUNT [SEED]
import math, os, random, sys

def fmt(v):
    return repr(float(v))

class Gen:
    def __init__(self, rnd):
        self.r = rnd
        self.lines = []
    def out(self, *args):
        self.lines.append(" ".join(str(a) for a in args))

    def trapezoid(self, start_v, dist, max_v, accel):
        # Return (accel_t, cruise_t, decel_t, cruise_v, end_v) covering dist
        r = self.r
        end_v = r.choice([0., 0., r.uniform(0., max_v)])
        cruise_v = max(max_v, start_v, end_v)
        accel_d = (cruise_v**2 - start_v**2) / (2. * accel)
        decel_d = (cruise_v**2 - end_v**2) / (2. * accel)
        if accel_d + decel_d > dist:
            # No room to reach max_v: peak velocity where accel meets decel
            peak2 = (2. * accel * dist + start_v**2 + end_v**2) / 2.
            if peak2 < max(start_v, end_v)**2:
                end_v = min(end_v, math.sqrt(max(0., start_v**2 + 2.*accel*dist)))
                start_v = min(start_v, math.sqrt(end_v**2 + 2.*accel*dist))
                peak2 = max(start_v, end_v)**2
            cruise_v = math.sqrt(peak2)
            accel_d = (cruise_v**2 - start_v**2) / (2. * accel)
            decel_d = (cruise_v**2 - end_v**2) / (2. * accel)
        cruise_d = max(0., dist - accel_d - decel_d)
        accel_t = (cruise_v - start_v) / accel
        decel_t = (cruise_v - end_v) / accel
        cruise_t = cruise_d / cruise_v if cruise_v > 0. else 0.
        return start_v, accel_t, cruise_t, decel_t, cruise_v, end_v

    def scenario(self, kind):
        r = self.r
        out = self.out
        freqs = [16000000., 72000000., 12000000., 180000000., 400000000.]
        nmcu = r.choice([1, 1, 2])
        for s in range(nmcu):
            out("mcu", s, r.choice([16, 100, 500]))
        out("trapq", 0)
        out("trapq", 1)
        steppers = []
        oid = 0
        def add_stepper(sid, mcu, kin, arg, step_dist, tq):
            nonlocal oid
            max_error = r.choice([0, 25, 200, 1000])
            out("stepper", sid, mcu, kin, arg, oid, max_error, r.choice([0, 1]),
                fmt(step_dist), tq)
            steppers.append(sid)
            oid += 1
        sd = lambda: r.choice([0.0125, 0.00625, 0.01, 0.04, 0.0025, 0.1, 0.001])
        # Seconds of step generation per flush (long ones fill the 64K step queue)
        gen_step = r.choice([0.25, 0.25, 0.25, 1.0, 2.5])
        if kind == "cart":
            for i, ax in enumerate("xyz"):
                add_stepper(i, i % nmcu, "cart", ax, sd(), 0)
        elif kind == "corexy":
            add_stepper(0, 0, "corexy", "+", sd(), 0)
            add_stepper(1, nmcu - 1, "corexy", "-", sd(), 0)
            add_stepper(2, 0, "cart", "z", sd(), 0)
        else:
            add_stepper(0, 0, "corexz", "+", sd(), 0)
            add_stepper(1, 0, "corexz", "-", sd(), 0)
            add_stepper(2, nmcu - 1, "cart", "y", sd(), 0)
        has_extruder = r.random() < .7
        smooth = 0.
        if has_extruder:
            add_stepper(4, nmcu - 1, "extruder", "_", r.choice([0.002, 0.001, 0.01]), 1)
        has_pwm = r.random() < .4
        if has_pwm:
            out("emitter", 9, 0)
        for s in range(nmcu):
            offset = r.choice([0., 0., r.uniform(-3., 0.)])
            out("settime", s, fmt(offset), fmt(r.choice(freqs)))
        pos = [r.uniform(0, 100) for i in range(3)]
        epos = 0.
        for sid in steppers:
            if sid == 4:
                out("skpos", sid, fmt(epos), 0., 0.)
            else:
                out("skpos", sid, fmt(pos[0]), fmt(pos[1]), fmt(pos[2]))
        kin_flush_delay = 0.001
        if has_extruder and r.random() < .8:
            smooth = r.choice([0.04, 0.02, 0.1])
            out("pa", 4, 0., fmt(r.choice([0., 0.05, 0.1])), fmt(smooth))
            kin_flush_delay = max(kin_flush_delay, smooth * .5)
        # (A first move just after 1s would let pressure advance smoothing read
        # before the trapq head, which is undefined upstream.)
        print_time = r.choice([r.uniform(0.1, 0.9), r.uniform(1.2, 3.)])
        last_sg = 0.
        last_flush = 0.
        nmoves = r.randint(10, 60)
        start_v = 0.
        pwm_clock = 0
        def gen_to(sg_time):
            nonlocal last_sg, last_flush
            flush_time = max(last_flush, sg_time - 0.050)
            sg_time = max(sg_time, last_sg, flush_time)
            free_time = sg_time - kin_flush_delay
            clear = max(0., free_time - 30.)
            out("gen", fmt(flush_time), fmt(sg_time), fmt(clear))
            last_sg, last_flush = sg_time, flush_time
            out("finalize", 0, fmt(free_time), fmt(clear))
            out("finalize", 1, fmt(free_time), fmt(clear))
        for mi in range(nmoves):
            # Random direction; often axis aligned
            c = r.random()
            if c < .3:
                axes = [0., 0., 0.]
                axes[r.randrange(3)] = r.choice([-1., 1.])
            else:
                axes = [r.gauss(0, 1) for i in range(3)]
                if r.random() < .7:
                    axes[2] = 0.
                n = math.sqrt(sum(a*a for a in axes)) or 1.
                axes = [a / n for a in axes]
            dist = r.choice([r.uniform(0.001, 0.5), r.uniform(0.5, 10.), r.uniform(10., 60.)])
            max_v = r.choice([5., 50., 150., 300., r.uniform(1., 400.)])
            accel = r.choice([500., 3000., 10000., r.uniform(100., 20000.)])
            if r.random() < .3:
                start_v = 0.
            start_v = min(start_v, max_v)
            sv, at, ct, dt, cv, ev = self.trapezoid(start_v, dist, max_v, accel)
            out("append", 0, fmt(print_time), fmt(at), fmt(ct), fmt(dt),
                fmt(pos[0]), fmt(pos[1]), fmt(pos[2]),
                fmt(axes[0]), fmt(axes[1]), fmt(axes[2]), fmt(sv), fmt(cv), fmt(accel))
            move_d = ((sv + cv) * .5 * at + cv * ct + (cv + ev) * .5 * dt)
            if has_extruder and r.random() < .8:
                ratio = r.choice([0.03, 0.05, -1., 0.04])
                can_pa = 1. if ratio > 0 and axes[2] == 0. else 0.
                # As klippy's extruder: axes_r x is 1, velocities carry the sign
                out("append", 1, fmt(print_time), fmt(at), fmt(ct), fmt(dt),
                    fmt(epos), 0., 0., 1., fmt(can_pa), 0.,
                    fmt(sv * ratio), fmt(cv * ratio), fmt(accel * ratio))
                epos += move_d * ratio
            pos = [p + a * move_d for p, a in zip(pos, axes)]
            end_time = print_time + at + ct + dt
            start_v = ev
            if has_pwm and r.random() < .2:
                pwm_clock += r.randint(1000, 1000000)
                out("queue_msg", 9, pwm_clock, 20, 9, pwm_clock, r.randint(0, 255))
            if r.random() < .1 and has_extruder and smooth:
                # Change pressure advance for upcoming moves (same smooth time)
                out("pa", 4, fmt(end_time), fmt(r.choice([0.02, 0.08, 0.2])), fmt(smooth))
            if r.random() < .05 and has_extruder:
                # SET_PRESSURE_ADVANCE with a new smooth time: klippy flushes all
                # step generation first, then sets it with print_time 0
                while last_sg < end_time + kin_flush_delay:
                    gen_to(last_sg + gen_step)
                pa_val = r.choice([0., 0.03, 0.1])
                smooth = r.choice([0.01, 0.04, 0.2]) if pa_val else 0.
                out("pa", 4, 0.0, fmt(pa_val), fmt(smooth))
                kin_flush_delay = max(0.001, smooth * .5)
                # A larger window must not reach before the trapq head (undefined
                # upstream): resume after the next move's 1s null-move lead-in
                end_time = last_sg + 1.5
            # Sometimes pause (dwell), occasionally for a long time
            pause = 0.
            if r.random() < .15:
                pause = r.choice([0.01, 0.3, 2., 60.])
                start_v = 0.
            # Look-ahead: generate steps up to a while before the queue end
            while last_sg + gen_step < end_time - 0.5:
                gen_to(last_sg + gen_step)
            print_time = end_time + pause
            if r.random() < .05:
                for sid in steppers:
                    out("find", sid, r.randint(0, int(print_time * 1000000)))
                    out("cmdpos", sid)
                    out("active", sid, fmt(print_time))
                out("extract_tq", 0, r.choice([1, 5, 100]), fmt(max(0., print_time - 3.)), fmt(print_time))
                out("extract_tq", 1, 100, 0., fmt(print_time))
                out("extract_sc", steppers[0], r.choice([1, 5, 100]), 0, 18446744073709551615)
            if r.random() < .04:
                # Full stop and set_position, as homing/G92 do
                while last_sg < print_time + kin_flush_delay:
                    gen_to(last_sg + gen_step)
                gen_to(print_time + kin_flush_delay + 0.3)
                pos = [r.uniform(0, 100) for i in range(3)]
                out("tq_setpos", 0, fmt(print_time), fmt(pos[0]), fmt(pos[1]), fmt(pos[2]))
                for sid in steppers:
                    if sid != 4:
                        out("skpos", sid, fmt(pos[0]), fmt(pos[1]), fmt(pos[2]))
                if r.random() < .5:
                    sid = r.choice([s for s in steppers if s != 4])
                    out("reset", sid, 0)
                    out("queue_msg", sid, 0, 12, sid, 0)
                    out("setlastpos", sid, int((print_time + .5) * 1000), r.randint(-1000, 1000))
                # New moves always start after the last step generation time
                print_time = max(print_time, last_sg) + 0.5
                start_v = 0.
        while last_sg < print_time + kin_flush_delay + 0.25:
            gen_to(last_sg + gen_step)
        for sid in steppers:
            out("cmdpos", sid)
            out("extract_sc", sid, 20, 0, 18446744073709551615)
        out("extract_tq", 0, 20, 0., 1e9)

def main():
    outdir = sys.argv[1]
    count = int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.makedirs(outdir, exist_ok=True)
    kinds = ["cart", "corexy", "corexz"]
    for i in range(count):
        g = Gen(random.Random(seed * 100003 + i))
        g.scenario(kinds[i % len(kinds)])
        with open(os.path.join(outdir, "scenario%03d.txt" % i), "w") as f:
            f.write("\n".join(g.lines) + "\n")

if __name__ == '__main__':
    main()
