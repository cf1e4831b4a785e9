#!/usr/bin/env python3
"""Bar chart of a benchmark's results: GB/s per case at the median time, with
error bars from the slowest (max s) to the fastest (min s) repetition.

Usage: benches/plot.py bench_results/w_p2p.json [more.json ...]
Writes <same dir>/<bench>.png next to each JSON file.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot(path):
    with open(path) as f:
        doc = json.load(f)
    cases = doc["cases"]
    names = [c["name"] for c in cases]
    gbps = [c["gbps"] or 0.0 for c in cases]
    lo = [max(0.0, g - (c.get("gbps_at_max_s") or g)) for g, c in zip(gbps, cases)]
    hi = [max(0.0, (c.get("gbps_at_min_s") or g) - g) for g, c in zip(gbps, cases)]
    colors = ["tab:gray" if c.get("anchor") else "tab:blue" for c in cases]

    fig, ax = plt.subplots(figsize=(max(5.0, 1.4 * len(cases) + 2.0), 4.2))
    bars = ax.bar(names, gbps, yerr=[lo, hi], capsize=6, color=colors, edgecolor="black", linewidth=0.6)
    for bar, g in zip(bars, gbps):
        ax.annotate(f"{g:.2f}", (bar.get_x() + bar.get_width() / 2, g), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("GB/s (median; bars: min..max rep)")
    reps = max((c.get("reps", 0) for c in cases), default=0)
    title = f"{doc.get('workload', '?')}: {doc.get('ranks', '?')} ranks, {reps} reps"
    ratios = [r for r in doc.get("ratios", []) if not any(c["name"] == r["case"] and c.get("anchor") for c in cases)]
    if ratios:
        title += "\n" + ", ".join(f"{r['case']}/{r['anchor']} {r['throughput_ratio']:.3f}" for r in ratios
                                  if r.get("throughput_ratio") is not None)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, max(g + h for g, h in zip(gbps, hi)) * 1.15 if gbps else 1)
    ax.grid(axis="y", alpha=0.3)
    footer = f"{doc.get('hostname') or ''}  {doc.get('date', '')}  (gray: anchors)"
    fig.text(0.99, 0.01, footer, ha="right", va="bottom", fontsize=7, color="gray")
    fig.tight_layout()
    out = os.path.join(os.path.dirname(path) or ".", f"{doc.get('bench') or os.path.splitext(os.path.basename(path))[0]}.png")
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"plot: {out}")


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for path in argv:
        plot(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
