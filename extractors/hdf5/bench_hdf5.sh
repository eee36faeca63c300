#!/bin/bash
# Time per file of metafs-extract (HDF5 extractor, metadata.json) next to h5py (visititems +
# every attribute read, shapes, types, chunks, compression) on the same files.
#   extractors/hdf5/bench_hdf5.sh [BUILD_DIR] [FILE...]
# Defaults: build-hdf5 beside this checkout, every file of ../shared/corpus/hdf5.
# metafs-extract is given each file REPEAT+1 times in one process and once in another; the
# difference over REPEAT removes process start-up. h5py runs REPEAT/5 times per file in one
# Python process with h5py imported. Both include opening and closing the file. CPU time
# (user+system) is the main figure, since the machine may be shared; wall time is shown too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-hdf5}
shift || true
tool=$build/bin/metafs-extract
[ -x "$tool" ] || { echo "no $tool: build metafs-extract first" >&2; exit 1; }
if [ $# -gt 0 ]; then files=("$@"); else files=("$root"/../shared/corpus/hdf5/*); fi
exec /usr/bin/python3 - "$tool" "${REPEAT:-100}" "${files[@]}" <<'PY'
import os, resource, subprocess, sys, time
import h5py

tool, repeat, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def run(path, copies):
    cpu, wall = child_cpu(), time.perf_counter()
    subprocess.run([tool, "--format", "hdf5", "--as", "json"] + [path] * copies,
                   stdout=subprocess.DEVNULL, check=False)
    return child_cpu() - cpu, time.perf_counter() - wall

def metafs(path):
    run(path, 1)  # warm the page cache
    best = None
    for _ in range(3):
        one_cpu, one_wall = run(path, 1)
        many_cpu, many_wall = run(path, repeat + 1)
        sample = (max(many_cpu - one_cpu, 0) / repeat, max(many_wall - one_wall, 0) / repeat)
        best = sample if best is None or sample[0] < best[0] else best
    return best

def walk(path):
    with h5py.File(path, "r") as f:
        values = [f.attrs[k] for k in f.attrs]
        def visit(name, obj):
            for k in obj.attrs:
                try:
                    values.append(obj.attrs[k])
                except Exception:
                    pass
            if isinstance(obj, h5py.Dataset):
                values.append((obj.shape, obj.maxshape, obj.dtype, obj.chunks, obj.compression))
        f.visititems(visit)
    return values

def python(path):
    n = max(1, repeat // 5)
    walk(path)
    best = None
    for _ in range(3):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(n):
            walk(path)
        sample = ((time.process_time() - cpu) / n, (time.perf_counter() - wall) / n)
        best = sample if best is None or sample[0] < best[0] else best
    return best

print("%-32s %11s %11s %7s   %11s %11s" % ("file", "metafs_cpu", "h5py_cpu", "ratio",
                                         "metafs_wall", "h5py_wall"))
tm = tp = 0.0
for path in files:
    m, p = metafs(path), python(path)
    tm += m[0]
    tp += p[0]
    print("%-32s %9.0fus %9.0fus %6.1fx   %9.0fus %9.0fus" % (
        os.path.basename(path), m[0] * 1e6, p[0] * 1e6, p[0] / max(m[0], 1e-9),
        m[1] * 1e6, p[1] * 1e6))
print("%-32s %9.0fus %9.0fus %6.1fx" % ("TOTAL (sum per file)", tm * 1e6, tp * 1e6, tp / tm))
PY
