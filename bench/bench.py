#!/usr/bin/env python3
"""upwatch's benchmarks, driven by bench/run (which builds and fetches what this needs).

Everything runs on loopback against bench/target.rs. Comparisons are interleaved
(A B C A B C ...) in one run and reported as median and p95 with ratios, because absolute
times on a shared machine drift. Results go to stdout as Markdown; bench/run writes them
into BENCHMARKS.md.

Usage: bench.py UPWATCH BENCH_TARGET BLACKBOX [section ...]
Sections: overhead footprint scheduler spread scale alerts store (default: all but scale).
"""

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

UPWATCH, TARGET_BIN, BLACKBOX = sys.argv[1:4]
SECTIONS = sys.argv[4:] or ["overhead", "footprint", "scheduler", "spread", "alerts", "store"]
SCALE_SECONDS = int(os.environ.get("BENCH_SCALE_SECONDS", "180"))
OVERHEAD_ROUNDS = int(os.environ.get("BENCH_ROUNDS", "40"))
WORK = tempfile.mkdtemp(prefix="upwatch-bench-")
CA = os.path.join(WORK, "ca.pem")
CHILDREN = []


def out(line=""):
    print(line, flush=True)


def q(values, p):
    """The p-quantile (0..1) of values, nearest rank."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p * (len(s) - 1)))))
    return s[k]


def fmt(x, unit="ms", digits=2):
    return f"{x:.{digits}f} {unit}"


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def spawn(args, env=None, **kw):
    p = subprocess.Popen(args, env=env, **kw)
    CHILDREN.append(p)
    return p


def stop(p, sig=signal.SIGTERM, wait=30):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def start_target():
    p = spawn([TARGET_BIN, CA], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    ports = dict(kv.split("=") for kv in line.split())
    return p, int(ports["http"]), int(ports["https"])


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_http(url, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            http_get(url, timeout=1)
            return True
        except Exception:
            time.sleep(0.05)
    return False


def write_config(text):
    path = os.path.join(WORK, f"monitor-{time.time_ns()}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def daemon(config_text, log=None):
    """Starts `upwatch run` on a config; returns (process, listen address)."""
    port = free_port()
    state = tempfile.mkdtemp(dir=WORK)
    cfg = write_config(config_text)
    env = dict(os.environ, UPWATCH_LISTEN=f"127.0.0.1:{port}", UPWATCH_STATE_DIR=state,
               UPWATCH_LOG_FORMAT="json", UPWATCH_LOG=os.environ.get("UPWATCH_LOG", "warn"))
    p = spawn([UPWATCH, "--config", cfg, "run"], env=env,
              stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    if not wait_http(f"http://127.0.0.1:{port}/readyz", seconds=120):
        raise SystemExit("upwatch did not start")
    return p, f"127.0.0.1:{port}", state


# --- 1. measurement overhead ------------------------------------------------------------

def upwatch_once(url):
    cfg = write_config(
        f'[[target]]\nname = "t"\nurl = "{url}"\ntls_ca_file = "{CA}"\ntimeout = "5s"\n'
        'max_latency = "0s"\n')
    r = subprocess.run([UPWATCH, "--config", cfg, "check", "--format", "json"],
                       capture_output=True, text=True)
    os.unlink(cfg)
    j = json.loads(r.stdout)
    j = j[0] if isinstance(j, list) else j
    if not j["ok"]:
        raise SystemExit(f"upwatch probe of {url} failed: {j['failures']}")
    ph = j["phases"]
    return j["latency_ms"], ph.get("connect_ms"), ph.get("tls_ms")


def curl_once(url):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "--cacert", CA, "-w",
                        "%{time_connect} %{time_appconnect} %{time_total} %{http_code}", url],
                       capture_output=True, text=True)
    *times, code = r.stdout.split()
    if code != "200":
        raise SystemExit(f"curl {url} failed: {r.stderr}")
    c, a, t = (float(x) * 1000 for x in times)
    return t, c, (a - c) if a > 0 else None


def blackbox_once(bb, url, module):
    body = http_get(f"http://{bb}/probe?module={module}&target={url}")
    if not re.search(r"^probe_success 1$", body, re.M):
        raise SystemExit(f"blackbox_exporter probe of {url} failed:\n{body}")
    total = float(re.search(r"^probe_duration_seconds (\S+)$", body, re.M).group(1)) * 1000
    phase = {}
    for m in re.finditer(r'^probe_http_duration_seconds\{phase="(\w+)"\} (\S+)$', body, re.M):
        phase[m.group(1)] = float(m.group(2)) * 1000
    return total, phase.get("connect"), phase.get("tls") or None


def start_blackbox():
    port = free_port()
    cfg = os.path.join(WORK, "blackbox.yml")
    with open(cfg, "w") as f:
        f.write(f"""modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
  https_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        ca_file: {CA}
""")
    p = spawn([BLACKBOX, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}"],
              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_http(f"http://127.0.0.1:{port}/metrics"):
        raise SystemExit("blackbox_exporter did not start")
    return p, f"127.0.0.1:{port}"


def section_overhead(http_port, https_port):
    out("## 1. Measurement overhead")
    out()
    out("Reported latency minus the injected delay, one fresh connection per probe (HTTPS: "
        "TLS 1.3 with a full handshake each time). upwatch: `latency_ms` of `upwatch check "
        "--format json`; blackbox_exporter: `probe_duration_seconds` from `/probe`; curl: "
        f"`time_total`. {OVERHEAD_ROUNDS} rounds per row ({max(10, OVERHEAD_ROUNDS // 2)} at "
        "500 ms), after two warm-up rounds, interleaved upwatch, curl, blackbox.")
    out()
    bb_proc, bb = start_blackbox()
    rows, phases = [], []
    for scheme, port in (("http", http_port), ("https", https_port)):
        for delay in (0, 50, 500):
            url = f"{scheme}://127.0.0.1:{port}/delay/{delay}"
            # 500 ms rows cost 1.5 s a round; half the rounds still give a stable median.
            rounds = OVERHEAD_ROUNDS if delay < 500 else max(10, OVERHEAD_ROUNDS // 2)
            data = {"upwatch": [], "curl": [], "blackbox": []}
            for i in range(rounds + 2):
                u = upwatch_once(url)
                c = curl_once(url)
                b = blackbox_once(bb, url, f"{scheme}_2xx")
                if i < 2:
                    continue  # warm-up: page cache, first-exec costs
                for name, v in (("upwatch", u), ("curl", c), ("blackbox", b)):
                    data[name].append(v)
            over = {k: [t - delay for t, _, _ in v] for k, v in data.items()}
            med = {k: statistics.median(v) for k, v in over.items()}
            rows.append((scheme, delay, med, {k: q(v, 0.95) for k, v in over.items()}))
            for phase, idx in (("connect", 1), ("tls", 2)):
                vals = {k: [x[idx] for x in v if x[idx] is not None] for k, v in data.items()}
                if all(vals.values()):
                    phases.append((scheme, delay, phase, {k: statistics.median(v) for k, v in vals.items()}))
    stop(bb_proc)
    out("| scheme | delay | upwatch median / p95 | curl median / p95 | blackbox median / p95 | upwatch ÷ curl | upwatch ÷ blackbox |")
    out("|---|---|---|---|---|---|---|")
    for scheme, delay, med, p95 in rows:
        out(f"| {scheme} | {delay} ms | {med['upwatch']:.2f} / {p95['upwatch']:.2f} ms | "
            f"{med['curl']:.2f} / {p95['curl']:.2f} ms | {med['blackbox']:.2f} / {p95['blackbox']:.2f} ms | "
            f"{med['upwatch'] / med['curl']:.2f} | {med['upwatch'] / med['blackbox']:.2f} |")
    out()
    out("Per phase, medians (where the tool reports the phase):")
    out()
    out("| scheme | delay | phase | upwatch | curl | blackbox |")
    out("|---|---|---|---|---|---|")
    for scheme, delay, phase, med in phases:
        out(f"| {scheme} | {delay} ms | {phase} | {med['upwatch']:.3f} ms | {med['curl']:.3f} ms | {med['blackbox']:.3f} ms |")
    out()


# --- 4. footprint -----------------------------------------------------------------------

def section_footprint(http_port):
    out("## 4. Footprint")
    out()
    size = os.path.getsize(UPWATCH)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(repo, "monitor.toml")) as f:
        shipped = f.read()
    t0 = time.monotonic()
    p, addr, _ = daemon(shipped)
    ready = time.monotonic() - t0
    time.sleep(10)
    idle = rss_kb(p.pid)
    stop(p)
    # 3,000 probes: 50 targets every second for 60 s against the local server.
    targets = "".join(
        f'[[target]]\nname = "t{i}"\nurl = "http://127.0.0.1:{http_port}/ok"\ninterval = "1s"\ntimeout = "900ms"\n\n'
        for i in range(50))
    p, addr, _ = daemon(targets)
    time.sleep(61)
    metrics = http_get(f"http://{addr}/metrics")
    probes = sum(float(m.group(1)) for m in re.finditer(r'^upwatch_probes_total\{[^}]*\} (\S+)$', metrics, re.M))
    after = rss_kb(p.pid)
    stop(p)
    # blackbox_exporter, the same: idle, then 3,000 probes through /probe.
    bb_proc, bb = start_blackbox()
    time.sleep(10)
    bb_idle = rss_kb(bb_proc.pid)
    for _ in range(3000):
        http_get(f"http://{bb}/probe?module=http_2xx&target=http://127.0.0.1:{http_port}/ok")
    bb_after = rss_kb(bb_proc.pid)
    stop(bb_proc)
    out("| measure | upwatch | blackbox_exporter |")
    out("|---|---|---|")
    out(f"| idle RSS (shipped monitor.toml, 10 s after start; no network here, so its probes fail fast) | {idle / 1024:.1f} MB | {bb_idle / 1024:.1f} MB |")
    out(f"| RSS after 3,000 probes (upwatch: 50 targets × 1 s for 61 s, {int(probes)} probes; blackbox: 3,000 sequential /probe calls) | {after / 1024:.1f} MB | {bb_after / 1024:.1f} MB |")
    out(f"| release binary size | {size / 1e6:.1f} MB | {os.path.getsize(BLACKBOX) / 1e6:.1f} MB |")
    out(f"| start until /readyz answers (store opened, server listening, schedulers running) | {ready * 1000:.0f} ms | |")
    out()
    out("The first probe of each target comes at its offset inside its interval (targets "
        "sharing an interval are spaced evenly across it), not at once, so a restart does not "
        "probe everything in the same second.")
    out()


# --- 2. scheduler accuracy ----------------------------------------------------------------

def arrivals(http_port, name):
    body = http_get(f"http://127.0.0.1:{http_port}/arrivals/{name}")
    return [int(x) for x in body.split()]


def schedule_errors(ts, interval_ns):
    """Start-time errors (ms) of arrival times against origin + n·interval, the origin
    being the first arrival; skipped ticks show as gaps in n."""
    t0 = ts[0]
    errs, missed = [], 0
    last_n = 0
    for t in ts[1:]:
        n = round((t - t0) / interval_ns)
        missed += max(0, n - last_n - 1)
        last_n = n
        errs.append((t - (t0 + n * interval_ns)) / 1e6)
    return errs, missed


def section_scheduler(http_port):
    out("## 2. Scheduler accuracy")
    out()
    seconds = int(os.environ.get("BENCH_SCHED_SECONDS", "610"))
    cfg = (f'[[target]]\nname = "fast"\nurl = "http://127.0.0.1:{http_port}/sched/fast"\n'
           'interval = "100ms"\ntimeout = "90ms"\n\n'
           f'[[target]]\nname = "slow"\nurl = "http://127.0.0.1:{http_port}/sched/slow"\n'
           'interval = "1s"\ntimeout = "900ms"\n')
    p, _, _ = daemon(cfg)
    time.sleep(seconds)
    stop(p)
    out(f"One daemon, two targets, {seconds} s; times are when the target server received "
        "each request, against the ideal schedule (first arrival + n × interval).")
    out()
    out("| interval | probes | start error p50 | p99 | max | drift at the end | ticks missed |")
    out("|---|---|---|---|---|---|---|")
    for name, interval in (("fast", 100), ("slow", 1000)):
        ts = arrivals(http_port, name)
        errs, missed = schedule_errors(ts, interval * 1_000_000)
        absd = [abs(e) for e in errs]
        out(f"| {interval} ms | {len(ts)} | {q(absd, 0.5):.2f} ms | {q(absd, 0.99):.2f} ms | "
            f"{max(absd):.2f} ms | {errs[-1]:+.2f} ms | {missed} |")
    out()


def section_spread(http_port):
    out("### 1,000 targets sharing one interval")
    out()
    interval = 10
    cfg = "".join(
        f'[[target]]\nname = "s{i}"\nurl = "http://127.0.0.1:{http_port}/sched/s{i}"\n'
        f'interval = "{interval}s"\ntimeout = "5s"\n\n' for i in range(1000))
    p, _, _ = daemon(cfg)
    time.sleep(interval * 2 + 2)
    stop(p)
    firsts = []
    for i in range(1000):
        ts = arrivals(http_port, f"s{i}")
        if ts:
            firsts.append(ts[0] / 1e9)
    offsets = sorted(t % interval for t in firsts)
    buckets = [0] * (interval * 10)
    for o in offsets:
        buckets[min(len(buckets) - 1, int(o * 10))] += 1
    ideal = len(offsets) / len(buckets)
    out(f"Start offsets (first probe's arrival time modulo the {interval} s interval) of "
        f"{len(offsets)} targets, in 100 ms buckets: ideal {ideal:.0f} per bucket, seen min "
        f"{min(buckets)}, max {max(buckets)}, standard deviation {statistics.pstdev(buckets):.1f}.")
    out()


# --- 3. scale -----------------------------------------------------------------------------

def section_scale(http_port, https_port, counts):
    out("## 3. Scale")
    out()
    out(f"N HTTPS targets (fresh connection and full TLS 1.3 handshake per probe) every 60 s "
        f"for {SCALE_SECONDS} s against the local server, which runs on the same 2 cores. "
        "Jitter: each probe's arrival against the target's own first arrival + n × 60 s.")
    out()
    out("| targets | CPU (% of one core) | RSS max | jitter p50 | p99 | max | probes seen | ticks missed | late > 1 s | store flush mean / max bucket |")
    out("|---|---|---|---|---|---|---|---|---|---|")
    breakdown = None
    for n in counts:
        cfg = (f'[daemon]\nmax_concurrency = 4096\n\n[store]\nretention = "1d"\n\n' +
               "".join(
                   f'[[target]]\nname = "x{i}"\nurl = "https://127.0.0.1:{https_port}/sched/x{n}_{i}"\n'
                   f'tls_ca_file = "{CA}"\ninterval = "60s"\ntimeout = "10s"\n\n' for i in range(n)))
        p, addr, _ = daemon(cfg)
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        peak = 0
        while time.monotonic() - t0 < SCALE_SECONDS:
            time.sleep(5)
            peak = max(peak, rss_kb(p.pid))
        c1, t1 = cpu_seconds(p.pid), time.monotonic()
        flush = store_flush(addr)
        stop(p)
        if os.environ.get("BENCH_ALLOC"):
            r = subprocess.run([os.environ["BENCH_ALLOC"], write_config(cfg)],
                               capture_output=True, text=True, check=True)
            breakdown = json.loads(r.stdout)
        errs, seen, late, missed = [], 0, 0, 0
        for i in range(n):
            ts = arrivals(http_port, f"x{n}_{i}")
            seen += len(ts)
            if len(ts) > 1:
                e, m = schedule_errors(ts, 60_000_000_000)
                missed += m
                errs.extend(abs(x) for x in e)
                late += sum(1 for x in e if abs(x) > 1000)
        out(f"| {n:,} | {100 * (c1 - c0) / (t1 - t0):.0f} % | {peak / 1024:.0f} MB | "
            f"{q(errs, 0.5):.1f} ms | {q(errs, 0.99):.1f} ms | {max(errs or [0]):.1f} ms | "
            f"{seen:,} | {missed} | {late} | {flush} |")
    out()
    out("Store flush: one transaction per second (or per 1,000 results), from "
        "`upwatch_store_flush_seconds`; \"max bucket\" is the upper bound of the highest "
        "non-empty histogram bucket.")
    out()
    if breakdown:
        out(f"Heap per target at {breakdown['targets']:,} targets (`bench-alloc`, a counting "
            f"allocator): config {breakdown['config_bytes_per_target']:,} B; metric series "
            f"{breakdown['metrics_registered_bytes_per_target']:,} B when registered, "
            f"+{breakdown['metrics_observed_bytes_per_target']:,} B after the first result.")
        out()


def store_flush(addr):
    """Mean flush time and the highest non-empty bucket of upwatch_store_flush_seconds."""
    text = http_get(f"http://{addr}/metrics")
    total = count = 0.0
    top, prev = None, 0
    for line in text.splitlines():
        m = re.match(r'upwatch_store_flush_seconds_(sum|count|bucket)\{([^}]*)\} (\S+)', line)
        if not m:
            continue
        kind, labels, value = m.group(1), m.group(2), float(m.group(3))
        if kind == "sum":
            total = value
        elif kind == "count":
            count = value
        else:
            le = re.search(r'le="([^"]+)"', labels).group(1)
            if value > prev:
                top = le
            prev = value
    if not count:
        return "no flush"
    bound = "+Inf" if top == "+Inf" else f"{float(top) * 1000:g} ms"
    return f"{total / count * 1000:.1f} ms / ≤ {bound}"


# --- 5. alert latency ---------------------------------------------------------------------

def section_alerts(http_port):
    out("## 5. Alert latency")
    out()
    n = 100
    cfg = (f'[alerting]\nfailure_threshold = 1\nchannels = ["hook"]\n\n'
           f'[[channel]]\nname = "hook"\ntype = "webhook"\nurl = "http://127.0.0.1:{http_port}/hook"\n\n' +
           "".join(f'[[target]]\nname = "o{i}"\nurl = "http://127.0.0.1:{http_port}/fail"\n'
                   'interval = "20s"\ntimeout = "5s"\n\n' for i in range(n)))
    before = len(http_get(f"http://127.0.0.1:{http_port}/hooks").splitlines())
    p, _, _ = daemon(cfg)
    time.sleep(24)
    stop(p)
    lat = []
    from datetime import datetime
    for line in http_get(f"http://127.0.0.1:{http_port}/hooks").splitlines()[before:]:
        read_ns, body = line.split(" ", 1)
        j = json.loads(body)
        r = j["last_result"]
        start = datetime.fromisoformat(r["checked_at"].replace("Z", "+00:00")).timestamp()
        done = start + r["latency_ms"] / 1000
        lat.append((int(read_ns) / 1e9 - done) * 1000)
    out(f"{n} targets that fail at once (`failure_threshold = 1`), one webhook each: time from "
        "the end of the failing probe (its `checked_at` + `latency_ms`, millisecond precision) "
        "to the receiver having read the POST body. The path is: result → pipeline → alert "
        "engine → one SQLite transaction (state, incident, outbox row) → wake → outbox task → "
        "HTTP POST.")
    out()
    out(f"| notifications | p50 | p99 | max |")
    out("|---|---|---|---|")
    out(f"| {len(lat)} | {q(lat, 0.5):.1f} ms | {q(lat, 0.99):.1f} ms | {max(lat):.1f} ms |")
    out()


# --- 6. store -----------------------------------------------------------------------------

def section_store(store_bench, https_port):
    out("## 6. Cost of recording")
    out()
    state = tempfile.mkdtemp(dir=WORK)
    r = subprocess.run([store_bench, state, f"https://127.0.0.1:{https_port}/ok", CA],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    facts = json.loads(r.stdout)
    cfg = write_config("".join(
        f'[[target]]\nname = "t{i}"\nurl = "http://127.0.0.1:1/"\n\n' for i in range(100)))
    times = []
    env = dict(os.environ, UPWATCH_STATE_DIR=state)
    for _ in range(7):
        t0 = time.monotonic()
        subprocess.run([UPWATCH, "--config", cfg, "status"], env=env, capture_output=True, check=True)
        times.append((time.monotonic() - t0) * 1000)
    out("| measure | value |")
    out("|---|---|")
    out(f"| store size per million results (as written by the result writer) | {facts['bytes_per_million'] / 1e6:.0f} MB |")
    out(f"| insert rate through the writer's batched transactions | {facts['rows_per_second']:,.0f} results/s |")
    out(f"| `upwatch status` over 30 days × 100 targets at 60 s ({facts['rows']:,} results, hourly aggregates built), median of 7 | {statistics.median(times):.0f} ms (min {min(times):.0f}, max {max(times):.0f}) |")
    out()


def main():
    target, http_port, https_port = start_target()
    try:
        for s in SECTIONS:
            if s == "overhead":
                section_overhead(http_port, https_port)
            elif s == "footprint":
                section_footprint(http_port)
            elif s == "scheduler":
                section_scheduler(http_port)
            elif s == "spread":
                section_spread(http_port)
            elif s == "scale":
                counts = [int(x) for x in os.environ.get("BENCH_SCALE_COUNTS", "10000,50000,100000,150000").split(",")]
                section_scale(http_port, https_port, counts)
            elif s == "alerts":
                section_alerts(http_port)
            elif s == "store":
                section_store(os.environ["BENCH_STORE"], https_port)
            else:
                raise SystemExit(f"unknown section {s}")
    finally:
        for c in CHILDREN:
            stop(c, wait=5)
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
