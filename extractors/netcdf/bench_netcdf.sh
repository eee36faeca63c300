#!/bin/sh
# Time per file: metafs-extract (netCDF extractor + JSON rendering) next to netCDF4-python
# reading the same metadata (dimensions, variables, every attribute), both in one process.
#   extractors/netcdf/bench_netcdf.sh [BUILD_DIR] [ROUNDS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
rounds=${2:-20}
corpus=${METAFS_CORPUS_DIR:-$here/../../../shared/corpus}
tool=$build/bin/metafs-extract
bench() {
label=$1
files=$2
count=$(echo "$files" | wc -l)

# metafs-extract: every file `rounds` times in one process, so start-up is amortised.
list=""
i=0
while [ $i -lt "$rounds" ]; do list="$list $files"; i=$((i + 1)); done
start=$(date +%s%N)
# shellcheck disable=SC2086
"$tool" --format netcdf --as json $list >/dev/null
end=$(date +%s%N)
metafs_us=$(( (end - start) / 1000 / (rounds * count) ))

python_us=$(/usr/bin/python3 - "$rounds" $files <<'PY'
import sys, time, warnings
import netCDF4
warnings.simplefilter("ignore")
rounds, files = int(sys.argv[1]), sys.argv[2:]

def walk(g, out):
    out.update({f"d:{k}": len(v) for k, v in g.dimensions.items()})
    out.update({f"a:{k}": g.getncattr(k) for k in g.ncattrs()})
    for name, v in g.variables.items():
        out[f"v:{name}"] = (v.dtype, v.dimensions, v.shape)
        for k in v.ncattrs():
            try:
                out[f"v:{name}:{k}"] = v.getncattr(k)
            except Exception:
                pass
    for child in g.groups.values():
        walk(child, out)

start = time.perf_counter()
for _ in range(rounds):
    for f in files:
        with netCDF4.Dataset(f) as ds:
            walk(ds, {})
print(int((time.perf_counter() - start) * 1e6 / (rounds * len(files))))
PY
)
echo "== $label: $count files x $rounds rounds"
echo "metafs-extract: $metafs_us us/file (one process, JSON rendered)"
echo "netCDF4-python: $python_us us/file (one process, import excluded)"
echo "speed-up: $(echo "scale=1; $python_us / $metafs_us" | bc)x"
}
all=$(ls "$corpus"/netcdf/*)
classic=$(for f in $all; do if head -c 3 "$f" | grep -q CDF; then echo "$f"; fi; done)
netcdf4=$(for f in $all; do if ! head -c 3 "$f" | grep -q CDF; then echo "$f"; fi; done)
bench "all netCDF files" "$all"
bench "classic (CDF-1/2/5)" "$classic"
bench "netCDF-4 (HDF5)" "$netcdf4"
