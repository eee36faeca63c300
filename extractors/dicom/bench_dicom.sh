#!/bin/sh
# Time per DICOM file: metafs-extract (DCMTK, in one process) next to pydicom
# (dcmread(stop_before_pixels=True), in one process), on the same files, each read ROUNDS times.
#   extractors/dicom/bench_dicom.sh [metafs-extract binary] [rounds]
# Files: every DICOM file of the corpus that dcmdump reads. Page cache warm for both.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../../build/bin/metafs-extract}
rounds=${2:-20}
corpus=${METAFS_CORPUS_DIR:-$here/../../../shared/corpus}
files=$(find "$corpus/dicom" -type f | sort)
files="$files $corpus/malformed/CR-MONO1-10-chest $corpus/malformed/suyashkumar_nonstandard_charset.dcm"
count=$(echo $files | wc -w)

list=""
i=0
while [ $i -lt "$rounds" ]; do list="$list $files"; i=$((i + 1)); done

# Startup (DCMTK's dictionary) once, measured separately with one file.
start=$(date +%s%N)
"$bin" --format dicom $(echo $files | cut -d' ' -f1) > /dev/null
startup=$(( $(date +%s%N) - start ))
start=$(date +%s%N)
# shellcheck disable=SC2086
"$bin" --format dicom --as txt $list > /dev/null
total=$(( $(date +%s%N) - start ))
metafs_us=$(( (total - startup) / 1000 / (count * rounds) ))

pydicom_us=$(/usr/bin/python3 - "$rounds" $files <<'PY'
import sys, time
import pydicom
rounds, files = int(sys.argv[1]), sys.argv[2:]
for f in files:  # import and first-use costs out of the measurement, as for metafs
    pydicom.dcmread(f, stop_before_pixels=True, force=True)
start = time.perf_counter()
for _ in range(rounds):
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
        for elem in ds.iterall():  # touch every value, as metafs renders every value
            elem.value
print(int((time.perf_counter() - start) * 1e6 / (rounds * len(files))))
PY
)
echo "files: $count x $rounds rounds"
echo "metafs-extract (DCMTK, txt of every element): ${metafs_us} us/file (process start-up $((startup / 1000000)) ms, excluded)"
echo "pydicom dcmread(stop_before_pixels=True) + every value: ${pydicom_us} us/file"
echo "ratio: $(echo "scale=1; $pydicom_us / $metafs_us" | bc)x"
