#!/usr/bin/python3
"""Draws docs/img/novelty_front.png from the sweeps of docs/novelty.md (runs/novelty*/*.json): every
generated setting on the benchmark zoo, their best front, the baselines, the default and the fix.
Usage: /usr/bin/python3 scripts/plot_novelty_front.py  (after the sweeps of docs/novelty.md)"""
import json, glob, subprocess
pts = {}
for f in glob.glob("runs/novelty/*.json") + glob.glob("runs/novelty-dev/*.json"):
    s = json.load(open(f))
    if "points" not in s: continue
    for p in s["points"]:
        if abs(p["similarity"]["origin_origin"] - 0.7257) > 0.002: continue
        g = p["generated"]
        key = (round(g["mean"], 4), round(g["max_iou"], 4))
        pts[key] = " ".join(f"{k}={v}" for k, v in p["values"].items())
base = json.load(open("runs/novelty/ae.latent_noise=0.1/report.json"))["groups"]
with open("/tmp/gen.dat", "w") as f:
    for (a, m) in pts: f.write(f"{m} {a}\n")
front = sorted([k for k in pts if not any(a2 >= k[0] and m2 <= k[1] and (a2, m2) != k for (a2, m2) in pts)], key=lambda k: k[1])
with open("/tmp/front.dat", "w") as f:
    for (a, m) in front: f.write(f"{m} {a}\n")
with open("/tmp/base.dat", "w") as f:
    for n, g in base.items():
        if n == "generated": continue
        f.write(f'{g["max_sim"]["mean"]} {g["acc"]["mean"]} "{n}"\n')
fix = json.load(open(sorted(glob.glob("runs/novelty*/ldm.subspace=16,ldm.position=16/report.json"))[0]))["groups"]["generated"]
dflt = base["generated"]
script = f'''
set terminal pngcairo size 900,600 font ",10"
set output "docs/img/novelty_front.png"
set title "Benchmark task: every swept setting against the baselines (group means; up and left is better)"
set xlabel "mean max-IoU to the originals (lower = more novel)"
set ylabel "mean test accuracy (%)"
set grid
set xrange [0.74:1.04]
set termoption noenhanced
set key bottom right box
plot "/tmp/gen.dat" using 1:2 with points pt 7 ps 1 lc rgb "#1f77b4" title "generated, one point per setting", \\
     "/tmp/front.dat" using 1:2 with linespoints pt 7 ps 1.2 lw 2 lc rgb "#ff7f0e" title "best front of the generated", \\
     "/tmp/base.dat" using 1:2 with points pt 5 ps 1.2 lc rgb "#d62728" title "originals, ensemble, baselines", \\
     "/tmp/base.dat" using 1:2:3 with labels offset 1,0.6 left font ",8" tc rgb "#d62728" notitle, \\
     "-" using 1:2 with points pt 3 ps 2.5 lw 2 lc rgb "black" title "default generator", \\
     "-" using 1:2 with points pt 9 ps 2.5 lc rgb "#2ca02c" title "ldm.subspace=16 ldm.position=16 (samples the zoo)"
{dflt["max_sim"]["mean"]} {dflt["acc"]["mean"]}
e
{fix["max_sim"]["mean"]} {fix["acc"]["mean"]}
e
'''
subprocess.run(["gnuplot"], input=script.encode(), check=True)
print(len(pts), "points on the benchmark zoo;", len(front), "on the front")
