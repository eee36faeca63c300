#!/usr/bin/python3
"""Checks /.metafs/metrics (Prometheus text) and /.metafs/openmetrics (OpenMetrics) with the
parsers of python3-prometheus-client, and that they show everything stats.json shows.

Usage: check_metrics.py METRICS OPENMETRICS STATS_JSON; prints each problem, exits 1 on any.
"""
import json
import re
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_prom

problems = []
metrics_text, om_text, stats_text = (open(p).read() for p in sys.argv[1:4])

prom = list(parse_prom(metrics_text))
om = list(parse_om(om_text))
stats = json.loads(stats_text)

name_rule = re.compile(r"^metafs_[a-z0-9_]+$")
for family in prom:
    if not name_rule.match(family.name):
        problems.append(f"bad name {family.name}")
    if family.type == "unknown":
        problems.append(f"{family.name}: no TYPE (a sample outside its family)")
    # Base units, last: ..._used_bytes, not ..._bytes_used.
    if re.search(r"_(bytes|seconds)_", family.name) or re.search(
            r"_(milliseconds|kilobytes|megabytes|kb|mb|ms)(_|$)", family.name):
        problems.append(f"{family.name}: unit not last or not a base unit")
    for sample in family.samples:
        if family.type == "counter" and not sample.name.endswith("_total"):
            problems.append(f"counter sample {sample.name} does not end in _total")
        if family.type != "counter" and sample.name.endswith("_total"):
            problems.append(f"{family.type} sample {sample.name} ends in _total")

def series(families):
    return {(s.name, tuple(sorted(s.labels.items()))) for f in families for s in f.samples}

if series(prom) != series(om):
    problems.append(f"metrics and openmetrics differ: {series(prom) ^ series(om)}")
if {f.name: f.type for f in prom} != {f.name: f.type for f in om}:
    problems.append("metrics and openmetrics differ in families or types")

samples = {s.name: s for f in prom for s in f.samples}
info = samples.get("metafs_build_info")
if info is None or info.labels.get("version") != stats["version"] or info.value != 1:
    problems.append(f"metafs_build_info: {info}")

# Every number of stats.json is a metric: metafs_<key> with the unit moved last, _total for
# counters; a few are named for what they are in Prometheus.
renamed = {
    "errors": "metafs_extraction_errors_total",
    "memory_pressure": "metafs_memory_pressure_level",
    "memory_pressure_trigger": "metafs_memory_pressure_trigger",
    "extraction_seconds": "metafs_extraction_seconds_count",
    "version": "metafs_build_info",
    "kernel_cache": "metafs_kernel_cache_info",
    "source_filesystem": "metafs_source_filesystem_info",
}
for key in stats:
    if key in renamed:
        wanted = [renamed[key]]
    else:
        base = "metafs_" + key
        m = re.match(r"^(.*)_(bytes)_(.*)$", base)
        if m:
            base = f"{m.group(1)}_{m.group(3)}_{m.group(2)}"
        wanted = [base, base + "_total"]
    if not any(w in samples for w in wanted):
        problems.append(f"stats.json's {key} is not in metrics (looked for {wanted})")
level = {"normal": 0, "elevated": 1, "high": 2, "critical": 3}
if "memory_pressure" in stats:
    if samples["metafs_memory_pressure_level"].value != level[stats["memory_pressure"]]:
        problems.append("metafs_memory_pressure_level differs from stats.json")
    on = [s.labels["trigger"] for f in prom for s in f.samples
          if s.name == "metafs_memory_pressure_trigger" and s.value == 1]
    if on != [stats["memory_pressure_trigger"]]:
        problems.append(f"metafs_memory_pressure_trigger: {on}")
for key in ("getattrs", "readdirs", "view_hits", "uptime_seconds", "memory_pressure",
            "memory_pressure_trigger"):
    if key not in stats:
        problems.append(f"stats.json has no {key}")

for p in problems:
    print(p)
print(f"{len(prom)} families, {len(series(prom))} series; {len(problems)} problems")
sys.exit(1 if problems else 0)
