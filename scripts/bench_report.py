#!/usr/bin/env python3
"""Writes docs/benchmarks.md and docs/benchmarks.svg from the rounds that
scripts/bench recorded in docs/benchmarks.csv (standard library only)."""

import argparse
import csv
import datetime
import math
import platform
import statistics
import subprocess
from collections import defaultdict

BASE = "chanos (hosted)"
BASE_ONE_CORE = "chanos (hosted, 1 core)"
IMAGE = "chanos image, emulated (TCG)"
IMAGE_ICOUNT = "chanos image (QEMU -icount)"

# metric: (what one operation is, lower_is_better)
METRICS = {
    "pingpong_rendezvous_rt": ("ping-pong round trip, rendezvous (two handoffs)", True),
    "cross_core_rt": ("round trip between core 0 and core 1, rendezvous", True),
    "pingpong_cap1_rt": ("ping-pong round trip, capacity 1", True),
    "yield": ("yield, another task runnable", True),
    "spawn_join": ("spawn + join", True),
    "parked_task_bytes_100000": ("resident bytes per parked task, 100k tasks", True),
    "parked_task_bytes_1000000": ("resident bytes per parked task, 1M tasks", True),
    "throughput_1p": ("throughput, capacity 1024, 1 producer", False),
    "throughput_4p": ("throughput, capacity 1024, 4 producers", False),
    "sieve_2000": ("prime sieve, first 2000 primes (wall)", True),
    "sieve_300": ("prime sieve, first 300 primes (wall)", True),
    "sieve_2000_spread": ("prime sieve, 2000 primes, filters in blocks over 2 cores (wall)", True),
    "primes_1_core": ("primes below N by a worker pool, 1 core (wall)", True),
    "primes_2_cores": ("primes below N by a worker pool, 2 cores (wall)", True),
    "counter_via_task_1": ("counter += 1 from 1 core: through the task that owns it", True),
    "counter_via_task_2": ("counter += 1 from 2 cores: through the task that owns it", True),
    "counter_atomic_1": ("counter += 1 from 1 thread: shared atomic", True),
    "counter_atomic_2": ("counter += 1 from 2 threads: shared atomic", True),
    "counter_mutex_1": ("counter += 1 from 1 thread: shared Mutex", True),
    "counter_mutex_2": ("counter += 1 from 2 threads: shared Mutex", True),
    "table_via_task_1": ("read-mostly table from 1 core: through the task that owns it", True),
    "table_via_task_2": ("read-mostly table from 2 cores: through the task that owns it", True),
    "table_via_task_3": ("read-mostly table from 3 cores through the owning task (more cores than CPUs where there are 2)", True),
    "table_replicas_1": ("read-mostly table from 1 core: a copy per core, writes sent to each", True),
    "table_replicas_2": ("read-mostly table from 2 cores: a copy per core, writes sent to each", True),
    "table_rwlock_1": ("read-mostly table from 1 thread: shared RwLock", True),
    "table_rwlock_2": ("read-mostly table from 2 threads: shared RwLock", True),
    "table_mutex_1": ("read-mostly table from 1 thread: shared Mutex", True),
    "table_mutex_2": ("read-mostly table from 2 threads: shared Mutex", True),
    "image_bytes": ("image size (hello)", True),
    "boot_process_ms": ("boot: whole QEMU process, start to exit (hello)", True),
    "boot_to_main_ms": ("boot: first instruction to main (hello)", True),
    "boot_to_main_2_cpus_ms": ("boot: first instruction to main, 2 CPUs all online (hello)", True),
    "boot_to_main_4_cpus_ms": ("boot: first instruction to main, 4 CPUs all online (hello)", True),
    "instr_pingpong_rendezvous_rt": ("instructions: round trip, rendezvous", True),
    "instr_pingpong_cap1_rt": ("instructions: round trip, capacity 1", True),
    "instr_yield": ("instructions: yield", True),
    "instr_spawn_join": ("instructions: spawn + join", True),
    "instr_recv_ready": ("instructions: receive, a value ready (and refill)", True),
    "instr_select_ready": ("instructions: select! over two ready arms (and refill)", True),
    "instr_select_wait_rt": ("instructions: round trip received by a select! that registered", True),
    "instr_throughput_1p": ("instructions: message through capacity 1024, 1 producer", True),
    "instr_sieve_2000": ("instructions: prime sieve, 2000 primes", True),
    "echo_throughput": ("TCP echo throughput (echo app, payload echoed)", False),
    "http_requests_per_sec": ("HTTP requests per second, keep-alive (http app)", False),
}


def run(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return "?"


def load(path):
    values = defaultdict(list)
    units = {}
    rounds = set()
    with open(path) as f:
        for row in csv.DictReader(f):
            key = (row["metric"], row["system"])
            values[key].append(float(row["value"]))
            units[row["metric"]] = row["unit"]
            rounds.add(row["round"])
    return values, units, len(rounds)


def fmt(x):
    if x >= 1e6:
        return f"{x / 1e6:.1f} M"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def ratio(metric, peer, base):
    lower_better = METRICS.get(metric, ("", True))[1]
    return peer / base if lower_better else base / peer


def goals(values):
    """The issue's performance goals, each with what was measured."""
    med = lambda m, s: statistics.median(values[(m, s)]) if values.get((m, s)) else None
    rows = []

    def goal(text, measured, met, why=""):
        state = "n/a" if met is None else ("met" if met else "**not met**")
        rows.append(f"| {text} | {measured} | {state} | {why} |")

    rt_instr = med("instr_pingpong_rendezvous_rt", BASE)
    handoff_why = (f"{rt_instr:.0f} instructions per round trip (callgrind): " if rt_instr else "") + \
        "the general channel path (waiter queues, select claims, deadlock notes, the cooperative budget, " \
        "statistics) costs more than the goal allows"
    pp = med("pingpong_rendezvous_rt", BASE)
    go1 = med("pingpong_rendezvous_rt", "Go GOMAXPROCS=1")
    thr = med("pingpong_rendezvous_rt", "threads: std")
    if pp:
        goal("hosted ping-pong round trip at most 40 ns", f"{fmt(pp)} ns", pp <= 40,
             "" if pp <= 40 else handoff_why)
    if pp and go1:
        goal("at least 6x faster than Go, GOMAXPROCS=1", f"{go1 / pp:.1f}x", go1 / pp >= 6,
             "" if go1 / pp >= 6 else "follows from chanos's own round trip (the first goal)")
    if pp and thr:
        goal("at least 300x faster than native threads (sync_channel(0))", f"{thr / pp:.0f}x", thr / pp >= 300,
             "" if thr / pp >= 300 else f"a thread round trip here is {fmt(thr / 1000)} us; 300x would need "
             f"{fmt(thr / 300)} ns")
    sv, gsv = med("sieve_2000", BASE), med("sieve_2000", "Go GOMAXPROCS=1")
    if sv and gsv:
        goal("sieve (2000 primes) at least 5x faster than Go, GOMAXPROCS=1", f"{gsv / sv:.1f}x", gsv / sv >= 5,
             "" if gsv / sv >= 5 else "the sieve is 2.04 million rendezvous handoffs (counted): the handoff cost of the first goal again, with 2000 tasks' worth of cache misses")
    for kind, label in [("rendezvous", "rendezvous"), ("cap1", "capacity 1")]:
        n = med(f"instr_pingpong_{kind}_rt", BASE)
        if n:
            goal(f"round trip, {label}, at most 300 instructions (callgrind)", f"{n:.0f}", n <= 300,
                 "" if n <= 300 else "the general channel path: waiter queues, select claims, deadlock "
                 "notes, the cooperative budget, statistics (docs/architecture.md, \"The fast path\")")
        img_n = med(f"instr_pingpong_{kind}_rt", IMAGE_ICOUNT)
        if img_n:
            goal(f"the image's round trip, {label}, at most 300 instructions (QEMU -icount)", f"{img_n:.0f}",
                 img_n <= 300, "" if img_n <= 300 else "the same code as hosted, built for x86_64-unknown-none")
    sel, rcv = med("instr_select_ready", BASE), med("instr_recv_ready", BASE)
    if sel and rcv:
        goal("select! over two ready arms at most twice a plain receive (instructions)",
             f"{sel / rcv:.1f}x ({sel:.0f} against {rcv:.0f})", sel <= 2 * rcv,
             "" if sel <= 2 * rcv else "asking every arm whether it is ready, the random pick, and the arm objects")
    sj, sj_instr = med("spawn_join", BASE), med("instr_spawn_join", BASE)
    if sj:
        goal("spawn + join at most 60 ns", f"{fmt(sj)} ns", sj <= 60,
             "" if sj <= 60 else (f"{sj_instr:.0f} instructions (callgrind): " if sj_instr else "") +
             "a slot and a task-table entry, the cell from the pool, two polls and the join "
             "(docs/architecture.md, \"Spawn + join\")")
    xrt, line = med("cross_core_rt", BASE), med("cross_core_rt", "threads: one atomic word")
    if xrt and line:
        goal("cross-core round trip at most 2.5x the raw cache-line round trip", f"{xrt / line:.1f}x "
             f"({fmt(xrt)} against {fmt(line)} ns)", xrt <= 2.5 * line,
             "" if xrt <= 2.5 * line else "each handoff moves several cache lines between the cores: the "
             "channel's lock and state, its waiter entry, the woken core's injector and the task's slot "
             "(docs/architecture.md, \"Every core\")")
    for peer in ["threads: crossbeam", "threads: std"]:
        prt = med("pingpong_rendezvous_rt", peer)
        if xrt and prt:
            goal(f"cross-core round trip faster than {peer.split(': ')[1]} (rendezvous)",
                 f"{prt / xrt:.1f}x", xrt < prt, "")
    p1, p2 = med("primes_1_core", BASE), med("primes_2_cores", BASE)
    g1, g2 = med("primes_1_core", "Go GOMAXPROCS=1"), med("primes_2_cores", "Go GOMAXPROCS=2")
    if p1 and p2:
        goal("worker pool (primes) at least 1.8x faster on 2 cores than on 1", f"{p1 / p2:.2f}x",
             p1 / p2 >= 1.8, "" if p1 / p2 >= 1.8 else "see the per-core counting shares the app prints")
    if p1 and p2 and g1 and g2:
        goal("worker pool speed-up at least Go's (GOMAXPROCS=1 against 2)",
             f"{p1 / p2:.2f}x against {g1 / g2:.2f}x", p1 / p2 >= g1 / g2, "")
    for metric, what, peer in [("http_requests_per_sec", "http keep-alive requests per second", "Go's net/http"),
                               ("echo_throughput", "TCP echo throughput", "Go's echo server")]:
        ours, go = med(metric, BASE), med(metric, "Go GOMAXPROCS=2")
        one = med(metric, BASE_ONE_CORE)
        if ours and go:
            goal(f"{what}, every core, at least {peer} (GOMAXPROCS=2)",
                 f"{ours / go:.2f}x ({fmt(ours)} against {fmt(go)})"
                 + (f"; {ours / one:.2f}x its own on 1 core" if one else ""), ours >= go,
                 "" if ours >= go else "perf: most of the server's time is the kernel's (copies, wake-ups); "
                 "chanos copies each chunk once more than Go's io.Copy (memmove, ~5%), and each socket readiness "
                 "hops from the poller thread to the core's thread, where Go's scheduler polls epoll itself")
    mem = med("parked_task_bytes_1000000", BASE)
    if mem is not None:
        total = mem * 1e6 / 2**20
        goal("a million parked tasks in at most 256 MiB", f"{total:.0f} MiB", total <= 256,
             "" if total <= 256 else f"{mem:.0f} bytes a task: its cell (header and future, about 180 bytes "
             "here with a cloned receiver and a pending receive), slot and table entries (32), its waiter entry "
             "in the channel (48, in a queue that grows by doubling) and the allocator's overhead")
    img = med("pingpong_rendezvous_rt", IMAGE)
    if img and thr:
        goal("image (emulated) ping-pong at least 20x faster than native threads", f"{thr / img:.1f}x",
             thr / img >= 20,
             "" if thr / img >= 20 else f"TCG runs the same code {img / pp:.0f}x slower than the host does")
    return rows


def svg_plot(values, path):
    """A log-scale bar chart of the ping-pong round trip and spawn + join."""
    panels = [("pingpong_rendezvous_rt", "ping-pong round trip, rendezvous (ns)"),
              ("pingpong_cap1_rt", "ping-pong round trip, capacity 1 (ns)"),
              ("spawn_join", "spawn + join (ns)")]
    systems = sorted({s for (m, s) in values if m in dict(panels)},
                     key=lambda s: (s != BASE, s != IMAGE, s))
    bar, gap, label_w, plot_w = 16, 6, 250, 420
    lo, hi = 1.0, 1e6
    scale = lambda v: label_w + plot_w * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    y = 30
    out = []
    for metric, title in panels:
        rows = [(s, statistics.median(values[(metric, s)])) for s in systems if values.get((metric, s))]
        if not rows:
            continue
        out.append(f'<text x="10" y="{y}" font-weight="bold">{title}</text>')
        y += 10
        for system, v in rows:
            color = "#2a7" if system.startswith("chanos") else "#68a"
            out.append(f'<text x="{label_w - 6}" y="{y + bar - 4}" text-anchor="end">{system}</text>')
            out.append(f'<rect x="{label_w}" y="{y}" width="{scale(v) - label_w:.1f}" height="{bar}" fill="{color}"/>')
            out.append(f'<text x="{scale(v) + 4:.1f}" y="{y + bar - 4}">{fmt(v)}</text>')
            y += bar + gap
        y += 24
    ticks = "".join(
        f'<line x1="{scale(10**k):.1f}" y1="40" x2="{scale(10**k):.1f}" y2="{y - 20}" stroke="#ddd"/>'
        f'<text x="{scale(10**k):.1f}" y="{y - 6}" text-anchor="middle">1e{k}</text>'
        for k in range(0, 7))
    width = label_w + plot_w + 80
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
                f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
                f'{ticks}\n' + "\n".join(out) + "\n</svg>\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--svg", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--kvm-note", default="")
    a = ap.parse_args()
    values, units, rounds = load(a.csv)
    svg_plot(values, a.svg)

    cpu = run("lscpu | sed -n 's/^Model name: *//p'")
    memory = run("free -g | awk '/Mem/ {print $2}'")
    lines = [
        "# chanos benchmarks",
        "",
        "Written by `scripts/bench`; the raw rounds are in `benchmarks.csv` beside this file.",
        "Every system ran once per round, interleaved, for all rounds; the table gives the",
        "median, the min-max spread over rounds, and the ratio of each peer to chanos hosted",
        "(above 1: chanos is better by that factor, whichever way the unit goes).",
        "",
        "## Machine and command",
        "",
        f"- date: {datetime.date.today().isoformat()}; command: `{a.command}` ({rounds} rounds)",
        f"- CPU: {cpu}, {run('nproc')} cores; memory {memory} GiB; "
        f"kernel {platform.release()}",
        f"- Rust (hosted): {run('rustc --version')}; image: {run('/usr/bin/rustc --version 2>/dev/null || rustc --version')}",
        f"- Go: {run('go version')}; QEMU: {run('qemu-system-x86_64 --version | head -1')}",
        f"- {a.kvm_note}",
        "- Image numbers come from QEMU's TCG: **emulated**, so they measure TCG as much as chanos.",
        "  Timings inside the image use the TSC, calibrated against the PIT at boot.",
        "- Instructions (`instr` rows): counted by callgrind (valgrind), once per run, as the",
        "  difference between N and 2N operations over N, so that start-up does not count. They",
        "  do not move with the machine's load: steer by them. The image's counts (system",
        f"  `{IMAGE_ICOUNT}`) are its own timings under QEMU's `-icount shift=0,sleep=off`, where the",
        "  guest's clock advances one nanosecond per instruction retired; the bench checks that the",
        "  boot's PIT calibration then finds the TSC at 1 GHz. They cover the timed loop only.",
        "- Memory per parked task: the maximum resident size of `park N` minus that of `park 0`,",
        "  divided by N (`/usr/bin/time -f %M`); chanos hosted, Tokio and Go only: a million",
        "  parked OS threads would need a million 8 MiB stacks, and the image's resident size is",
        "  QEMU's, not the guest's.",
        "- Network: the `echo` and `http` apps, hosted (Linux sockets) and booted (virtio-net,",
        "  smoltcp, QEMU user networking with a host port forward), driven from the host by",
        "  `loadgen` (scripts/peers): `loadgen echo` opens its connections at once and sends each",
        "  its bytes while reading them back (throughput = payload bytes echoed / wall time);",
        "  `loadgen http` keeps connections alive and sends `GET /metrics` one at a time on each.",
        "  Booted, every packet also crosses QEMU's user-mode network stack (slirp), so the image",
        "  numbers are an upper bound on what TCG and slirp allow, not chanos alone.",
        "",
        "## Goals",
        "",
        "| goal | measured (median) | | why not |",
        "| --- | --- | --- | --- |",
        *goals(values),
        "",
        "## Results",
        "",
        "![ping-pong and spawn costs, log scale](benchmarks.svg)",
        "",
        "| metric | system | median | min-max | unit | peer / chanos |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    order = list(METRICS) + sorted({m for (m, _) in values if m not in METRICS})
    for metric in order:
        systems = sorted({s for (m, s) in values if m == metric}, key=lambda s: (s != BASE, s != IMAGE, s != IMAGE_ICOUNT, s))
        base = values.get((metric, BASE))
        for system in systems:
            v = values[(metric, system)]
            med = statistics.median(v)
            r = ""
            if base and system != BASE and med > 0:
                r = f"{ratio(metric, med, statistics.median(base)):.1f}x"
            label = METRICS.get(metric, (metric,))[0]
            lines.append(f"| {label} | {system} | {fmt(med)} | {fmt(min(v))}-{fmt(max(v))} | {units[metric]} | {r} |")
    lines.append("")
    with open(a.out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
