#!/usr/bin/env python3
"""Interleaved wall/CPU medians of shell commands: bench/medians.py RUNS LABEL CMD [LABEL CMD...].

Each round runs every command once (2 warm-up rounds first), so all see the same neighbours on a shared
machine; prints the median and min wall time and the median CPU (user+sys of the whole process tree)."""
import os, resource, statistics, subprocess, sys, time
runs=int(sys.argv[1]); pairs=list(zip(sys.argv[2::2], sys.argv[3::2]))
def once(c):
    r0=resource.getrusage(resource.RUSAGE_CHILDREN); s=time.perf_counter()
    p=subprocess.run(["sh","-c",c],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)
    w=time.perf_counter()-s; r1=resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode: print("FAIL",c,p.stderr.decode()[-300:]); sys.exit(1)
    return w, r1.ru_utime+r1.ru_stime-r0.ru_utime-r0.ru_stime
for l,c in pairs: once(c); once(c)
res={l:([],[]) for l,_ in pairs}
for _ in range(runs):
    for l,c in pairs:
        w,cp=once(c); res[l][0].append(w); res[l][1].append(cp)
print("load", open("/proc/loadavg").read().split()[:3])
for l,_ in pairs:
    print("%-30s wall median %6.0f ms  min %6.0f  cpu median %6.0f ms"%(l, statistics.median(res[l][0])*1000, min(res[l][0])*1000, statistics.median(res[l][1])*1000))
