#!/bin/bash
# Time per file of metafs-extract (HDF5 extractor, metadata.json) next to h5py (visititems +
# every attribute read) on the same files, both warm (files in the page cache).
#   extractors/hdf5/bench_hdf5.sh [BUILD_DIR] [FILE...]
# Defaults: build-hdf5 beside this checkout, every file of ../shared/corpus/hdf5.
# metafs-extract gets each file REPEAT times in one process (start-up subtracted); h5py runs
# in one Python process with h5py already imported. Both include opening and closing the file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build-hdf5}
shift || true
tool=$build/bin/metafs-extract
[ -x "$tool" ] || { echo "no $tool: build metafs-extract first" >&2; exit 1; }
if [ $# -gt 0 ]; then files=("$@"); else files=("$root"/../shared/corpus/hdf5/*); fi
repeat=${REPEAT:-50}

# Nanoseconds for one metafs-extract process given FILE $2 times.
run_ns() {
  local args=() i
  for ((i = 0; i < $2; i++)); do args+=("$1"); done
  local start end
  start=$(date +%s%N)
  "$tool" --format hdf5 --as json "${args[@]}" > /dev/null
  end=$(date +%s%N)
  echo $((end - start))
}

# Process start-up (shared libraries of every format) is not per-file work: the time of
# REPEAT+1 copies minus the time of one copy, divided by REPEAT.
declare -A ours
for f in "${files[@]}"; do
  run_ns "$f" 1 > /dev/null
  one=$(run_ns "$f" 1)
  many=$(run_ns "$f" $((repeat + 1)))
  ours[$f]=$(( (many - one) / repeat ))
done

/usr/bin/python3 - "$repeat" "${files[@]}" <<'PY' > /tmp/metafs_bench_h5py.$$
import sys, time
import h5py
repeat = int(sys.argv[1])

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

for path in sys.argv[2:]:
    n = max(1, repeat // 5)
    start = time.perf_counter_ns()
    for _ in range(n):
        walk(path)
    print(path, (time.perf_counter_ns() - start) // n)
PY
printf "%-34s %12s %12s %8s\n" file metafs_us h5py_us ratio
total_ours=0; total_py=0
while read -r f ns; do
  o=${ours[$f]}
  total_ours=$((total_ours + o)); total_py=$((total_py + ns))
  printf "%-34s %12.1f %12.1f %7.1fx\n" "$(basename "$f")" "$(echo "$o/1000" | bc -l)" \
    "$(echo "$ns/1000" | bc -l)" "$(echo "$ns/$o" | bc -l)"
done < /tmp/metafs_bench_h5py.$$
rm -f /tmp/metafs_bench_h5py.$$
printf "%-34s %12.1f %12.1f %7.1fx\n" "TOTAL (sum per file)" "$(echo "$total_ours/1000" | bc -l)" \
  "$(echo "$total_py/1000" | bc -l)" "$(echo "$total_py/$total_ours" | bc -l)"
