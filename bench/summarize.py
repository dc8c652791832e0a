#!/usr/bin/env python3
"""Medians per workload label from happy-bench JSON lines, as a Markdown table.

usage: bench/summarize.py results.jsonl [more.jsonl ...]
"""
import json
import statistics
import sys
from collections import defaultdict


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(value, digits=1):
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.{digits}f}"
    return f"{int(value):,}"


def main(paths):
    runs = defaultdict(list)
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    r = json.loads(line)
                    runs[r.get("workload", "?")].append(r)
    columns = [
        ("runs", lambda rs: len(rs)),
        ("connected", lambda rs: median(r["connected"] for r in rs)),
        ("lost", lambda rs: max(r["lost"] for r in rs)),
        ("delivered/s", lambda rs: median(r["delivered_per_second"] for r in rs)),
        ("p50 ms", lambda rs: median((r["latency_ms"] or {}).get("p50") for r in rs)),
        ("p90 ms", lambda rs: median((r["latency_ms"] or {}).get("p90") for r in rs)),
        ("p99 ms", lambda rs: median((r["latency_ms"] or {}).get("p99") for r in rs)),
        ("max ms", lambda rs: median((r["latency_ms"] or {}).get("max") for r in rs)),
        ("ack p50 ms", lambda rs: median((r.get("ack_latency_ms") or {}).get("p50") for r in rs)),
        ("ack p99 ms", lambda rs: median((r.get("ack_latency_ms") or {}).get("p99") for r in rs)),
        ("server CPU/s", lambda rs: median(r.get("server_cpu_per_second") for r in rs)),
        ("RSS/conn B", lambda rs: median(r.get("rss_per_connection_bytes") for r in rs)),
        ("connect s", lambda rs: median(r.get("connect_seconds") for r in rs)),
        ("tool CPU/s", lambda rs: median(r.get("tool_cpu_per_second") for r in rs)),
    ]
    print("| workload | " + " | ".join(name for name, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for label in sorted(runs, key=lambda l: (l.split()[-1], l)):
        cells = [fmt(get(runs[label]), 2 if "CPU" in name else 1) for name, get in columns]
        print(f"| {label} | " + " | ".join(cells) + " |")
    warned = [r["workload"] for rs in runs.values() for r in rs if "warning" in r]
    if warned:
        print(f"\nwarning: the tool saturated its core in {len(warned)} run(s): {sorted(set(warned))}")


if __name__ == "__main__":
    main(sys.argv[1:])
