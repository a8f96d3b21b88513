#!/usr/bin/env python3
"""Measurements of long-lived supervisors for scripts/bench: resident memory, idle wakeups and
CPU, and recovery latency after a SIGKILL. It only reads /proc and sends SIGKILL to the
supervised program it was told about; starting and stopping the supervisors is the bash
script's job (it owns the trap that stops them by PID).

A peer is NAME:KIND:ARG:DAEMON_PID
  KIND=children  ARG unused: the supervised program is the daemon's only child
                 (supervisord, pm2's God daemon); "recovered" = a new child PID exists.
  KIND=pidfile   ARG=path of the PID file (watchdog check --watch); "recovered" = the PID
                 file names a new PID that is alive and not a zombie.

Usage:
  peers.py snapshot OUT.json PEER...           resident memory and threads, now
  peers.py idle SECONDS OUT.json PEER...       context switches and CPU ticks over SECONDS
  peers.py latency KILLS MIN_AGE OUT.json PEER...
"""

import glob
import json
import os
import signal
import sys
import time

POLL = 0.00005  # 50 us between polls: ~0.1 ms resolution, and one core left free
TIMEOUT = 15.0  # a peer that has not recovered by then is recorded as a timeout
CLK_TCK = os.sysconf("SC_CLK_TCK")


class Peer:
    def __init__(self, spec):
        self.name, self.kind, self.arg, pid = spec.split(":", 3)
        self.daemon = int(pid)
        self.last_kill = 0.0

    def program(self):
        """The supervised program's PID now, or None."""
        if self.kind == "pidfile":
            try:
                with open(self.arg, "rb") as f:
                    pid = int(f.read().strip() or b"0")
            except (OSError, ValueError):
                return None
            return pid if pid > 1 and alive(pid) else None
        kids = children(self.daemon)
        kids = [k for k in kids if alive(k)]
        return kids[0] if len(kids) == 1 else None


def children(pid):
    out = []
    paths = glob.glob(f"/proc/{pid}/task/*/children")
    if paths:
        for p in paths:
            try:
                with open(p) as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
        return out
    # Kernels without CONFIG_PROC_CHILDREN: scan for the parent PID (slower, same answer).
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat(int(d))
            if st and int(st[1]) == pid:
                out.append(int(d))
    return out


def stat(pid):
    """Fields of /proc/PID/stat from field 3 (state) on, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rindex(b")") + 2:].decode().split()


def alive(pid):
    st = stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def age(pid):
    st = stat(pid)
    if st is None:
        return 0.0
    with open("/proc/uptime") as f:
        up = float(f.read().split()[0])
    return up - int(st[19]) / CLK_TCK  # field 22: start time in ticks


def status_fields(pid, keys):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[k] = int(v.split()[0])
    return out


def ctxt(pid):
    """Context switches of all the daemon's threads (each one is a wakeup)."""
    total = 0
    for t in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(t) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pid):
    """CPU time of the whole process: the sum of its threads' schedstat run time (ns
    resolution) where the kernel has it, else utime + stime (10 ms ticks)."""
    total, found = 0, False
    for t in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(t) as f:
                total += int(f.read().split()[0])
                found = True
        except (OSError, ValueError, IndexError):
            pass
    if found:
        return total / 1e9
    st = stat(pid)
    return (int(st[11]) + int(st[12])) / CLK_TCK


def pss(pid):
    """Proportional set size (KiB): shared pages divided among the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def snapshot(out, peers):
    res = {}
    for p in peers:
        f = status_fields(p.daemon, {"VmRSS", "Threads", "RssAnon", "RssFile", "RssShmem"})
        res[p.name] = {"pid": p.daemon, "rss_kib": f.get("VmRSS"), "rss_anon_kib": f.get("RssAnon"),
                       "rss_file_kib": f.get("RssFile"), "pss_kib": pss(p.daemon),
                       "threads": f.get("Threads")}
    json.dump(res, open(out, "w"), indent=1)


def idle(seconds, out, peers):
    before = {p.name: (ctxt(p.daemon), cpu_seconds(p.daemon)) for p in peers}
    t0 = time.monotonic()
    time.sleep(seconds)
    dt = time.monotonic() - t0
    res = {}
    for p in peers:
        c0, u0 = before[p.name]
        res[p.name] = {"seconds": dt, "wakeups": ctxt(p.daemon) - c0,
                       "cpu_s": cpu_seconds(p.daemon) - u0}
    json.dump(res, open(out, "w"), indent=1)


def latency(kills, min_age, out, peers):
    res = {p.name: {"ms": [], "timeouts": 0} for p in peers}
    for _ in range(kills):
        for p in peers:  # round-robin: one kill per peer per round
            deadline = time.monotonic() + TIMEOUT
            old = p.program()
            while old is None or age(old) < min_age:
                # Wait until the program is settled: supervisord counts a death within
                # startsecs (1 s) as a failed start, pm2 one within min_uptime (1 s) as unstable.
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
                old = p.program()
            if old is None:
                res[p.name]["timeouts"] += 1
                continue
            t0 = time.perf_counter()
            os.kill(old, signal.SIGKILL)
            while True:
                new = p.program()
                if new is not None and new != old:
                    res[p.name]["ms"].append((time.perf_counter() - t0) * 1e3)
                    break
                if time.perf_counter() - t0 > TIMEOUT:
                    res[p.name]["timeouts"] += 1
                    break
                time.sleep(POLL)
    json.dump(res, open(out, "w"), indent=1)


def main(argv):
    cmd = argv[1]
    if cmd == "snapshot":
        snapshot(argv[2], [Peer(s) for s in argv[3:]])
    elif cmd == "idle":
        idle(float(argv[2]), argv[3], [Peer(s) for s in argv[4:]])
    elif cmd == "latency":
        latency(int(argv[2]), float(argv[3]), argv[4], [Peer(s) for s in argv[5:]])
    elif cmd == "program":  # print the supervised program's PID (for the bash script)
        pid = Peer(argv[2]).program()
        print(pid or "")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
