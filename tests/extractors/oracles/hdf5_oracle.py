#!/usr/bin/python3
"""h5py's view of HDF5 files, formatted the way metafs shows values in fields/.

Usage: hdf5_oracle.py FILE...          -> JSON {file: {"objects": {...}, "links": {...}}}
       hdf5_oracle.py --make-features OUT  -> writes a file exercising filters, fill values,
                                              enums, vlen, references, big arrays, cycles
       hdf5_oracle.py --make-huge OUT GIB  -> a sparse contiguous dataset of GIB GiB
       hdf5_oracle.py --make-wide OUT N    -> a group with N links and N attributes
       hdf5_oracle.py --make-foreign OUT SOURCE RAW -> a file naming SOURCE and RAW (links,
                                              virtual and external-storage datasets)
       hdf5_oracle.py --netcdf4-rule FILE... -> JSON {file: has netCDF-4 attributes}
       hdf5_oracle.py --make-details OUT   -> comments, named and anonymous committed types,
                                              long and multi-line enum names, empty dataspaces
       hdf5_oracle.py --make-unusual-types OUT -> VAX floats and a big-endian variable-length
                                              string (h5py cannot read VAX floats)

Formatting rules (mirrors extractors/hdf5/hdf5_value_text.cpp): integers in decimal, floats
in shortest round-trip form (the test compares numbers by value), strings as stored,
references as the path of their target, compounds as {name: value, ...}, arrays and vlen
sequences as [a, b], enums by member name; an attribute with a dataspace of more than 256
elements shows its first 16 and ", ... (N values)"; a null dataspace shows "".
"""
import json
import sys

import h5py
import numpy as np

MAX_FULL = 256
SUMMARY = 16


def fmt_float(v, dt):
    if dt.itemsize <= 4:
        return str(np.float32(v))
    return repr(float(v))


def fmt_sequence(values, dt, f):
    values = list(values)
    n = len(values)
    shown = values if n <= MAX_FULL else values[:SUMMARY]
    parts = [fmt(v, dt, f) for v in shown]
    if n > len(shown):
        parts.append("... (%d values)" % n)
    return parts


def fmt(v, dt, f):
    """One element `v` of numpy dtype `dt`."""
    ref = h5py.check_ref_dtype(dt)
    if ref is not None:
        if not v:
            return "(null reference)"
        return f[v].name
    enum = h5py.check_enum_dtype(dt)
    if enum is not None:
        names = {value: name for name, value in enum.items()}
        return names.get(int(v), "(not a member of the enumeration)")
    string = h5py.check_string_dtype(dt)
    if string is not None:
        if isinstance(v, bytes):
            v = v.split(b"\0", 1)[0] if string.length is not None else v
            return v.decode("utf-8", "replace")
        return str(v)
    vlen = h5py.check_vlen_dtype(dt)
    if vlen is not None:
        return "[" + ", ".join(fmt_sequence(v, np.dtype(vlen), f)) + "]"
    if dt.names:
        return "{" + ", ".join(
            "%s: %s" % (name, fmt(v[name], dt.fields[name][0], f)) for name in dt.names) + "}"
    if dt.subdtype is not None:
        base = dt.subdtype[0]
        return "[" + ", ".join(fmt_sequence(np.asarray(v).flatten(), base, f)) + "]"
    if dt.kind == "b":
        return "TRUE" if v else "FALSE"
    if dt.kind in "iu":
        return str(int(v))
    if dt.kind == "f":
        return fmt_float(v, dt)
    if dt.kind == "c":
        part = np.dtype("f%d" % (dt.itemsize // 2))
        return "{r: %s, i: %s}" % (fmt_float(v.real, part), fmt_float(v.imag, part))
    if dt.kind == "V":
        return bytes(v).hex()
    return str(v)


def is_number(dt):
    return dt.kind in "iuf" and h5py.check_enum_dtype(dt) is None


def attribute(obj, name, f):
    aid = h5py.h5a.open(obj.id, name.encode())
    dt = aid.dtype
    space = aid.get_space()
    cls = space.get_simple_extent_type()
    if cls == h5py.h5s.NULL:
        return {"text": "", "number": False, "list": False}
    value = obj.attrs[name]
    if cls == h5py.h5s.SCALAR:
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        return {"text": fmt(value, dt, f), "number": is_number(dt), "list": False}
    flat = np.asarray(value, dtype=object if dt.kind == "O" else None).flatten()
    if dt.kind == "O" and h5py.check_string_dtype(dt) is None and h5py.check_ref_dtype(dt) is None:
        flat = np.asarray(value).flatten()
    items = fmt_sequence(flat, dt, f)
    return {"text": ", ".join(items), "number": is_number(dt) and 0 < len(flat) <= MAX_FULL,
            "list": len(flat) <= MAX_FULL}


def dataset(d, f):
    info = {"kind": "dataset"}
    info["shape"] = list(d.shape) if d.shape is not None else None
    info["maxshape"] = ["unlimited" if m is None else m for m in d.maxshape] \
        if d.maxshape is not None else None
    info["chunks"] = list(d.chunks) if d.chunks else None
    filters = []
    dcpl = d.id.get_create_plist()
    for i in range(dcpl.get_nfilters()):
        code, _flags, values, _name = dcpl.get_filter(i)
        filters.append([code, list(values)])
    info["filters"] = filters
    info["layout"] = {0: "compact", 1: "contiguous", 2: "chunked", 3: "virtual"}.get(
        dcpl.get_layout(), "unknown")
    info["storage_size"] = d.id.get_storage_size()
    try:
        dt = d.dtype
        simple = (h5py.check_vlen_dtype(dt) is None and h5py.check_ref_dtype(dt) is None
                  and h5py.check_string_dtype(dt) is None or
                  (h5py.check_string_dtype(dt) and h5py.check_string_dtype(dt).length))
        info["fillvalue"] = fmt(d.fillvalue, dt, f) if simple and not dt.names else None
    except Exception:
        info["fillvalue"] = None
    return info


def describe(path):
    objects = {}
    links = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            key = "/" + name
            if isinstance(obj, h5py.Dataset):
                entry = dataset(obj, f)
            elif isinstance(obj, h5py.Group):
                entry = {"kind": "group"}
            else:
                entry = {"kind": "named datatype"}
            entry["attrs"] = {a: attribute(obj, a, f) for a in obj.attrs.keys()}
            objects[key] = entry
            if isinstance(obj, h5py.Group):
                group_links(obj, key)

        def group_links(group, key):
            for name in group.keys():
                try:
                    link = group.get(name, getlink=True)
                except TypeError:  # user-defined link classes are unknown to h5py
                    links[key.rstrip("/") + "/" + name] = {"kind": "user-defined link"}
                    continue
                full = (key.rstrip("/") + "/" + name)
                if isinstance(link, h5py.SoftLink):
                    links[full] = {"kind": "soft link", "target": link.path}
                elif isinstance(link, h5py.ExternalLink):
                    links[full] = {"kind": "external link", "file": link.filename,
                                   "target": link.path}

        root = {"kind": "group", "attrs": {a: attribute(f, a, f) for a in f.attrs.keys()}}
        objects["/"] = root
        group_links(f, "/")
        f.visititems(visit)
    return {"objects": objects, "links": links}


def make_features(out):
    with h5py.File(out, "w") as f:
        g = f.create_group("data")
        d = g.create_dataset("temperature", shape=(10, 20), maxshape=(None, 20), dtype="<f4",
                             chunks=(5, 20), compression="gzip", compression_opts=4,
                             shuffle=True, fletcher32=True, fillvalue=-999.5)
        d.attrs["units"] = "K"
        d.attrs["valid_range"] = np.array([-50.5, 60.25], dtype="<f8")
        d.attrs["big"] = np.arange(1000, dtype="<i4")
        d.attrs["matrix"] = np.arange(6, dtype=">i2").reshape(2, 3)
        d.attrs["flag"] = np.bool_(True)
        d.attrs["complex"] = np.complex64(1.5 - 2j)
        d.attrs["names"] = np.array(["alpha", "beta", "gamma"], dtype=h5py.string_dtype())
        d.attrs["fixed"] = np.array([b"ab", b"cde"], dtype="S5")
        d.attrs["utf8"] = "gr\u00fc\u00df dich"
        d.attrs["empty"] = h5py.Empty("f4")
        color = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": 42}, basetype="u1")
        d.attrs.create("color", 42, dtype=color)
        d.attrs["ragged"] = np.array([np.array([1, 2, 3], "i4"), np.array([4], "i4")],
                                     dtype=h5py.vlen_dtype("i4"))
        d.attrs["self"] = d.ref
        d.attrs["nan"] = np.float64("nan")
        d.attrs["tiny"] = np.float32(1e-30)
        g.create_dataset("scalar", data=np.int64(-7))
        g.create_dataset("nothing", data=h5py.Empty("i4"))
        g["loop"] = g  # a hard link back to its own group: a cycle
        f["alias"] = d  # a second hard link to the dataset
        f["soft"] = h5py.SoftLink("/data/temperature")
        f["ext"] = h5py.ExternalLink("other.h5", "/x")
        d.attrs["half"] = np.float16(0.1)
        d.attrs["opaque"] = np.void(b"\x01\x02")
        g.create_dataset("half", data=np.float16(0.5))
        # A filter this machine does not have (LZ4's id), optional so the write succeeds.
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((4,))
        dcpl.set_filter(32004, h5py.h5z.FLAG_OPTIONAL, (0, 1))
        dcpl.set_deflate(6)
        h5py.h5d.create(g.id, b"unknown_filter", h5py.h5t.STD_I32LE,
                        h5py.h5s.create_simple((8,)), dcpl=dcpl)
        g["unknown_filter"][...] = np.arange(8)
        f["int16_type"] = np.dtype("<i2")
        f["int16_type"].attrs["note"] = "a named datatype"
        f.attrs["title"] = "features"
        f.attrs["where"] = g.ref


def make_huge(out, gib):
    with h5py.File(out, "w") as f:
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.CONTIGUOUS)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
        space = h5py.h5s.create_simple((gib * 1024 ** 3 // 8,))
        h5py.h5d.create(f.id, b"huge", h5py.h5t.IEEE_F64LE, space, dcpl=dcpl)
        f["huge"].attrs["units"] = "K"
    # The library already sized the file to its end of allocation; make sure it is sparse.
    import os
    size = os.path.getsize(out)
    with open(out, "r+b") as fh:
        os.ftruncate(fh.fileno(), max(size, gib * 1024 ** 3))


def netcdf4_by_content(path):
    """The detection rule's content part, checked with h5py over the whole root group."""
    with h5py.File(path, "r") as f:
        if "_NCProperties" in f.attrs or "_nc3_strict" in f.attrs:
            return True
        for name in f.keys():
            link = f.get(name, getlink=True)
            if isinstance(link, h5py.HardLink) and isinstance(f[name], h5py.Dataset):
                attrs = f[name].attrs
                if "_Netcdf4Dimid" in attrs or "_Netcdf4Coordinates" in attrs:
                    return True
    return False


def make_wide(out, links):
    """One new-style (dense) group with `links` soft links and one with as many attributes."""
    with h5py.File(out, "w", libver="latest") as f:
        g = f.create_group("wide")
        for i in range(links):
            g.id.links.create_soft(b"l%07d" % i, b"/target")
        space = h5py.h5s.create(h5py.h5s.SCALAR)
        value = np.array(7, dtype="<i4")
        for i in range(links):
            h5py.h5a.create(g.id, b"a%07d" % i, h5py.h5t.STD_I32LE, space).write(value)


def make_foreign(out, source, raw):
    """A file naming two others: an external link and virtual datasets (one of unlimited
    extent, whose size the library works out by opening its source) into `source`, and a
    dataset stored in the external file `raw`."""
    with h5py.File(source, "w") as f:
        f.create_dataset("data", data=np.arange(10, dtype="<i4"), maxshape=(None,), chunks=(5,))
    with open(raw, "wb") as f:
        f.write(np.arange(10, dtype="<i4").tobytes())
    with h5py.File(out, "w", libver="latest") as f:
        f["ext"] = h5py.ExternalLink(source, "/data")
        fixed = h5py.VirtualLayout(shape=(10,), dtype="<i4")
        fixed[:] = h5py.VirtualSource(source, "data", shape=(10,))
        f.create_virtual_dataset("vds", fixed, fillvalue=-1)
        grows = h5py.VirtualLayout(shape=(10,), maxshape=(None,), dtype="<i4")
        grows[: h5py.h5s.UNLIMITED] = h5py.VirtualSource(
            source, "data", shape=(10,), maxshape=(None,))[: h5py.h5s.UNLIMITED]
        f.create_virtual_dataset("vds_unlimited", grows, fillvalue=-1)
        f.create_dataset("efl", shape=(10,), dtype="<i4", external=[(raw, 0, 40)])


def make_details(out):
    """What h5dump -H prints in its own way: comments, committed types, enum member names."""
    with h5py.File(out, "w") as f:
        h5py.h5o.set_comment(f.id, b"root comment")
        g = f.create_group("group")
        h5py.h5o.set_comment(g.id, b"a group\ncomment with \"quotes\"")
        g.attrs["n"] = np.int32(1)
        f["group_alias"] = g  # h5dump repeats a group's comment at a further link
        g["loop"] = g
        f["named"] = np.dtype("<i2")
        f["named"].attrs["about"] = "a named type"
        h5py.h5o.set_comment(f["named"].id, b"not shown by h5dump")
        f["named_alias"] = f["named"]
        d = f.create_dataset("dset", (2,), dtype=f["named"])
        h5py.h5o.set_comment(d.id, b"a dataset")
        f["dset_alias"] = d
        # Committed types whose only link is removed: h5dump calls them "/#<address>".
        for link, where, dtype in (("tmp1", "group/uses_anonymous", "<f4"),
                                   ("tmp2", "z_uses_anonymous", [("a", "<i4"), ("b", "<f8")])):
            t = h5py.h5t.py_create(np.dtype(dtype)).copy()
            t.commit(f.id, link.encode())
            f[link].attrs["kept"] = np.int32(7)  # h5dump prints it under "#<address>"
            ds = f.create_dataset(where, (3,), dtype=f[link])
            if link == "tmp2":
                h5py.h5a.create(d.id, b"anonymous_type", f[link].id, h5py.h5s.create_simple((1,)))
            del f[link]
        h5py.h5a.create(g.id, b"named_type", f["named"].id, h5py.h5s.create_simple((2,)))
        members = {"short": 0, "fifteen_chars_1": 1, "sixteen_chars_16": 2,
                   "TIME_DURATION_MICROSECONDS": 3, "two\nlines": 4, "fourteen_chars": 5}
        color = h5py.enum_dtype(members, basetype="i4")
        f.attrs.create("enum", [0, 4], dtype=color)
        f.create_dataset("enum_in_compound", (1,), dtype=[("unit", color), ("v\nw", "<f8")])
        space = h5py.h5s.create_simple((0,))
        h5py.h5a.create(g.id, b"zero_elements", h5py.h5t.STD_I32LE, space)
        g.attrs["null"] = h5py.Empty("i4")
        g.attrs["empty_string"] = np.bytes_(b"")


def hdf5_library():
    """The HDF5 library h5py runs on, for types h5py does not offer."""
    import ctypes
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if "libhdf5" in path and "_hl" not in path and ".so" in path:
                return ctypes.CDLL(path)
    raise RuntimeError("the HDF5 library is not loaded")


def make_unusual_types(out):
    """VAX floats and a variable-length string of big-endian characters (as written on
    s390x), through the C library since h5py offers neither."""
    import ctypes
    h5py.File(out, "w").close()
    lib = hdf5_library()
    hid = ctypes.c_int64
    for name in ("H5Fopen", "H5Screate", "H5Screate_simple", "H5Acreate2", "H5Tcopy"):
        getattr(lib, name).restype = hid
    lib.H5Fopen.argtypes = [ctypes.c_char_p, ctypes.c_uint, hid]
    lib.H5Screate_simple.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_ulonglong),
                                     ctypes.c_void_p]
    lib.H5Acreate2.argtypes = [hid, ctypes.c_char_p, hid, hid, hid, hid]
    lib.H5Awrite.argtypes = [hid, hid, ctypes.c_void_p]
    lib.H5Tcopy.argtypes = [hid]
    lib.H5Tset_size.argtypes = [hid, ctypes.c_size_t]
    lib.H5Tset_order.argtypes = [hid, ctypes.c_int]
    for name in ("H5Aclose", "H5Sclose", "H5Fclose", "H5Tclose"):
        getattr(lib, name).argtypes = [hid]

    def constant(name):
        return hid.in_dll(lib, name + "_g").value

    def attribute(file, name, type_id, space, memory_type, data):
        a = lib.H5Acreate2(file, name, type_id, space, 0, 0)
        if a < 0 or lib.H5Awrite(a, memory_type, data) < 0:
            raise RuntimeError("cannot write attribute %s" % name)
        lib.H5Aclose(a)

    file = lib.H5Fopen(out.encode(), 1, 0)  # H5F_ACC_RDWR, H5P_DEFAULT
    scalar = lib.H5Screate(0)  # H5S_SCALAR
    two = (ctypes.c_ulonglong * 1)(2)
    pair = lib.H5Screate_simple(1, two, None)
    attribute(file, b"vax_f64", constant("H5T_VAX_F64"), scalar, constant("H5T_NATIVE_DOUBLE"),
              ctypes.byref(ctypes.c_double(1.5)))
    attribute(file, b"vax_f32", constant("H5T_VAX_F32"), pair, constant("H5T_NATIVE_FLOAT"),
              (ctypes.c_float * 2)(0.25, -2.0))
    text = lib.H5Tcopy(constant("H5T_C_S1"))
    lib.H5Tset_size(text, ctypes.c_size_t(-1).value)  # H5T_VARIABLE
    lib.H5Tset_order(text, 1)  # H5T_ORDER_BE
    attribute(file, b"big_endian_text", text, scalar, text,
              ctypes.byref(ctypes.c_char_p(b"from s390x")))
    for id_ in (text,):
        lib.H5Tclose(id_)
    for id_ in (scalar, pair):
        lib.H5Sclose(id_)
    lib.H5Fclose(file)


def main(argv):
    if len(argv) >= 2 and argv[0] == "--make-details":
        make_details(argv[1])
        return 0
    if len(argv) >= 2 and argv[0] == "--make-unusual-types":
        make_unusual_types(argv[1])
        return 0
    if len(argv) >= 3 and argv[0] == "--make-wide":
        make_wide(argv[1], int(argv[2]))
        return 0
    if len(argv) >= 1 and argv[0] == "--netcdf4-rule":
        json.dump({p: netcdf4_by_content(p) for p in argv[1:]}, sys.stdout)
        return 0
    if len(argv) >= 2 and argv[0] == "--make-features":
        make_features(argv[1])
        return 0
    if len(argv) >= 4 and argv[0] == "--make-foreign":
        make_foreign(argv[1], argv[2], argv[3])
        return 0
    if len(argv) >= 3 and argv[0] == "--make-huge":
        make_huge(argv[1], int(argv[2]))
        return 0
    result = {}
    for path in argv:
        try:
            result[path] = describe(path)
        except Exception as e:  # the test reports which file h5py could not read
            result[path] = {"error": "%s: %s" % (type(e).__name__, e)}
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
