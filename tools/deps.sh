# Sourced by tools/run and tools/test: installs the Debian packages metafs needs, once.
# shellcheck shell=bash

METAFS_BUILD_PACKAGES=(
  cmake ninja-build g++ pkg-config clang-format
  libfuse3-dev fuse3 libdcmtk-dev libcfitsio-dev libhdf5-dev libnetcdf-dev liblmdb-dev
  libspdlog-dev libgtest-dev nlohmann-json3-dev libcli11-dev libsystemd-dev libseccomp-dev
  libzstd-dev libxxhash-dev zlib1g-dev help2man
  libpq-dev  # the shared tier's PostgreSQL client (shared_tier/)
  python3 python3-pydicom  # the private DICOM dictionary is generated from pydicom's
)
# Reference tools and Python libraries the tests compare against.
METAFS_TEST_PACKAGES=(
  dcmtk netcdf-bin hdf5-tools libcfitsio-bin fitsverify systemd gzip acl
  python3 python3-astropy python3-h5py python3-netcdf4 python3-numpy man-db
  python3-prometheus-client
  plocate rsync  # tools/metafs-bench walk, scale: updatedb, plocate, rsync -n
  postgresql  # the shared tier's tests initdb and start a server of their own
)

metafs_install_packages() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "metafs: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# Configures (once) and builds build-DIR with the given build type.
metafs_build() {
  local dir=$1 type=$2
  shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S "$METAFS_ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" "$@" >&2
  fi
  cmake --build "$dir" -j "$(nproc)" >&2
}
