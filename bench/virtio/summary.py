#!/usr/bin/env python3
"""Summary of a bench/virtio or bench/boot run: every round per figure, medians, ratios against a reference variant
(of the medians, and paired by round), and, for bench/virtio, the VMM's CPU time per GiB moved.

    summary.py RESULTS [--ref VARIANT]

RESULTS holds lines written by the inner.sh scripts:
    R VARIANT ROUND FIGURE VALUE UNIT [KEY=VALUE ...]       one figure of one run
    M VARIANT ROUND MARK TEXT... KEY=VALUE ...              a phase mark sampled in L1 by `netbench serve`
                                                            (TEXT "begin FIGURE", "end FIGURE", "boot", "end-all")
CPU per GiB: for a figure with marks around it and bytes=N in its R line, the VMM's CPU time between the two marks,
(ticks + vhost_out) / hz, divided by N / 2^30: utime+stime of the whole VMM process (/proc/PID/stat fields 14 and
15; this includes its vCPU threads, hence the guest's own time, and its vhost workers, which are threads of the VMM
since Linux 6.4) plus vhost kthreads outside it (kernels before 6.4). Shown with two parts: of it, the vhost workers'
(vhost_in + vhost_out) and the guest's (guest_time, field 43: time the vCPU threads spent running the guest). For a
figure with n=N transactions (udp), CPU µs per transaction instead.
"""
import math
import statistics
import sys
from collections import OrderedDict, defaultdict

HIGHER = {"MB/s", "IOPS", "tx/s"}


def better(unit):
    return "higher" if unit in HIGHER else "lower"


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def fmt(v):
    if v is None:
        return "NA"
    if v == int(v) and abs(v) >= 10:
        return "%d" % v
    if abs(v) >= 1000:
        return "%.0f" % v
    if abs(v) >= 100:
        return "%.1f" % v
    if abs(v) >= 1:
        return "%.2f" % v
    return "%.3f" % v


def table(head, rows):
    """Prints head and rows as columns padded to their widest cell."""
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(x).ljust(widths[i]) for i, x in enumerate(r)).rstrip())


def kv(tokens):
    d = {}
    for t in tokens:
        if "=" in t:
            k, v = t.split("=", 1)
            d[k] = v
    return d


def main(argv):
    ref = "qemu"
    args = []
    i = 1
    while i < len(argv):
        if argv[i] == "--ref":
            ref = argv[i + 1]
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    values = OrderedDict()              # (figure, unit) -> {variant: [(round, value)]}
    variants = []
    extras = {}                         # (variant, round, figure) -> {key: value}
    marks = defaultdict(dict)           # (variant, round) -> {text: {key: value}}
    rounds = set()

    def add(fig, unit, var, rnd, v):
        values.setdefault((fig, unit), OrderedDict()).setdefault(var, []).append((rnd, v))

    with open(args[0]) as f:
        for line in f:
            t = line.split()
            if len(t) >= 6 and t[0] == "R":
                _, var, rnd, fig, val, unit = t[:6]
                v = num(val)
                if v is None:
                    continue
                if var not in variants:
                    variants.append(var)
                rounds.add(rnd)
                add(fig, unit, var, rnd, v)
                ex = kv(t[6:])
                extras[(var, rnd, fig)] = ex
                base = fig[:-4] if fig.endswith("-p50") else fig
                if "p99_us" in ex and num(ex["p99_us"]) is not None:
                    add(base + "-p99", "us", var, rnd, num(ex["p99_us"]))
                if "tps" in ex and num(ex["tps"]) is not None:
                    add(base + "-rate", "tx/s", var, rnd, num(ex["tps"]))
            elif len(t) >= 5 and t[0] == "M" and t[3] == "MARK":
                var, rnd = t[1], t[2]
                text = " ".join(x for x in t[4:] if "=" not in x)
                marks[(var, rnd)][text] = kv(t[4:])

    # CPU per figure, from the marks
    cpu = OrderedDict()                 # (figure, unit) -> {variant: [(round, total, vhost, guest)]}
    for (var, rnd), m in marks.items():
        boot = m.get("boot")
        if boot and "ticks" in boot:
            hz = float(boot["hz"])
            add("vmm-cpu-to-guest-script", "s", var, rnd, (int(boot["ticks"]) + int(boot["vhost_out"])) / hz)
        last = m.get("end-all")
        if last and "hwm_kib" in last:
            add("peak-rss-after-io", "KiB", var, rnd, float(last["hwm_kib"]))
        for text, b in m.items():
            if not text.startswith("begin ") or "ticks" not in b:
                continue
            fig = text[6:]
            e = m.get("end " + fig)
            ex = extras.get((var, rnd, fig))
            if not e or "ticks" not in e or ex is None:
                continue
            hz = float(b["hz"])
            tot = (int(e["ticks"]) + int(e["vhost_out"]) - int(b["ticks"]) - int(b["vhost_out"])) / hz
            vh = (int(e["vhost_in"]) + int(e["vhost_out"]) - int(b["vhost_in"]) - int(b["vhost_out"])) / hz
            gu = (int(e["guest"]) - int(b["guest"])) / hz
            if "bytes" in ex and num(ex["bytes"]):
                per, unit = 2.0 ** 30 / float(ex["bytes"]), "s/GiB"
            elif "n" in ex and num(ex["n"]):
                per, unit = 1e6 / float(ex["n"]), "us/tx"
            else:
                continue
            cpu.setdefault((fig, unit), OrderedDict()).setdefault(var, []).append((rnd, tot * per, vh * per, gu * per))

    if ref not in variants and variants:
        print("(reference variant %s has no results; ratios against %s)" % (ref, variants[-1]))
        ref = variants[-1]
    others = [v for v in variants if v != ref]
    nround = len(rounds)
    # the warm-up figures (cold-*) last
    values = OrderedDict(sorted(values.items(), key=lambda kv_: kv_[0][0].startswith("cold-")))

    def round_means(lst):
        """round -> the mean of that round's samples (bench/qcow2/seqwrite.sh takes several per VM)"""
        by = defaultdict(list)
        for r, v in lst:
            by[r].append(v)
        return {r: statistics.mean(vs) for r, vs in by.items()}

    several = any(len(per.get(var, [])) > len({r for r, _ in per.get(var, [])})
                  for per in values.values() for var in variants)
    print("== every round, per figure (rounds in order; '-' = no result%s)"
          % ("; a round's mean where it has several samples" if several else ""))
    for (fig, unit), per in values.items():
        parts = []
        for var in variants:
            rs = round_means(per.get(var, []))
            parts.append("%s %s" % (var, " ".join(fmt(rs[r]) if r in rs else "-" for r in sorted(rounds, key=int))))
        print("%s (%s): %s" % (fig, unit, "; ".join(parts)))
    for (fig, unit), per in cpu.items():
        parts = []
        for var in variants:
            rs = {r: tot for r, tot, _, _ in per.get(var, [])}
            parts.append("%s %s" % (var, " ".join(fmt(rs[r]) if r in rs else "-" for r in sorted(rounds, key=int))))
        print("%s CPU (%s): %s" % (fig, unit, "; ".join(parts)))

    print()
    print("== medians over %d round(s); ratios are <variant>/%s of the medians" % (nround, ref))
    print("== higher is better for MB/s, IOPS, tx/s; lower is better for us, ms, s, KiB and CPU (s/GiB, us/tx)")
    head = ["figure", "unit"] + variants + ["%s/%s" % (v, ref) for v in others] + ["better"]
    rows = []

    def med(lst):
        return statistics.median(lst) if lst else None

    def ratio(a, b):
        return a / b if a is not None and b not in (None, 0) else None

    for (fig, unit), per in values.items():
        m = {var: med([v for _, v in per.get(var, [])]) for var in variants}
        rows.append([fig, unit] + [fmt(m[v]) for v in variants] + [fmt(ratio(m[v], m[ref])) for v in others]
                    + [better(unit)])
        c = cpu.get((fig, "s/GiB")) or cpu.get((fig, "us/tx"))
        if c is not None:
            cu = "s/GiB" if (fig, "s/GiB") in cpu else "us/tx"
            cm = {var: med([x[1] for x in c.get(var, [])]) for var in variants}
            rows.append(["  CPU", cu] + [fmt(cm[v]) for v in variants] + [fmt(ratio(cm[v], cm[ref])) for v in others]
                        + ["lower"])
    table(head, rows)

    if nround > 1 and others:
        # the host's speed drifts between rounds (in the lab, 2x over minutes); a variant against the reference in the
        # same round takes that out: the geometric mean over rounds of the ratio of the two rounds' means
        print()
        print("== paired by round: geometric mean over the rounds of <variant>/%s, each round's mean against the "
              "same round's" % ref)
        head = ["figure", "unit"] + ["%s/%s" % (v, ref) for v in others] + ["rounds", "better"]
        rows = []
        for (fig, unit), per in values.items():
            rr = round_means(per.get(ref, []))
            cells, n = [], 0
            for v in others:
                rv = round_means(per.get(v, []))
                logs = [math.log(rv[r] / rr[r]) for r in rv if r in rr and rr[r] > 0 and rv[r] > 0]
                n = max(n, len(logs))
                cells.append(fmt(math.exp(statistics.mean(logs))) if logs else "NA")
            rows.append([fig, unit] + cells + [str(n), better(unit)])
        table(head, rows)

    if cpu:
        print()
        print("== CPU detail, medians: total = VMM process (+ vhost kthreads outside it); of which vhost workers; "
              "of which guest time (vCPU threads in guest mode)")
        for (fig, unit), per in cpu.items():
            parts = []
            for var in variants:
                xs = per.get(var, [])
                if xs:
                    parts.append("%s %s (vhost %s, guest %s)" % (var, fmt(med([x[1] for x in xs])),
                                                                fmt(med([x[2] for x in xs])),
                                                                fmt(med([x[3] for x in xs]))))
            print("%s CPU %s: %s" % (fig, unit, "; ".join(parts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
