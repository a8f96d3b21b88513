#!/usr/bin/env python3
"""Turns the raw measurements of scripts/bench (one data directory) into a markdown report.

Usage: report.py DATA_DIR OUT.md

DATA_DIR holds meta.tsv and labels.tsv (KEY<TAB>VALUE), main_order.txt, rss_order.txt and
notes.txt (one item a line), timing/GROUP-rNN.json (hyperfine exports, one per round),
rss.tsv, instr.tsv, syscalls.tsv (NAME<TAB>NUMBER) and daemons/{snapshot,idle,latency}.json.
Any part may be missing (a skipped section): the report says so instead of failing.
"""

import glob
import json
import os
import statistics
import sys
from collections import defaultdict


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def tsv(path):
    out = {}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                if k:
                    out[k] = v
    except OSError:
        pass
    return out


def lines(path):
    try:
        with open(path) as f:
            return [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return []


def pct(xs, p):
    """Percentile by linear interpolation between closest ranks (p in 0..100)."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def ms(x):
    return f"{x * 1e3:.3f} ms"


def timing(data, group):
    """name -> {times (all rounds), per_round medians, cpu (user+sys, s), runs}."""
    out = defaultdict(lambda: {"times": [], "rounds": [], "cpu": [], "runs": 0})
    for path in sorted(glob.glob(os.path.join(data, "timing", f"{group}-r*.json"))):
        for r in load(path, {}).get("results", []):
            d = out[r["command"]]
            d["times"].extend(r["times"])
            d["rounds"].append(statistics.median(r["times"]))
            d["cpu"].append((r["user"] + r["system"], len(r["times"])))
            d["runs"] += len(r["times"])
    for d in out.values():
        n = sum(k for _, k in d["cpu"])
        d["cpu_mean"] = sum(c * k for c, k in d["cpu"]) / n if n else float("nan")
        d["median"] = statistics.median(d["times"]) if d["times"] else float("nan")
    return dict(out)


def round_ratios(a, b):
    """Per-round ratios of medians a/b (rounds pair up by index)."""
    return [x / y for x, y in zip(a["rounds"], b["rounds"]) if y]


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def main(data, out_path):
    meta = tsv(os.path.join(data, "meta.tsv"))
    labels = tsv(os.path.join(data, "labels.tsv"))
    labels["main_order"] = lines(os.path.join(data, "main_order.txt"))
    labels["rss_order"] = lines(os.path.join(data, "rss_order.txt"))
    notes = lines(os.path.join(data, "notes.txt"))
    targets = []  # (target, measured, verdict)
    o = []
    o.append("# watchdog benchmark")
    o.append("")
    o.append(f"- When: {meta.get('started', '?')} to {meta.get('ended', '?')} "
             f"({meta.get('mode', '?')} mode, {meta.get('elapsed_s', '?')} s in all)")
    o.append(f"- Commit: `{meta.get('commit', '?')}`; binary: `{meta.get('binary', '?')}`")
    o.append(f"- Machine: {meta.get('nproc', '?')} CPUs ({meta.get('cpu', '?')}), "
             f"{meta.get('mem', '?')} memory, Linux {meta.get('kernel', '?')}, "
             f"{meta.get('distro', '?')}")
    o.append(f"- Load average at start / end: {meta.get('load_start', '?')} / "
             f"{meta.get('load_end', '?')} (other work on the machine adds noise; ratios are "
             "taken within the same rounds, so they suffer less from it than absolute times)")
    o.append(f"- Tools: {meta.get('tools', '?')}")
    o.append(f"- Reproduce: `{meta.get('command', 'scripts/bench')}`")
    o.append("")

    # --- Healthy check wall time -------------------------------------------------------
    main_t = timing(data, "main")
    true = main_t.get("true")
    o.append("## Healthy check: wall time per run")
    o.append("")
    rr = meta.get("rounds_main", "?"), meta.get("runs_main", "?")
    o.append(f"hyperfine `-N` (no shell), {rr[0]} rounds of {rr[1]} runs per command, the order "
             "of the commands rotated every round (round-robin); range = p5–p95 of all runs, "
             "min–max beside it; ratio = median / median of `/bin/true`, and the p10–p90 spread "
             "of the same ratio computed round by round. CPU = user + system time per run (mean).")
    o.append("")
    rows = []
    order = [k for k in labels.get("main_order", []) if k in main_t]
    for k in order:
        d = main_t[k]
        if true:
            ratio = f"{d['median'] / true['median']:.2f}x"
            rrs = round_ratios(d, true)
            spread = f"{pct(rrs, 10):.2f}–{pct(rrs, 90):.2f}" if rrs else ""
        else:
            ratio = spread = ""
        rows.append([labels.get(k, k), ms(d["median"]),
                     f"{pct(d['times'], 5) * 1e3:.3f}–{pct(d['times'], 95) * 1e3:.3f}",
                     f"{min(d['times']) * 1e3:.3f}–{max(d['times']) * 1e3:.3f}",
                     ratio, spread, ms(d["cpu_mean"]), d["runs"]])
    if rows:
        o.append(table(["command", "median", "p5–p95 (ms)", "min–max (ms)", "× /bin/true",
                        "× per round (p10–p90)", "CPU/run", "runs"], rows))
    else:
        o.append("(not measured)")
    o.append("")
    chk = main_t.get("check")
    if chk and true:
        r = chk["median"] / true["median"]
        targets.append(("healthy check ≤ 1.15× /bin/true (wall, median)", f"{r:.2f}x",
                        "met" if r <= 1.15 else "NOT met"))
        ssd = main_t.get("ssd_start")
        if ssd:
            r2 = chk["median"] / ssd["median"]
            targets.append(("healthy check ≤ start-stop-daemon's \"already running\"",
                            f"{ms(chk['median'])} vs {ms(ssd['median'])} ({r2:.2f}x)",
                            "met" if r2 <= 1.0 else "NOT met"))
        st = main_t.get("check_static")
        if st:
            r3 = st["median"] / true["median"]
            targets.append(("(same, static build) ≤ 1.15× /bin/true", f"{r3:.2f}x",
                            "met" if r3 <= 1.15 else "NOT met"))

    # --- Peak RSS -------------------------------------------------------------------------
    o.append("## Healthy check: peak resident memory")
    o.append("")
    rss = defaultdict(list)
    try:
        for line in open(os.path.join(data, "rss.tsv")):
            k, v = line.split()
            rss[k].append(int(v))
    except OSError:
        pass
    if rss:
        o.append(f"`/usr/bin/time -f %M` (maximum RSS, KiB), {meta.get('rss_rounds', '?')} "
                 "round-robin rounds.")
        o.append("")
        rows = []
        tmed = statistics.median(rss["true"]) if rss.get("true") else None
        for k in [k for k in labels.get("rss_order", []) if k in rss]:
            m = statistics.median(rss[k])
            rows.append([labels.get(k, k), f"{m:.0f} KiB ({m / 1024:.2f} MiB)",
                         f"{min(rss[k])}–{max(rss[k])}", f"{m / tmed:.2f}x" if tmed else ""])
        o.append(table(["command", "median peak RSS", "min–max (KiB)", "× /bin/true"], rows))
        if rss.get("check"):
            m = statistics.median(rss["check"])
            targets.append(("healthy check peak RSS ≤ 1.2 MiB", f"{m / 1024:.2f} MiB",
                            "met" if m <= 1.2 * 1024 else "NOT met"))
        if rss.get("check_static"):
            m = statistics.median(rss["check_static"])
            targets.append(("(same, static build) ≤ 1.2 MiB", f"{m / 1024:.2f} MiB",
                            "met" if m <= 1.2 * 1024 else "NOT met"))
    else:
        o.append("(not measured)")
    o.append("")

    # --- Instructions -------------------------------------------------------------------
    instr = {}
    try:
        for line in open(os.path.join(data, "instr.tsv")):
            k, v = line.split()
            instr[k] = int(v)
    except OSError:
        pass
    sysc = {k: int(v) for k, v in tsv(os.path.join(data, "syscalls.tsv")).items() if v.isdigit()}
    o.append("## Healthy check: instructions and system calls")
    o.append("")
    if instr or sysc:
        o.append("Instructions: valgrind `--tool=callgrind`, user space only, children included; "
                 "the same count on every run whatever else the machine does, so it shows "
                 "changes that wall time hides in noise (the kernel's exec, mmap and page-fault "
                 "work is not in it). System calls: `strace -f -c`, one run.")
        o.append("")
        t = instr.get("true")
        rows = []
        for k in list(instr) + [k for k in sysc if k not in instr]:
            v = instr.get(k)
            rows.append([labels.get(k, k), f"{v:,}" if v else "-",
                         f"{v / t:.2f}x" if v and t else "", sysc.get(k, "-")])
        o.append(table(["command", "instructions", "× /bin/true", "system calls"], rows))
    else:
        o.append("(not measured: valgrind and strace not installed)")
    o.append("")

    # --- Growth ---------------------------------------------------------------------------
    o.append("## Growth: does a healthy check get slower as things grow?")
    o.append("")
    rows = []
    base = main_t.get("check")
    for k, what in (("check_biglog", "event log and .out/.err: tiny → 1 GiB each (sparse)"),
                    ("check_history", meta.get("history_what", "launch history: 1 → full"))):
        d = main_t.get(k)
        if base and d:
            r = d["median"] / base["median"]
            rrs = round_ratios(d, base)
            rows.append([what, ms(base["median"]), ms(d["median"]), f"{r:.2f}x",
                         f"{pct(rrs, 10):.2f}–{pct(rrs, 90):.2f}" if rrs else "", ""])
            ir = instr[k] / instr["check"] if k in instr and instr.get("check") else None
            same = ir is not None and abs(ir - 1) <= 0.005
            targets.append((f"no growth: {what}",
                            f"{r:.2f}x wall" + (f"; {ir:.3f}x instructions" if ir else ""),
                            "met" if r <= 1.05 or same else "NOT met (or noise: see per-round spread)"))
    p_small, p_big = timing(data, "procs_small"), timing(data, "procs_big")
    if p_small.get("check") and p_big.get("check"):
        a, b = p_small["check"], p_big["check"]
        ta, tb = p_small.get("true"), p_big.get("true")
        r = b["median"] / a["median"]
        rt = tb["median"] / ta["median"] if ta and tb else float("nan")
        rrs = round_ratios(b, a)
        rows.append([f"processes on the machine: +{meta.get('procs_small', '?')} → "
                     f"+{meta.get('procs_big', '?')} sleeping "
                     f"({meta.get('procs_total_small', '?')} → {meta.get('procs_total_big', '?')} in all)",
                     ms(a["median"]), ms(b["median"]), f"{r:.2f}x",
                     f"{pct(rrs, 10):.2f}–{pct(rrs, 90):.2f}" if rrs else "",
                     f"{rt:.2f}x ({ms(ta['median'])} → {ms(tb['median'])})" if ta and tb else ""])
        norm = r / rt if rt == rt and rt else r
        targets.append(("no growth with the number of processes (check's growth / /bin/true's)",
                        f"{norm:.2f}x", "met" if norm <= 1.05 else "NOT met"))
    if rows:
        o.append("Medians; the big case is measured in the same rounds as the small one.")
        o.append("")
        o.append(table(["what grows", "small", "big", "big / small", "per round (p10–p90)",
                        "/bin/true small → big"], rows))
    else:
        o.append("(not measured)")
    o.append("")

    # --- Daemons ---------------------------------------------------------------------------
    snap = load(os.path.join(data, "daemons", "snapshot.json"), {})
    idle = load(os.path.join(data, "daemons", "idle.json"), {})
    lat = load(os.path.join(data, "daemons", "latency.json"), {})
    names = {"supervisord": "supervisord (autorestart)", "pm2": "pm2 (autorestart)",
             "watch": "watchdog check --watch", "watch_static": "watchdog check --watch (static build)"}
    o.append("## Supervisors that stay resident: memory and idle cost")
    o.append("")
    if snap:
        o.append("Each supervises one `sleep`. Memory of the supervisor process itself (for pm2 "
                 "the God daemon; the CLI has exited), from /proc: VmRSS (all resident pages), "
                 "of which private = RssAnon (heap, stacks: what each more copy costs) and the "
                 "rest file pages (the binary, libraries, shared by every process that maps "
                 "them). Wakeups = context switches of all its threads while the program just "
                 "runs; idle CPU from the threads' schedstat run time.")
        o.append("")
        rows = []
        for k, v in snap.items():
            i = idle.get(k, {})
            secs = i.get("seconds", 0)
            rows.append([names.get(k, k), f"{v['rss_kib'] / 1024:.1f} MiB",
                         f"{v['rss_anon_kib'] / 1024:.1f} MiB" if v.get("rss_anon_kib") is not None else "",
                         v.get("threads"),
                         f"{i.get('wakeups', '?')} in {secs:.0f} s" if i else "",
                         f"{i['cpu_s'] / secs * 86400:.2f} s" if i and secs else ""])
        o.append(table(["supervisor", "resident (VmRSS)", "private (RssAnon)", "threads", "wakeups while idle",
                        "idle CPU per day"], rows))
        for k, what in (("watch", "watcher"), ("watch_static", "(same, static build)")):
            w = snap.get(k)
            if w:
                targets.append((f"{what} resident memory ≤ 2 MiB", f"{w['rss_kib'] / 1024:.2f} MiB",
                                "met" if w["rss_kib"] <= 2048 else "NOT met"))
        wi = idle.get("watch")
        if wi:
            targets.append((f"watcher: zero wakeups while the program runs ({wi['seconds']:.0f} s)",
                            f"{wi['wakeups']}", "met" if wi["wakeups"] == 0 else "NOT met"))
    else:
        o.append("(not measured)")
    o.append("")

    o.append("## Recovery after SIGKILL: kill → new PID")
    o.append("")
    if lat:
        o.append("The program is killed with SIGKILL once per round, round-robin across the "
                 "supervisors, each kill only after the program has run for "
                 f"{meta.get('min_age', '?')} s (supervisord's startsecs and pm2's min_uptime "
                 "would otherwise count it as a failed start). Recovered = supervisord/pm2: a new "
                 "child PID exists (forked); watchdog: the PID file names a new live PID (it "
                 "records the PID before the exec). Polled every ~0.1 ms.")
        o.append("")
        rows = []
        for k, v in lat.items():
            xs = v["ms"]
            if xs:
                rows.append([names.get(k, k), f"{statistics.median(xs):.2f} ms",
                             f"{min(xs):.2f}–{max(xs):.2f} ms", len(xs), v["timeouts"]])
            else:
                rows.append([names.get(k, k), "-", "-", 0, v["timeouts"]])
        o.append(table(["supervisor", "median", "min–max", "kills", "timeouts"], rows))
        w = lat.get("watch")
        if w and w["ms"]:
            med, mx = statistics.median(w["ms"]), max(w["ms"])
            targets.append(("watch: kill-to-new-PID median ≤ 3 ms", f"{med:.2f} ms",
                            "met" if med <= 3 else "NOT met"))
            targets.append((f"watch: worst case < 20 ms over {len(w['ms'])} kills", f"{mx:.2f} ms",
                            "met" if mx < 20 else "NOT met"))
            p = lat.get("pm2")
            if p and p["ms"]:
                pm = statistics.median(p["ms"])
                targets.append(("watch: median below pm2's in the same run",
                                 f"{med:.2f} ms vs {pm:.2f} ms",
                                 "met" if med < pm else "NOT met"))
    else:
        o.append("(not measured)")
    if meta.get("watch") == "not implemented":
        o.append("")
        o.append("watchdog's watch mode: not implemented (`watchdog check --help` does not "
                 "mention `--watch`).")
    o.append("")

    # --- 100 programs ------------------------------------------------------------------------
    o.append("## 100 programs, checked every minute")
    o.append("")
    rows = []
    if chk:
        cpu = chk["cpu_mean"]
        peak = statistics.median(rss["check"]) / 1024 if rss.get("check") else None
        rows.append(["watchdog check from cron (100 crontab lines)",
                     f"{cpu * 100 * 1440:.0f} s ({cpu * 1e3:.3f} ms × 100 × 1440)",
                     "0 between checks" + (f" ({peak:.1f} MiB for ~1 ms per check)" if peak else ""),
                     ])
        st = main_t.get("check_static")
        if st:
            c2 = st["cpu_mean"]
            rows.append(["same, static build", f"{c2 * 100 * 1440:.0f} s ({c2 * 1e3:.3f} ms × 100 × 1440)",
                         "0 between checks"])
    for k in ("watch", "watch_static", "supervisord", "pm2"):
        v, i = snap.get(k), idle.get(k)
        if not v:
            continue
        idle_day = i["cpu_s"] / i["seconds"] * 86400 if i and i.get("seconds") else float("nan")
        if k.startswith("watch"):
            c = main_t.get("check_static" if k == "watch_static" else "check")
            extra = c["cpu_mean"] * 100 * 1440 if c else float("nan")
            anon = v.get("rss_anon_kib")
            shared = v["rss_kib"] - anon if anon is not None else None
            mem = (f"≈ {(100 * anon + shared) / 1024:.0f} MiB (100 × {anon / 1024:.1f} private + "
                   f"{shared / 1024:.1f} shared once; 100 × VmRSS would say "
                   f"{100 * v['rss_kib'] / 1024:.0f})" if anon is not None else
                   f"{100 * v['rss_kib'] / 1024:.0f} MiB (100 × {v['rss_kib'] / 1024:.1f})")
            rows.append([f"{names[k]} 60s (100 lines, 100 watchers)",
                         f"≈ {extra + 100 * idle_day:.0f} s (a check per line per minute, plus "
                         f"{idle_day:.2f} s idle per watcher)", mem])
        else:
            rows.append([f"{names[k]}, one daemon (measured with 1 program)",
                         f"{idle_day:.1f} s idle (measured with 1 program)",
                         f"{v['rss_kib'] / 1024:.1f} MiB (grows with programs)"])
    if rows:
        o.append("CPU-seconds per day extrapolated from the measured CPU time (user + system) "
                 "of one healthy check; cron's own fork of `sh -c` per line is not counted. "
                 "Resident memory is what stays in RAM all day.")
        o.append("")
        o.append(table(["approach", "CPU per day", "resident all day"], rows))
    else:
        o.append("(not measured)")
    o.append("")

    # --- Targets -----------------------------------------------------------------------------
    o.append("## Issue #6 targets, as measured in this run")
    o.append("")
    if targets:
        o.append(table(["target", "measured", "verdict"], targets))
    else:
        o.append("(none measured)")
    o.append("")
    if notes:
        o.append("## Notes")
        o.append("")
        o += [f"- {n}" for n in notes]
        o.append("")
    text = "\n".join(o)
    with open(out_path, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
