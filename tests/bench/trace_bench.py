#!/usr/bin/python3
"""retina trace against the equivalent bpftrace script, side by side, on this machine;
then the cost of retina's drop forensics (--stack, -w FILE.pcapng) against plain trace,
and of --emit-packets (the packet as base64 in each JSON line, what kubectl retina
bpftrace -w asks of its trace pods) against plain -o json.

Prints numbers, never asserts on them. For each tracer: time from launch to the first
captured event (and to "attached" where the tool says so), peak RSS, CPU seconds the
tracer process used during a drop storm (UDP at STORM_PPS into an iptables DROP rule in
a test namespace), events delivered vs generated (the rule's own packet counter),
events lost, and the drop path's packets/s at full speed with the tracer vs without.

retina trace --count (-c) counts in the kernel and sends no event: its "events delivered"
are the counts its JSON lines report for the storm's key (they must equal the rule's
counter: "generated"), and its CPU per event is the reader's CPU over those.

The machine may be noisy (shared cores): each tracer's drop path is compared with a
no-tracer run right before and after it (their mean), not with one taken minutes
earlier. The kernel's own account of each tracer's BPF programs (run time per run) is
printed too: it does not depend on how busy the other cores are. It needs
BPF_ENABLE_STATS, which is not free (two clock reads and a per-CPU update per program
run, paid by the traced packet, not by a no-tracer run): the drop path is measured with
it off, and the run time per run in a separate full-speed flood with it on (the fd is
open only around that flood). That flood's rate is printed too, and so is what the
accounting costs by itself: an empty program run a million times (BPF_PROG_TEST_RUN)
with it off and on.

A single before/with/after comparison moves by up to 10 points from one run to the next on
this shared machine (the no-tracer rate alone moved between 826k and 974k pkt/s), more than
the few percent a tracer should cost. So each retina mode is also measured in ROUNDS paired
rounds (default 9): no tracer, tracer attached, no tracer, ... each flood ROUND_SECONDS
(default 2) long, each traced flood against the mean of the untraced ones on either side of
it. The median of those ratios is the "drop path vs no tracer" of the ratios line, its
lowest and highest are printed beside it.

usage: trace_bench.py BUILD/retina [emit|quick|paired]   (as root; installs Debian's bpftrace if missing;
       emit: only -o json against -o json --emit-packets;
       quick: only retina trace, --stack and --count, no bpftrace: about a minute;
       paired: only the paired rounds of retina trace, --count, --stack and -w: about two minutes)
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))
from netns import NetPair  # noqa: E402
from tracer import fdinfo_ids  # noqa: E402

STORM_PPS = int(os.environ.get("STORM_PPS", "100000"))
STORM_SECONDS = float(os.environ.get("STORM_SECONDS", "4"))
MAX_SECONDS = 3.0
ROUNDS = int(os.environ.get("ROUNDS", "9"))
ROUND_SECONDS = float(os.environ.get("ROUND_SECONDS", "2"))
PORT = 9999

# The same five tracepoints, printing similar lines. bpftrace 0.17 has no tp_btf, so
# it needs tracefs (mounted in a private mount namespace) and the classic layouts;
# 2 is SKB_DROP_REASON_NOT_SPECIFIED, excluded as retina excludes it by default.
BPFTRACE_SCRIPT = r"""
tracepoint:skb:kfree_skb /args->reason > 2/ {
  $skb = (struct sk_buff *)args->skbaddr;
  $ip = (struct iphdr *)($skb->head + $skb->network_header);
  printf("%s DROP %d kfree_skb %s -> %s\n", strftime("%H:%M:%S", nsecs), args->reason,
         ntop($ip->saddr), ntop($ip->daddr));
}
tracepoint:tcp:tcp_send_reset {
  printf("%s RST_SENT %d tcp_send_reset\n", strftime("%H:%M:%S", nsecs), args->reason);
}
tracepoint:tcp:tcp_receive_reset {
  printf("%s RST_RECV %d tcp_receive_reset %s:%d -> %s:%d\n", strftime("%H:%M:%S", nsecs), 0,
         ntop(args->saddr), args->sport, ntop(args->daddr), args->dport);
}
tracepoint:sock:inet_sk_error_report /args->error != 0/ {
  printf("%s SOCK_ERR %d inet_sk_error_report %s:%d -> %s:%d\n", strftime("%H:%M:%S", nsecs), args->error,
         ntop(args->saddr), args->sport, ntop(args->daddr), args->dport);
}
tracepoint:tcp:tcp_retransmit_skb {
  printf("%s RETRANS %d tcp_retransmit_skb %s:%d -> %s:%d\n", strftime("%H:%M:%S", nsecs), args->state,
         ntop(args->saddr), args->sport, ntop(args->daddr), args->dport);
}
"""


def sh(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def ensure_bpftrace():
    if shutil.which("bpftrace"):
        return True
    print("bpftrace is missing: installing Debian's package (apt-get install bpftrace)", flush=True)
    p = sh(["apt-get", "install", "-y", "-q", "bpftrace"], env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if p.returncode or not shutil.which("bpftrace"):
        print(f"bench: bpftrace could not be installed, its column is skipped:\n{p.stderr[-500:]}")
        return False
    return True


def build_flooder(tmp):
    exe = Path(tmp) / "udpflood"
    sh(["gcc", "-O2", "-Wall", "-o", str(exe), str(HERE / "udpflood.c")], check=True)
    return str(exe)


def rule_packets(pair):
    out = pair.run(pair.b, ["iptables", "-nvxL", "INPUT"]).stdout
    for line in out.splitlines():
        if f"dpt:{PORT}" in line:
            return int(line.split()[0])
    raise RuntimeError(f"DROP rule not found:\n{out}")


def flood(pair, flooder, pps, seconds):
    p = pair.run(pair.a, [flooder, pair.B4, str(PORT), str(pps), str(seconds)], timeout=seconds + 30)
    sent, took = p.stdout.split()
    return int(sent), float(took)


def bpf(cmd, attr):
    """The bpf(2) syscall with attr (a ctypes buffer); its result, -1 on error."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(321 if os.uname().machine == "x86_64" else 280, cmd, attr, len(attr))


def enable_bpf_stats():
    """BPF_ENABLE_STATS: the kernel times every BPF program while the returned fd is open."""
    import ctypes
    attr = ctypes.create_string_buffer(8)	# union bpf_attr.enable_stats: type = BPF_STATS_RUN_TIME (0)
    fd = bpf(32, attr)
    return fd if fd >= 0 else None


def stats_cost(runs=1000000, rounds=5):
    """What BPF_ENABLE_STATS costs per program run, by itself: an empty socket filter
    (r0 = 0; exit) run `runs` times by BPF_PROG_TEST_RUN, stats off and on, in
    alternating rounds (the fastest of each: the least disturbed). (off_ns, on_ns) per
    run, or None when the kernel refuses."""
    import ctypes
    import struct
    insns = struct.pack("<BBhiBBhi", 0xb7, 0, 0, 0, 0x95, 0, 0, 0)
    ibuf, lic = ctypes.create_string_buffer(insns, len(insns)), ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(128)	# BPF_PROG_LOAD: type SOCKET_FILTER, 2 insns, license
    struct.pack_into("<IIQQ", attr, 0, 1, 2, ctypes.addressof(ibuf), ctypes.addressof(lic))
    fd = bpf(5, attr)
    if fd < 0:
        return None
    pkt = ctypes.create_string_buffer(64)
    best = {False: None, True: None}
    try:
        for _ in range(rounds):
            for on in (False, True):
                sfd = enable_bpf_stats() if on else None
                if on and sfd is None:
                    return None
                t = ctypes.create_string_buffer(80)	# BPF_PROG_TEST_RUN: fd, data_in, repeat
                struct.pack_into("<IIII", t, 0, fd, 0, len(pkt), 0)
                struct.pack_into("<QQI", t, 16, ctypes.addressof(pkt), 0, runs)
                rc = bpf(10, t)
                if sfd is not None:
                    os.close(sfd)
                if rc < 0:
                    return None
                ns = struct.unpack_from("<I", t, 36)[0]	# duration: mean ns per run
                best[on] = ns if best[on] is None else min(best[on], ns)
    finally:
        os.close(fd)
    return best[False], best[True]


def prog_stats(pid):
    """(run_time_ns, run_cnt) summed over the BPF programs process pid holds."""
    ids = fdinfo_ids(pid, "prog_id")
    progs = json.loads(sh(["bpftool", "-j", "prog", "show"]).stdout or "[]")
    mine = [p for p in progs if p["id"] in ids]
    return sum(p.get("run_time_ns", 0) for p in mine), sum(p.get("run_cnt", 0) for p in mine)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kb(pid):
    m = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1))


def count_lines(path, needle):
    with open(path, "rb") as f:
        return sum(1 for line in f if needle in line)


def counted(path, netns):
    """retina trace --count -o json: the storm key's count so far (the interval deltas summed)."""
    n = 0
    with open(path, "rb") as f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                continue	# a line being written
            if not o.get("final"):
                n += sum(k["count"] for k in o["keys"] if k["dport"] == PORT and k["netns"] == netns)
    return n


def stop_tracer(proc):
    """SIGINT, as a user stops it (the exit summary is written); killed if it is still there."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def measure(name, argv, pair, flooder, tmp):
    out_path = Path(tmp) / f"{name}.out"
    err_path = Path(tmp) / f"{name}.err"
    needle = (f'"dst_ip":"{pair.B4}"' if "json" in argv else f"-> {pair.B4}").encode()
    netns = pair.inode(pair.b)
    tally = (lambda path: counted(path, netns)) if "--count" in argv else (lambda path: count_lines(path, needle))
    res = {"name": name}
    sent, took = flood(pair, flooder, 0, MAX_SECONDS)
    base_before = sent / took
    # a trickle of drops, so "first event" means the tracer is really capturing
    trickle = pair.popen(pair.a, [flooder, pair.B4, str(PORT), "200", "60"], stdout=subprocess.DEVNULL)
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
    try:
        while time.monotonic() - t0 < 60 and proc.poll() is None:
            if res.get("attached") is None and b" attached " in err_path.read_bytes():
                res["attached"] = time.monotonic() - t0
            if tally(out_path):
                res["first_event"] = time.monotonic() - t0
                break
            time.sleep(0.002)
        trickle.kill()
        trickle.wait()
        if "first_event" not in res:
            print(f"bench: {name} captured nothing in 60 s:\n{err_path.read_text()[-800:]}")
            proc.kill()
            return None
        time.sleep(0.5)
        lines0, pkts0, cpu0 = tally(out_path), rule_packets(pair), cpu_seconds(proc.pid)
        sent, took = flood(pair, flooder, STORM_PPS, STORM_SECONDS)
        time.sleep(1.0)	# let the reader drain
        res["generated"] = rule_packets(pair) - pkts0
        res["delivered"] = tally(out_path) - lines0
        res["cpu"] = cpu_seconds(proc.pid) - cpu0
        res["storm_pps"] = sent / took
        # the drop path at full speed as it is in production: no run-time accounting
        ns0, runs0 = prog_stats(proc.pid)
        sent, took = flood(pair, flooder, 0, MAX_SECONDS)
        res["max_pps"] = sent / took
        ns1, runs1 = prog_stats(proc.pid)
        if runs1 != runs0:	# the kernel counted runs: someone else holds BPF_ENABLE_STATS
            res["stats_were_on"] = True
        # then the kernel's account of the programs, in a flood of its own with accounting on
        stats_fd = enable_bpf_stats()
        if stats_fd is not None:
            try:
                ns0, runs0 = prog_stats(proc.pid)
                sent, took = flood(pair, flooder, 0, MAX_SECONDS)
                res["max_pps_stats"] = sent / took
                ns1, runs1 = prog_stats(proc.pid)
            finally:
                os.close(stats_fd)
            res["bpf_ns"] = (ns1 - ns0) / (runs1 - runs0) if runs1 > runs0 and ns1 > ns0 else None
        res["rss_kb"] = peak_rss_kb(proc.pid)
    finally:
        stop_tracer(proc)
    sent, took = flood(pair, flooder, 0, MAX_SECONDS)
    res["base_pps"] = (base_before + sent / took) / 2
    err = err_path.read_text()
    if name.startswith("retina"):
        m = re.search(r"(\d+) lost", err)
        if "--count" in argv:	# the kernel's own account: events it skipped the program for
            res["lost"] = int(re.search(r"(\d+) events not counted", err).group(1)) if "not counted" in err else 0
            return res
        res["lost"] = int(m.group(1)) if m else None
    else:
        res["lost"] = sum(int(n) for n in re.findall(r"Lost (\d+) events", err))
    return res


def paired(name, argv, pair, flooder, tmp):
    """The drop path with the tracer against no tracer in ROUNDS alternating floods:
    untraced, traced, untraced, ... Each traced rate over the mean of its two neighbours;
    the ratios sorted (their median is the result)."""
    def rate():
        sent, took = flood(pair, flooder, 0, ROUND_SECONDS)
        return sent / took

    ratios = []
    before = rate()
    for i in range(ROUNDS):
        err_path = Path(tmp) / f"{name}.paired.{i}.err"
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        try:
            t0 = time.monotonic()
            while b" attached " not in err_path.read_bytes():
                if proc.poll() is not None or time.monotonic() - t0 > 60:
                    print(f"bench: {name} did not attach:\n{err_path.read_text()[-800:]}")
                    return None
                time.sleep(0.01)
            traced = rate()
        finally:
            stop_tracer(proc)
        after = rate()
        ratios.append(traced / ((before + after) / 2))
        before = after
    return sorted(ratios)


def print_paired(rows):
    print(f"\ndrop path vs no tracer, {ROUNDS} paired rounds of {ROUND_SECONDS:g} s floods "
          "(median, lowest-highest)")
    for name, ratios in rows:
        if ratios:
            print(f"  {name:14s} {ratios[len(ratios) // 2]:6.1%}   ({ratios[0]:.1%}-{ratios[-1]:.1%}: "
                  + ", ".join(f"{r:.1%}" for r in ratios) + ")")


PAIRED_MODES = (("retina", ["trace"]), ("retina-count", ["trace", "--count", "-o", "json", "--interval", "250ms"]),
                ("retina+stack", ["trace", "--stack"]),
                ("stack-rate 0", ["trace", "--stack", "--stack-rate", "0"]))


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[2:] not in ([], ["emit"], ["quick"], ["paired"]):
        sys.exit("usage: trace_bench.py BUILD/retina [emit|quick|paired]")
    retina = os.path.abspath(sys.argv[1])
    emit_only = sys.argv[2:] == ["emit"]
    quick = sys.argv[2:] == ["quick"]
    paired_only = sys.argv[2:] == ["paired"]
    if os.geteuid():
        sys.exit("bench: needs root (BPF, namespaces)")
    have_bpftrace = not quick and not paired_only and ensure_bpftrace()
    cost = stats_cost()
    if cost is None:
        print("bench: BPF_ENABLE_STATS or BPF_PROG_TEST_RUN refused: no BPF run time per run")
    tmp = tempfile.mkdtemp(prefix="retina-bench-")
    pair = NetPair()
    results, forensics, emit, pairs = [], [], [], []
    try:
        flooder = build_flooder(tmp)
        r = pair.run(pair.b, ["iptables", "-A", "INPUT", "-p", "udp", "--dport", str(PORT), "-j", "DROP"])
        if r.returncode:
            sys.exit(f"bench: iptables failed: {r.stderr}")
        sent, took = flood(pair, flooder, 0, MAX_SECONDS)
        base_pps = sent / took
        if paired_only or not (quick or emit_only):
            pairs = [(name, paired(name, [retina, *args], pair, flooder, tmp)) for name, args in PAIRED_MODES]
            pairs.append(("retina+w", paired("retina+w", [retina, "trace", "-w", str(Path(tmp) / "p.pcapng")],
                                             pair, flooder, tmp)))
        if paired_only:
            raise StopIteration
        if quick:
            results = [measure("retina", [retina, "trace"], pair, flooder, tmp)]
            forensics = [measure("retina+stack", [retina, "trace", "--stack"], pair, flooder, tmp)]
            results += [r for r in forensics if r]
            results.append(measure("retina-count", [retina, "trace", "--count", "-o", "json", "--interval",
                                                    "250ms"], pair, flooder, tmp))
            raise StopIteration
        # -o json alone, then with every dropped packet in its line (256 bytes: 344 of base64)
        emit = [measure("retina-json", [retina, "trace", "-o", "json"], pair, flooder, tmp),
                measure("retina+emit", [retina, "trace", "-o", "json", "--emit-packets"], pair, flooder, tmp)]
        if emit_only:
            have_bpftrace = False
            raise StopIteration
        results = [measure("retina", [retina, "trace"], pair, flooder, tmp)]
        # the forensics, same storm: every drop with its stack, every dropped packet to a file
        forensics = [measure("retina+stack", [retina, "trace", "--stack"], pair, flooder, tmp),
                     measure("retina+w", [retina, "trace", "-w", str(Path(tmp) / "storm.pcapng")], pair, flooder,
                             tmp),
                     measure("retina+both", [retina, "trace", "--stack", "-w", str(Path(tmp) / "both.pcapng")],
                             pair, flooder, tmp)]
        # counting in the kernel: every mode side by side with bpftrace in the first table
        results += [r for r in forensics[:2] if r]
        results.append(measure("retina-count", [retina, "trace", "--count", "-o", "json", "--interval", "250ms"],
                               pair, flooder, tmp))
        if have_bpftrace:
            script = Path(tmp) / "trace.bt"
            script.write_text(BPFTRACE_SCRIPT)
            argv = ["unshare", "-m", "sh", "-c",
                    'mount -t tracefs nodev /sys/kernel/tracing && exec bpftrace "$0"', str(script)]
            results.append(measure("bpftrace", argv, pair, flooder, tmp))
    except StopIteration:
        pass
    finally:
        pair.close()
        shutil.rmtree(tmp, ignore_errors=True)

    results = [r for r in results if r]
    emit = [r for r in emit if r]
    if pairs:
        print_paired(pairs)
        for r in results:
            ratios = dict(pairs).get(r["name"])
            if ratios:
                r["paired"] = ratios[len(ratios) // 2]
    if paired_only:
        return
    for r in emit:
        r["rss_mb"] = r["rss_kb"] / 1024
        r["us_per_event"] = r["cpu"] * 1e6 / r["delivered"] if r["delivered"] else None
        r["slowdown"] = r["max_pps"] / r["base_pps"]
    if len(emit) == 2:
        j, e = emit
        print(f"\nretina trace -o json --emit-packets, same storm ({STORM_PPS}/s for {STORM_SECONDS:g}s)")
        print(f"  {'':30s}" + "".join(f"{r['name']:>14s}" for r in emit))
        for key, label, spec in (("delivered", "events delivered", ",d"), ("lost", "events lost (reported)", ",d"),
                                 ("us_per_event", "CPU us per event", ".2f"), ("max_pps", "drop path, max pkt/s",
                                                                               ",.0f")):
            print(f"  {label:30s}" + "".join(f"{fmt(r.get(key), spec):>14s}" for r in emit))
        if j.get("us_per_event") and e.get("us_per_event"):
            print(f"  --emit-packets CPU/event {e['us_per_event'] / j['us_per_event']:.2f}x of -o json; "
                  f"drop path {e['max_pps'] / j['max_pps']:.1%} of -o json's")
    if emit_only:
        return
    forensics = [r for r in forensics if r]
    print(f"\nretina trace vs bpftrace ({'' if have_bpftrace else 'bpftrace skipped; '}"
          f"drop storm {STORM_PPS}/s for {STORM_SECONDS:g}s; no-tracer drop path {base_pps:,.0f} pkt/s at the start)")
    rows = [
        ("launch -> first event (s)", "first_event", ".3f"),
        ("launch -> 'attached' (s)", "attached", ".3f"),
        ("peak RSS (MB)", "rss_mb", ".1f"),
        ("tracer CPU in storm (s)", "cpu", ".2f"),
        ("storm rate achieved (pkt/s)", "storm_pps", ",.0f"),
        ("events generated", "generated", ",d"),
        ("events delivered", "delivered", ",d"),
        ("events lost (reported)", "lost", ",d"),
        ("CPU us per event", "us_per_event", ".2f"),
        ("drop path, max pkt/s", "max_pps", ",.0f"),
        ("no tracer, before/after (pkt/s)", "base_pps", ",.0f"),
        ("drop path vs no tracer", "slowdown", ".1%"),
        ("BPF run time per run (ns)", "bpf_ns", ",.0f"),
        ("drop path, stats on (pkt/s)", "max_pps_stats", ",.0f"),
    ]
    for r in results:
        r["rss_mb"] = r["rss_kb"] / 1024
        r["us_per_event"] = r["cpu"] * 1e6 / r["delivered"] if r["delivered"] else None
        r["slowdown"] = r["max_pps"] / r["base_pps"]
    print(f"  {'':30s}" + "".join(f"{r['name']:>14s}" for r in results))
    for label, key, spec in rows:
        print(f"  {label:30s}" + "".join(f"{fmt(r.get(key), spec):>14s}" for r in results))
    print("  (drop path: BPF_ENABLE_STATS off; run time per run: a flood of its own with it on)")
    if cost:
        print(f"  BPF_ENABLE_STATS by itself: an empty program runs in {cost[0]} ns with it off, {cost[1]} ns on: "
              f"+{cost[1] - cost[0]} ns per program run: each traced packet pays it in the run-time flood only "
              f"(part of it, a clock read, is counted in the run time per run)")
    stale = list(dict.fromkeys(r["name"] for r in results + forensics if r.get("stats_were_on")))
    if stale:
        print(f"  warning: another process had BPF_ENABLE_STATS on during the drop path of {', '.join(stale)}")
    if len(results) >= 2 and results[0]["name"] == "retina" and results[-1]["name"] == "bpftrace":
        ours, theirs = results[0], results[-1]
        print("ratios (bpftrace / retina):")
        for label, key in (("start to first event", "first_event"), ("peak RSS", "rss_kb"),
                           ("CPU per event", "us_per_event")):
            if ours.get(key) and theirs.get(key):
                print(f"  {label:22s} {theirs[key] / ours[key]:.1f}x")
        print(f"  {'drop path pkt/s':22s} " + ", ".join(f"{r['name']} {r['slowdown']:.1%}" for r in results)
              + " of no-tracer (one before/with/after run)")
        if any("paired" in r for r in results):
            print(f"  {'drop path, paired':22s} " + ", ".join(f"{r['name']} {r['paired']:.1%}" for r in results
                                                             if "paired" in r)
                  + f" of no-tracer (median of {ROUNDS} paired rounds)")
        print(f"  {'CPU per event':22s} " + ", ".join(
            f"{r['name']} {r['us_per_event'] / theirs['us_per_event']:.2f}x" for r in results[:-1]
            if r.get("us_per_event") and theirs.get("us_per_event")) + " of bpftrace's")

    plain = results[0] if results and results[0]["name"] == "retina" else None
    if plain and forensics:
        for r in forensics:
            if "rss_mb" in r:
                continue	# already in the first table
            r["rss_mb"] = r["rss_kb"] / 1024
            r["us_per_event"] = r["cpu"] * 1e6 / r["delivered"] if r["delivered"] else None
            r["slowdown"] = r["max_pps"] / r["base_pps"]
        cols = [plain] + forensics
        print(f"\nretina trace forensics, same storm ({STORM_PPS}/s for {STORM_SECONDS:g}s)")
        print(f"  {'':30s}" + "".join(f"{r['name']:>14s}" for r in cols))
        for label, key, spec in rows:
            print(f"  {label:30s}" + "".join(f"{fmt(r.get(key), spec):>14s}" for r in cols))
        print("ratios against plain retina trace (reader CPU per event; drop path pkt/s at full speed):")
        for r in forensics:
            cpu = (f"{r['us_per_event'] / plain['us_per_event']:.2f}x"
                   if r.get("us_per_event") and plain.get("us_per_event") else "-")
            print(f"  {r['name']:14s} CPU/event {cpu:>7s}   drop path {r['max_pps'] / plain['max_pps']:.1%} of plain")


if __name__ == "__main__":
    main()
