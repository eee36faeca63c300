#!/usr/bin/python3
"""header.txt against `ncdump -h`, byte for byte, over every netCDF file at hand.

Usage: tools/fidelity/netcdf_vs_ncdump.py [--extract BIN] [--work DIR] [--corpus DIR]
                                          [--cdl-dir DIR]... [--no-find] [--verbose] [--list]

Files compared:
  * the corpus (netcdf/, the netCDF files of malformed/, regressions/netcdf/);
  * every *.nc, *.nc4, *.cdf, *.nc[0-9] found on this machine (`find / -xdev`);
  * each of those that ncdump reads, dumped to CDL and rebuilt with ncgen in every format
    kind (nc3, nc6 = 64-bit offset, nc5 = CDF-5, nc4, nc7 = netCDF-4 classic model); kinds
    ncgen refuses (groups in a classic file, ...) are skipped;
  * the CDL files in tools/fidelity/netcdf_cdl/ and in each --cdl-dir, built the same way;
  * edge cases written here with netCDF4-python (CDL keywords as names, in all five
    formats) and h5py (control characters in names and enum members, a dimension used from
    a sibling group, files named with a tab), and the test oracle's generated files.

For each file: `ncdump -h FILE` (C locale) and `metafs-extract --as header FILE`. Classes:
  identical   ncdump succeeds and header.txt is the same bytes;
  different   ncdump succeeds, header.txt differs (a unified diff with --verbose);
  no-ref      ncdump fails or crashes (metafs's answer is listed, not judged);
  hdf5        metafs shows the file as hdf5 (README: an HDF5 file not named .nc, .nc4, .cdf
              or .netcdf without netCDF-4's own attributes), so header.txt is h5dump's.
Prints one line per file that is not identical, then the counts. With --values, every
attribute netCDF4-python reads (the test oracle's `attributes`) is also looked up in
metafs's metadata.json and compared. Exit status 1 when a file or a value differs. Needs /usr/bin/python3 (Debian's, with netCDF4 and h5py), ncdump and ncgen.
"""

import argparse
import difflib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KINDS = ["nc3", "nc6", "nc5", "nc4", "nc7"]
ENV = dict(os.environ, LC_ALL="C")
SUFFIXES = (".nc", ".nc4", ".cdf", ".netcdf") + tuple(".nc%d" % i for i in range(10))


def run(argv, timeout=60):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return -999, b"", b"timeout"


def is_netcdf(path):
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head[:3] == b"CDF" or head == b"\x89HDF\r\n\x1a\n"


def found_files(corpus, search_machine):
    files = []
    for sub in ["netcdf", "malformed", "regressions/netcdf"]:
        d = os.path.join(corpus, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if os.path.isfile(p) and (sub != "malformed" or name.lower().endswith(SUFFIXES)):
                files.append(p)
    if search_machine:
        rc, out, _ = run(["find", "/", "-xdev", "-type", "f", "(", "-name", "*.nc", "-o",
                          "-name", "*.nc[0-9]", "-o", "-name", "*.cdf", "-o", "-name",
                          "*.nc4", ")", "-not", "-path", "/proc/*", "-not", "-path",
                          "/tmp/*", "-not", "-path", "/farm/*"], timeout=600)
        for line in out.decode("utf-8", "surrogateescape").splitlines():
            if is_netcdf(line):
                files.append(line)
    # One copy of each content (the corpus exists in several places).
    seen, unique = set(), []
    for p in files:
        try:
            with open(p, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            continue
        if digest not in seen:
            seen.add(digest)
            unique.append(p)
    return unique


def ncgen_all_kinds(cdl_path, stem, out_dir):
    made = []
    for kind in KINDS:
        out = os.path.join(out_dir, "%s_%s.nc" % (stem, kind))
        rc, _, _ = run(["ncgen", "-k", kind, "-o", out, cdl_path])
        if rc == 0 and os.path.exists(out):
            made.append(out)
        elif os.path.exists(out):
            os.unlink(out)
    return made


def rebuilt_files(sources, out_dir):
    made = []
    for src in sources:
        rc, cdl, _ = run(["ncdump", src])
        if rc != 0 or len(cdl) > 64 << 20:
            continue
        stem = "rebuilt_" + os.path.basename(src).replace(".", "_")
        cdl_path = os.path.join(out_dir, stem + ".cdl")
        with open(cdl_path, "wb") as f:
            f.write(cdl)
        made += ncgen_all_kinds(cdl_path, stem, out_dir)
    return made


def cdl_files(cdl_dirs, out_dir):
    made = []
    for n, cdl_dir in enumerate(cdl_dirs):
        for name in sorted(os.listdir(cdl_dir)):
            if name.endswith(".cdl"):
                stem = name[:-4] if n == 0 else "%s_%d" % (name[:-4], n)
                made += ncgen_all_kinds(os.path.join(cdl_dir, name), stem, out_dir)
    return made


KEYWORDS = ["variables", "dimensions", "data", "group", "types", "variable", "dimension",
            "netcdf", "enum", "compound", "opaque", "string", "int", "float", "UNLIMITED"]


def python_files(out_dir):
    import h5py
    import netCDF4
    import numpy as np

    made = []
    for fmt in ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA", "NETCDF4",
                "NETCDF4_CLASSIC"]:
        path = os.path.join(out_dir, "keywords_%s.nc" % fmt.lower())
        with netCDF4.Dataset(path, "w", format=fmt) as d:
            for k in KEYWORDS:
                d.createDimension(k, 1)
            for k in KEYWORDS:
                v = d.createVariable(k, "i4", (k,))
                v.units = "m"
                v.setncattr(k, 1)
            d.setncattr("data", "global")
            if fmt == "NETCDF4":
                sub = d.createGroup("sub")  # names of a group clash with its variables'
                for k in ["data", "group", "types"]:
                    g = sub.createGroup(k)
                    g.createDimension("variables", 2)
                    w = g.createVariable("dimensions", "f4", ("variables",))
                    w.data = "x"
                    g.setncattr("group", 1)
        made.append(path)

    # Control characters: netCDF-C refuses them in new names, HDF5 does not.
    path = os.path.join(out_dir, "control_chars.nc")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("a\nb\tc", data=np.arange(3, dtype="i4"))
        d.attrs["x\x01y"] = np.int32(1)
        d.attrs["u\x7fv\x1f"] = np.int32(2)
        f.attrs["g\x1bh"] = "val"
        enum = h5py.enum_dtype({"one\ttab": 0, "two\nlines": 1, "plain": 2}, basetype="i1")
        f["cats\x02"] = np.dtype(enum)
        e = f.create_dataset("e", data=np.array([0, 1, 2], dtype="i1"), dtype=f["cats\x02"])
        e.attrs.create("which", np.array([1, 0], dtype="i1"), dtype=f["cats\x02"])
        g = f.create_group("grp\x03")
        g.create_dataset("v\x04", data=np.zeros(2, dtype="f4"))
    made.append(path)
    for name in ["tab\there.nc", "new\nline.nc", "del\x7f.x.nc", "9 lives.nc"]:
        p = os.path.join(out_dir, name)
        shutil.copyfile(os.path.join(out_dir, "keywords_netcdf3_classic.nc"), p)
        made.append(p)

    # HDF5 features netCDF-C maps (or refuses) in files not written by netCDF, named .nc.
    def h5(name, build):
        p = os.path.join(out_dir, name)
        with h5py.File(p, "w") as f:
            build(f)
        made.append(p)

    h5("h5_bool.nc", lambda f: f.create_dataset("b", data=np.array([True, False])))
    h5("h5_complex.nc", lambda f: f.create_dataset("c", data=np.array([1 + 2j])))
    h5("h5_half.nc", lambda f: f.create_dataset("h", data=np.zeros(2, dtype="f2")))
    h5("h5_empty.nc", lambda f: f.create_dataset("e", data=h5py.Empty("f4")))
    h5("h5_null_attribute.nc", lambda f: f.attrs.create("n", h5py.Empty("f4")))
    h5("h5_rank32.nc", lambda f: f.create_dataset("r", shape=(1,) * 32, dtype="i1"))
    h5("h5_vlen_strings.nc", lambda f: f.create_dataset(
        "s", data=np.array(["a", "bb"], dtype=object), dtype=h5py.string_dtype()))
    h5("h5_nested_compound.nc", lambda f: f.create_dataset(
        "c", shape=(1,), dtype=np.dtype([("a", "i4", (2, 2)), ("b", [("c", "f8")])])))

    def references(f):
        x = f.create_dataset("x", data=np.arange(3))
        f.create_dataset("r", data=[x.ref], dtype=h5py.ref_dtype)
        f.create_dataset("rr", data=[x.regionref[0:1]], dtype=h5py.regionref_dtype)
    h5("h5_references.nc", references)

    def refused_links(f):  # netCDF-C refuses: metafs shows the HDF5 view
        f.create_dataset("x", data=np.arange(3))
        f["gone"] = h5py.SoftLink("/nowhere")
    h5("h5_dangling_link.nc", refused_links)

    def refused_type(f):
        f["t"] = np.dtype("i4")
        f.create_dataset("d", shape=(2,), dtype=f["t"])
    h5("h5_committed_atomic_type.nc", refused_type)

    # A variable in one group using a dimension of its sibling.
    path = os.path.join(out_dir, "sibling_dims.nc")
    with netCDF4.Dataset(path, "w", format="NETCDF4") as d:
        a = d.createGroup("a")
        a.createDimension("d1", 2)
        b = d.createGroup("b")
        b.createDimension("t", None)
    with h5py.File(path, "r+") as f:
        for name in ["v", "w"]:
            ds = f["b"].create_dataset(name, data=np.zeros(2, dtype="i4"))
            ds.dims[0].attach_scale(f["a/d1"])
    made.append(path)
    return made


def oracle_files(out_dir):
    oracle = os.path.join(ROOT, "tests", "extractors", "oracles", "netcdf_oracle.py")
    rc, out, _ = run(["/usr/bin/python3", oracle, "generate", out_dir])
    if rc != 0:
        return []
    return [line for line in out.decode().splitlines() if line]


def escape_name(name):
    """A netCDF name as metafs names it in fields/ and metadata.json (meta_tree.cpp)."""
    if name in ("", ".", ".."):
        return {"": "%00", ".": "%2E", "..": "%2E%2E"}[name]
    raw = name.encode("utf-8", "surrogateescape")
    out = bytearray()
    for b in raw:
        if b < 0x20 or b == 0x7F or b in b"/%#":
            out += b"%%%02X" % b
        else:
            out.append(b)
    return out.decode("utf-8", "surrogateescape")


def same_number(ours, theirs, dtype, enum_members):
    import numpy as np

    if isinstance(ours, str) and ours in enum_members:
        ours = enum_members[ours]
    if isinstance(theirs, str) or isinstance(ours, str):  # NaN, Infinity, -Infinity
        return ours == theirs
    if dtype == "float32":
        return np.float32(ours) == np.float32(theirs)
    return ours == theirs


def compare_values(path, extract):
    """Every attribute netCDF4-python reads in `path` against metafs's metadata.json.
    Returns (compared, [problems]); compared is None when netCDF4-python cannot open it."""
    import json

    oracle = os.path.join(ROOT, "tests", "extractors", "oracles", "netcdf_oracle.py")
    rc, out, err = run(["/usr/bin/python3", oracle, "attributes", path])
    if rc != 0:
        return None, []
    _, ours, _ = run([extract, "--as", "json", path])
    tree = json.loads(ours.decode("utf-8", "surrogateescape") or "{}")
    problems, compared = [], 0
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        item = json.loads(line)
        node = tree
        for segment in item["path"]:
            node = node.get(escape_name(segment)) if isinstance(node, dict) else None
        shown = "/".join(item["path"])
        if node is None:
            problems.append("%s: not in metadata.json" % shown)
            continue
        compared += 1
        want = item["values"]
        got = node if isinstance(node, list) else [node]
        if item["kind"] == "text":
            ok = got == want
        elif item["kind"] == "strings":
            ok = got == want
        else:
            members = item.get("enum_members", {})
            ok = len(got) == len(want) and all(
                same_number(a, b, item["dtype"], members) for a, b in zip(got, want))
        if not ok:
            problems.append("%s: metafs %r, netCDF4 %r" % (shown, got, want))
    return compared, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extract", default=os.path.join(ROOT, "build", "bin", "metafs-extract"))
    ap.add_argument("--corpus", default="/work/shared/corpus")
    ap.add_argument("--work", help="where built files go (default: a temporary directory)")
    ap.add_argument("--no-find", action="store_true", help="skip the search of the machine")
    ap.add_argument("--cdl-dir", action="append", default=[],
                    help="more CDL to build in every kind (e.g. netCDF-C's ncdump/*.cdl)")
    ap.add_argument("--verbose", action="store_true", help="show the diff of each difference")
    ap.add_argument("--list", action="store_true", help="one line for every file")
    ap.add_argument("--values", action="store_true",
                    help="also compare every attribute netCDF4-python reads with metadata.json")
    args = ap.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="netcdf_vs_ncdump.")
    built = os.path.join(work, "built")
    os.makedirs(built, exist_ok=True)
    found = found_files(args.corpus, not args.no_find)
    cdl_dirs = [os.path.join(HERE, "netcdf_cdl")] + args.cdl_dir
    files = found + rebuilt_files(found, built) + cdl_files(cdl_dirs, built)
    files += python_files(built) + oracle_files(os.path.join(work, "oracle"))

    counts = {"identical": 0, "different": 0, "no-ref": 0, "hdf5": 0}
    values = {"files": 0, "attributes": 0, "problems": 0, "unreadable": 0}
    for path in files:
        _, fmt, _ = run([args.extract, "--as", "format", path])
        if fmt == b"hdf5\n":
            counts["hdf5"] += 1
            print("hdf5       %s" % path.encode("unicode_escape").decode())
            continue
        rc, ref, ref_err = run(["ncdump", "-h", path])
        xrc, ours, our_err = run([args.extract, "--as", "header", path])
        shown = path.encode("unicode_escape").decode()
        if rc != 0:
            counts["no-ref"] += 1
            why = ref_err.decode(errors="replace").strip().splitlines()[-1:] or ["signal %d" % -rc]
            ours_said = our_err.decode(errors="replace").strip().replace(path, "FILE")
            print("no-ref     %s\n           ncdump: %s\n           metafs: %s (%d header bytes)"
                  % (shown, why[0].replace(path, "FILE"), ours_said or "no error", len(ours)))
            continue
        if args.values:
            compared, problems = compare_values(path, args.extract)
            if compared is None:
                values["unreadable"] += 1
            else:
                values["files"] += 1
                values["attributes"] += compared
                values["problems"] += len(problems)
                for problem in problems:
                    print("value      %s: %s" % (shown, problem))
        if ours == ref:
            counts["identical"] += 1
            if args.list:
                print("identical  %s" % shown)
            continue
        counts["different"] += 1
        print("different  %s" % shown)
        if args.verbose:
            diff = difflib.unified_diff(ref.decode(errors="replace").splitlines(),
                                        ours.decode(errors="replace").splitlines(),
                                        "ncdump -h", "header.txt", lineterm="", n=1)
            for line in list(diff)[:40]:
                print("           " + line)
            if our_err:
                print("           metafs: " + our_err.decode(errors="replace").strip())
    total = sum(counts.values())
    print("files: %d  identical: %d  different: %d  ncdump fails: %d  shown as hdf5: %d  "
          "(extractor %s)" % (total, counts["identical"], counts["different"], counts["no-ref"],
                             counts["hdf5"], args.extract))
    if args.values:
        print("values: %d attributes of %d files compared with netCDF4-python, %d differ "
              "(%d files netCDF4-python cannot read)" % (values["attributes"], values["files"],
                                                         values["problems"], values["unreadable"]))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if counts["different"] or values["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
