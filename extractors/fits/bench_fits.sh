#!/bin/sh
# Time per FITS file: metafs-extract (all of fields/ + header.txt rendered) next to astropy's
# fits.open + every header, on the same files, each tool in one process over all files.
#   extractors/fits/bench_fits.sh [METAFS_EXTRACT] [ROUNDS]
set -eu
tool=${1:-$(dirname "$0")/../../build/bin/metafs-extract}
rounds=${2:-20}
corpus=$(cd "$(dirname "$0")/../../../shared/corpus/fits" && pwd)
files=$(ls "$corpus"/*)
count=$(echo "$files" | wc -l)

args=""
i=0
while [ "$i" -lt "$rounds" ]; do args="$args $files"; i=$((i + 1)); done
n=$((count * rounds))

start=$(date +%s%N)
# shellcheck disable=SC2086
"$tool" $args --as txt >/dev/null 2>&1 || true
end=$(date +%s%N)
metafs_us=$(( (end - start) / 1000 / n ))

# shellcheck disable=SC2086
astropy_us=$(/usr/bin/python3 - $args <<'PY'
import sys, time, warnings
warnings.simplefilter("ignore")
from astropy.io import fits
start = time.perf_counter()
for path in sys.argv[1:]:
    with fits.open(path) as hdul:
        for hdu in hdul:
            for card in hdu.header.cards:
                card.value
print(int((time.perf_counter() - start) * 1e6 / (len(sys.argv) - 1)))
PY
)
echo "files: $count x $rounds rounds"
echo "metafs-extract: ${metafs_us} us/file (one process, includes rendering metadata.txt)"
echo "astropy fits.open + headers: ${astropy_us} us/file (one process, import excluded)"
