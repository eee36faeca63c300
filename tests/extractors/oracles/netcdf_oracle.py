#!/usr/bin/python3
"""Oracle for tests/extractors/test_netcdf.cpp (run with Debian's /usr/bin/python3).

  netcdf_oracle.py attributes FILE...  every attribute netCDF4-python reads, as JSON lines:
      {"file": F, "path": [segments under fields/], "kind": "text"|"strings"|"numbers",
       "values": [...], "dtype": numpy dtype name}
  netcdf_oracle.py generate DIR        writes edge-case files into DIR (netCDF4-python,
                                       ncgen and h5py), one path per line on stdout
  netcdf_oracle.py refused DIR         writes HDF5 files named .nc that netCDF-C refuses
                                       (h5py), one path per line on stdout
  netcdf_oracle.py hangs DIR           writes an HDF5 file named .nc on which netCDF-C (and
                                       ncdump) loops forever: a group that links to the root
"""
import json
import math
import os
import subprocess
import sys
import warnings

import netCDF4
import numpy as np


def number(x):
    if isinstance(x, (float, np.floating)) and not math.isfinite(float(x)):
        return "NaN" if math.isnan(float(x)) else ("Infinity" if x > 0 else "-Infinity")
    return x.item() if hasattr(x, "item") else x


def describe(path, value):
    if isinstance(value, str):
        return {"path": path, "kind": "text", "values": [value]}
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return {"path": path, "kind": "strings", "values": list(value)}
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype.kind not in "iuf":
        return None  # user-defined types: netCDF4-python has no general reader for them
    return {"path": path, "kind": "numbers", "dtype": arr.dtype.name,
            "values": [number(v) for v in arr]}


def read(obj, name):
    try:
        return obj.getncattr(name)
    except (RuntimeError, KeyError):
        return None  # a user-defined type netCDF4-python cannot read: nothing to compare


def walk(group, prefix, out):
    for name in group.ncattrs():
        value = read(group, name)
        if value is not None:
            out.append(describe(prefix + ["attributes", name], value))
    for vname, var in group.variables.items():
        for name in var.ncattrs():
            value = read(var, name)
            if value is not None:
                out.append(describe(prefix + ["variables", vname, "attributes", name], value))
    for gname, child in group.groups.items():
        walk(child, prefix + ["groups", gname], out)


def collect_enums(group, out):
    """Every enum member of the file: netCDF4-python reads enum attributes as numbers."""
    for enum in group.enumtypes.values():
        out.update({k: int(v) for k, v in enum.enum_dict.items()})
    for child in group.groups.values():
        collect_enums(child, out)


def attributes(files):
    warnings.simplefilter("ignore")  # "unsupported datatype" notes for user-defined types
    for f in files:
        with netCDF4.Dataset(f) as ds:
            ds.set_auto_mask(False)
            found = []
            walk(ds, [], found)
            enums = {}
            collect_enums(ds, enums)
        for item in found:
            if item is None:
                continue
            item["file"] = f
            if enums and item["kind"] == "numbers":
                item["enum_members"] = enums
            print(json.dumps(item))


CDL_USER_TYPES = r"""
netcdf user_types {
types:
  compound pair { short a ; double b(2) ; char tag(3) ; };
  int(*) ragged ;
  opaque(4) blob ;
  byte enum level {low = -1, mid = 0, high = 1} ;
  uint64 enum huge {big = 18446744073709551615, small = 1} ;
  ushort enum many {one_rather_long_member_name = 1, another_rather_long_member_name = 2,
    yet_another_rather_long_member_name = 3, the_last_rather_long_member_name = 4} ;
dimensions:
  n = 2 ;
  rec = UNLIMITED ;
variables:
  pair p(n) ;
    pair p:pa = {1, {2.5, -3}, {"ab"}}, {-2, {1e+300, 0.1}, {"xyz"}} ;
  ragged r(rec) ;
    ragged r:ra = {1, 2, 3}, {}, {-7} ;
  blob b ;
    blob b:ba = 0X0102ABFF, 0X00000000 ;
  level l(n) ;
    level l:la = high, low ;
  int counts(n) ;
    counts:variable = 1 ;
// global attributes:
  string :sa = "one", "two\nlines", "tab\there" ;
  :longtext = "a long text attribute with a newline\nand more text after it" ;
  :nul = "trailing nul\000\000" ;
group: g1 {
  types:
    compound inner { int x ; } ;
  dimensions:
    n = 3 ;
  variables:
    inner v(n) ;
    int w(/n) ;
    int u(n) ;
  group: g2 {
    variables:
      inner z ;
      int y(/g1/n) ;
      int x(/n) ;
      string s ;
        s:units = "m" ;
  }
}
group: sib {
  variables:
    /g1/inner q ;
}
}
"""

CDL_CLASSIC = r"""
netcdf \1classic {
dimensions:
  time = UNLIMITED ;
  x\ y = 4 ;
variables:
  float time(time) ;
    time:units = "days since 2000-01-01" ;
    time:_FillValue = 9.96921e+36f ;
    time:valid_range = -1.e+30f, 1.e-30f ;
  double v\:w(time, x\ y) ;
    v\:w:specials = NaN, Infinity, -Infinity, 0., -0., 1.e+100, 123456789012345., 0.1 ;
    v\:w:floats = NaNf, Infinityf, 3.4028235e+38f, 1.e-45f, 0.5f, 100000.f ;
    v\:w:ints = -2147483648, 2147483647 ;
    v\:w:bytes = -128b, 127b, 0b ;
    v\:w:text = "quote\" backslash\\ tab\t cr\r bell\007 del\177" ;
    v\:w:multi = "line one\nline two\n" ;
  char c(x\ y) ;
    c:empty = "" ;
// global attributes:
  :title = "classic edge cases" ;
  :history = "created\nby the metafs oracle" ;
}
"""


def generate(directory):
    os.makedirs(directory, exist_ok=True)
    made = []
    path = os.path.join(directory, "atomic_netcdf4.nc")
    with netCDF4.Dataset(path, "w", format="NETCDF4") as d:
        d.setncattr("s", "line1\nline2\ttab \"q\" \\ 'a' \x01 \x7f \u00e9")
        d.setncattr_string("strs", ["a", "b\nc", ""])
        for t in ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8"]:
            d.setncattr("a_" + t, np.array([1, 2, 3 if t[0] == "u" else -1], dtype=t))
        d.setncattr("f", np.float32(1e-7))
        d.setncattr("g", 123456789.0)
        d.setncattr("h", np.float32(0.1))
        d.setncattr("big", np.array([np.iinfo("i8").min, np.iinfo("i8").max], dtype="i8"))
        d.setncattr("ubig", np.array([np.iinfo("u8").max], dtype="u8"))
        d.createDimension("t", None)
        d.createDimension("x", 3)
        v = d.createVariable("v", "f4", ("t", "x"))
        v.units = "m"
        v[0:5, :] = 1.0
        g = d.createGroup("data")
        g.createDimension("x", 5)
        g.createVariable("w", "i2", ("x",))
        g.createVariable("w2", "i2", ("t", "x"))
        g.title = "group"
        gg = g.createGroup("types")
        gg.createVariable("variable", "S1", ())
        gg["variable"].setncattr("data", "keyword names")
    made.append(path)
    path = os.path.join(directory, "classic_model.nc")
    with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as d:
        d.createDimension("r", None)
        d.createVariable("r", "f8", ("r",))
        d.s = "a\nb"
    made.append(path)
    for name, cdl, kind in [("user_types.nc", CDL_USER_TYPES, "nc4"),
                            ("1classic.nc", CDL_CLASSIC, "classic"),
                            ("classic_cdf2.nc", CDL_CLASSIC, "64-bit-offset"),
                            ("classic_cdf5.nc", CDL_CLASSIC, "cdf5")]:
        path = os.path.join(directory, name)
        src = os.path.join(directory, name + ".cdl")
        with open(src, "w") as f:
            f.write(cdl)
        subprocess.run(["ncgen", "-k", kind, "-o", path, src], check=True)
        made.append(path)
    made.append(control_characters(directory))
    for p in made:
        print(p)


def control_characters(directory):
    """Control characters in every kind of name: netCDF-C refuses them in names it writes,
    HDF5 (here h5py) does not, and netCDF-C reads them back."""
    import h5py

    path = os.path.join(directory, "control_chars.nc")
    with h5py.File(path, "w") as f:
        d = f.create_dataset("a\nb\tc", data=np.arange(3, dtype="i4"))
        d.attrs["x\x01y"] = np.int32(1)
        d.attrs["u\x7fv\x1f"] = np.int32(2)
        f.attrs["g\x1bh"] = "val"
        f["cats\x02"] = np.dtype(h5py.enum_dtype({"one\ttab": 0, "two\nlines": 1, "plain": 2},
                                                 basetype="i1"))
        e = f.create_dataset("e", data=np.array([0, 1, 2], dtype="i1"), dtype=f["cats\x02"])
        e.attrs.create("which", np.array([1, 0], dtype="i1"), dtype=f["cats\x02"])
        f.create_group("grp\x03").create_dataset("v\x04", data=np.zeros(2, dtype="f4"))
    return path


def refused(directory):
    """Valid HDF5 files named .nc that netCDF-C 4.9 will not open."""
    import h5py

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "dangling_link.nc")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(3, dtype="i4")).attrs["units"] = "m"
        f["gone"] = h5py.SoftLink("/nowhere")
    print(path)
    path = os.path.join(directory, "committed_atomic_type.nc")
    with h5py.File(path, "w") as f:
        f["t"] = np.dtype("i4")
        f.create_dataset("d", shape=(2,), dtype=f["t"])
    print(path)


def hangs(directory):
    import h5py

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "group_cycle.nc")
    with h5py.File(path, "w") as f:
        f.create_group("g")["back"] = f["/"]
    print(path)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "attributes":
        attributes(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "generate":
        generate(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "refused":
        refused(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "hangs":
        hangs(sys.argv[2])
    else:
        sys.exit(__doc__)
