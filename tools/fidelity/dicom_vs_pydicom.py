#!/usr/bin/python3
"""Every DICOM element value metafs shows, compared with pydicom's, file by file.

  tools/fidelity/dicom_vs_pydicom.py [--extract BIN] [--verbose] [PATH ...]

Runs `metafs-extract --as json` (metadata.json) and `--as dicom.json` on every file under
PATH that metafs detects as DICOM (default: the shared corpus, pydicom's and DCMTK's data),
reads the same file with pydicom (stop_before_pixels, force) and compares every element's
value: metadata.json by the names metafs gives (keyword, or GGGG,EEEE), dicom.json by tag.
Prints the counts (files, values compared, matching) and the mismatches grouped by class,
each with an example. Run it with Debian's /usr/bin/python3 (python3-pydicom).

What counts as the same value: text after the padding metafs and pydicom both remove; numbers
by value (FL/OF as float32, so metafs' shortest float32 text `0.1` equals pydicom's float64
repr `0.10000000149011612` of the same float32); binary values of up to 16 bytes byte by
byte, larger ones as metafs' `<binary, N bytes>` summary of the same length. Values metafs
summarises by design (numeric lists over 1024 values / 4 KiB, text over 1 MiB) are counted
apart as `summarised`, not as matches.
"""
import argparse
import collections
import json
import math
import os
import re
import struct
import subprocess
import sys
import warnings

import pydicom
from pydicom.multival import MultiValue

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_PATHS = [
    "/work/shared/corpus/dicom",
    "/work/shared/corpus/malformed",
    "/work/shared/corpus/regressions/dicom",
    os.path.dirname(pydicom.__file__) + "/data",
    "/usr/share/dcmtk",
    "/usr/share/doc/dcmtk",
    "/usr/share/libdcmtk17",
]
SINGLE_TEXT = {"ST", "LT", "UT", "UR"}
TEXT = {"AE", "AS", "CS", "DA", "DT", "TM", "LO", "LT", "PN", "SH", "ST", "UC", "UI", "UR", "UT"}
INTS = {"US", "SS", "UL", "SL", "SV", "UV", "US or SS"}
MAX_SHOWN_BINARY = 16
ESCAPE = re.compile(r"\x1b[$()*+,\-./]{1,2}[@-~]")
BINARY_NUMBERS = {"OF": ("f", 4), "OD": ("d", 8), "OL": ("I", 4), "OV": ("Q", 8)}


def metafs(extract, path, view):
    out = subprocess.run([extract, "--as", view, path], capture_output=True, timeout=60)
    try:
        return json.loads(out.stdout.decode("utf-8"))
    except ValueError:
        return None


def is_dicom(extract, path):
    out = subprocess.run([extract, "--as", "format", path], capture_output=True, timeout=60)
    return out.stdout.strip() == b"dicom"


def field_name(tag, keyword):
    group = tag.group
    if tag.is_private or not keyword or tag.element == 0 and group != 2:
        return f"{group:04X},{tag.element:04X}"
    if (group & 0xFF00) in (0x5000, 0x6000) and group & 0x00FF:
        return f"{group:04X},{tag.element:04X}"
    return keyword


def as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, MultiValue)):
        return list(value)
    return [value]


def strip_text(vr, s):
    s = "" if s is None else str(s)
    return s.rstrip(" \0") if vr in SINGLE_TEXT else s.strip(" \0")


def same_float32(a, b):
    try:
        fa = struct.unpack("<f", struct.pack("<f", float(a)))[0]
        fb = struct.unpack("<f", struct.pack("<f", float(b)))[0]
    except (TypeError, ValueError, OverflowError):
        return False
    return fa == fb or (math.isnan(fa) and math.isnan(fb))


def same_float(a, b):
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return fa == fb or (math.isnan(fa) and math.isnan(fb))


def binary_expected(vr, raw, little):
    """What metafs shows for a binary value: hex bytes/words up to 16 bytes, or a summary."""
    n = len(raw)
    if n == 0:
        return []
    if vr in BINARY_NUMBERS:
        code, size = BINARY_NUMBERS[vr]
        count = n // size
        if count > 1024 or n > 4096:
            return ("summary", n)
        return [("num", vr, v) for v in
                struct.unpack(("<" if little else ">") + code * count, raw[:count * size])]
    if n > MAX_SHOWN_BINARY:
        return f"<binary, {n} bytes>"
    if vr == "OW" and n % 2 == 0:
        fmt = "<" if little else ">"
        return ["%04x" % w for w in struct.unpack(fmt + "H" * (n // 2), raw)]
    return ["%02x" % b for b in raw]


def compare_one(vr, expected, actual):
    """Returns None when equal, else a short class name."""
    if isinstance(actual, str) and actual.startswith("<") and actual.endswith(">") and (
            "values," in actual or actual.startswith("<text,")):
        return "summarised"
    exp = expected
    if isinstance(exp, tuple) and exp[0] == "summary":
        return "summarised" if isinstance(actual, str) else "binary numbers vs summary"
    if isinstance(exp, str):  # a binary summary
        return None if actual == exp else "binary summary"
    act = as_list(actual)
    if all(v in ("", None) for v in act) and all(v in ("", None) for v in exp):
        return None  # empty: "" in metadata.json, no Value in dicom.json, [''] in pydicom
    if len(exp) != len(act):
        if vr in TEXT and len(act) == 1 and "\\".join(str(e) for e in exp) == str(act[0]):
            return "one value vs several"
        return "value count"
    for e, a in zip(exp, act):
        if isinstance(e, tuple) and e[0] == "num":
            ok = same_float32(e[2], a) if e[1] == "OF" else (
                same_float(e[2], a) if e[1] == "OD" else (isinstance(a, int) and a == e[2]))
            if not ok:
                return "binary numbers"
            continue
        if vr in ("FL",):
            if not same_float32(e, a):
                return "FL"
        elif vr in ("FD",):
            if not same_float(e, a):
                return "FD"
        elif vr in INTS:
            if e is None and a in ("", None):
                continue
            if not (isinstance(a, int) and not isinstance(a, bool) and a == int(e)):
                return "integer"
        elif vr in ("IS", "DS"):
            if e is None or e == "":
                if a not in ("", None):
                    return vr + " empty"
                continue
            if isinstance(a, str):
                ok = strip_text(vr, a) == strip_text(vr, getattr(e, "original_string", e))
            else:
                ok = same_float(e, a)
            if not ok:
                return vr
        elif vr == "AT":
            t = pydicom.tag.Tag(e)
            if str(a).upper() not in (f"({t.group:04X},{t.element:04X})",
                                      f"{t.group:04X}{t.element:04X}"):
                return "AT"
        elif vr in ("OB", "OW", "UN", "OB or OW", "OW or OB", "OF", "OD", "OL", "OV"):
            if str(e).lower() != str(a).lower():
                return "binary bytes"
        else:
            if strip_text(vr, e) != strip_text(vr, a):
                if "\\x" in str(a):
                    return "text escaped"
                return "text"
    return None


class Stats:
    def __init__(self):
        self.files = 0
        self.unread = []
        self.compared = collections.Counter()
        self.matching = collections.Counter()
        self.classes = collections.Counter()
        self.examples = {}
        self.verbose = False

    def add(self, view, vr, private, cls, example):
        self.compared[view] += 1
        if cls is None:
            self.matching[view] += 1
            return
        key = (view, cls, vr, "private" if private else "standard")
        self.classes[key] += 1
        self.examples.setdefault(key, example)
        if self.verbose:
            print(f"mismatch: {' / '.join(key)}: {example}")


def expected_value(elem, little):
    vr = elem.VR
    value = elem.value
    if vr in ("OB", "OW", "UN", "OF", "OD", "OL", "OV", "OB or OW", "OW or OB"):
        if isinstance(value, (bytes, bytearray)):
            return binary_expected(vr if vr in BINARY_NUMBERS or vr in ("OW", "UN") else "OB",
                                   bytes(value), little)
        return as_list(value)
    if vr in TEXT:
        # pydicom 2.3 leaves ISO 2022 escape sequences in some decoded values (a pydicom
        # defect; the standard's examples have none): removed before comparing.
        return [ESCAPE.sub("", "" if v is None else str(v)) for v in as_list(value)]
    if isinstance(value, (bytes, bytearray)):
        return binary_expected("UN", bytes(value), little)
    return as_list(value)


def walk(ds, ours, by_tag, little, stats, where, prefix, view_meta):
    siblings = collections.Counter()
    for tag in list(ds.keys()):
        if tag == 0x7FE00010 and not prefix:
            continue
        try:
            elem = ds[tag]
            vr = elem.VR
            value = elem.value
        except Exception:  # pydicom cannot convert this value: nothing to compare with
            stats.add("pydicom-error", "?", tag.is_private, "pydicom cannot convert",
                      f"{where} ({tag.group:04X},{tag.element:04X})")
            continue
        name = field_name(tag, elem.keyword)
        siblings[name] += 1
        if siblings[name] > 1:
            name = f"{name}#{siblings[name]}"
        path = prefix + name
        example = f"{where} {path} ({tag.group:04X},{tag.element:04X}) {vr}"
        actual = ours.get(name, KeyError) if isinstance(ours, dict) else KeyError
        json_attr = by_tag.get(f"{tag.group:04X}{tag.element:04X}") if by_tag is not None else None
        if vr == "SQ":
            items = list(value or [])
            if actual is KeyError:
                stats.add("metadata.json", vr, tag.is_private, "missing", example)
            elif not isinstance(actual, dict) or len(actual) != len(items):
                stats.add("metadata.json", vr, tag.is_private, "sequence items", example +
                          f" {len(items)} items, ours {type(actual).__name__}")
            else:
                stats.add("metadata.json", vr, tag.is_private, None, example)
            if json_attr is not None or by_tag is not None:
                jitems = (json_attr or {}).get("Value", [])
                ok = json_attr is not None and json_attr.get("vr") == "SQ" and \
                    len(jitems) == len(items)
                stats.add("dicom.json", vr, tag.is_private,
                          None if ok else "sequence items", example)
            for i, item in enumerate(items):
                sub = actual.get(str(i), {}) if isinstance(actual, dict) else {}
                jsub = None
                if json_attr is not None and i < len(json_attr.get("Value", [])):
                    jsub = json_attr["Value"][i]
                walk(item, sub, jsub if by_tag is not None else None, little, stats, where,
                     f"{path}/{i}/", view_meta)
            continue
        expected = expected_value(elem, little)
        if actual is KeyError:
            stats.add("metadata.json", vr, tag.is_private, "missing", example)
        else:
            cls = compare_one(vr, expected, actual)
            stats.add("metadata.json", vr, tag.is_private, cls,
                      example + f": pydicom {short(expected)} metafs {short(actual)}"
                      if cls else example)
        if by_tag is None or tag.group == 2 or (tag.group & 0xFFFF) == 0x7FE0:
            continue
        # dicom.json: text and numbers only (bulk data is omitted there by design).
        if vr in TEXT | INTS | {"IS", "DS", "FL", "FD", "AT"}:
            if json_attr is None:
                stats.add("dicom.json", vr, tag.is_private, "missing", example)
                continue
            jvals = json_attr.get("Value", [])
            if vr == "PN":
                jvals = ["=".join(v.get(k, "") for k in ("Alphabetic", "Ideographic",
                                                          "Phonetic")).rstrip("=")
                         if isinstance(v, dict) else v for v in jvals]
            if json_attr.get("vr") != vr and vr != "US or SS":
                cls = "vr"
            else:
                cls = compare_one(vr, expected, jvals)
            stats.add("dicom.json", vr, tag.is_private, cls,
                      example + f": pydicom {short(expected)} metafs {short(jvals)}"
                      if cls else example)


def short(v):
    s = repr(v)
    return s if len(s) < 120 else s[:117] + "..."


def files_under(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
        for root, dirs, names in os.walk(p):
            dirs.sort()
            for n in sorted(names):
                yield os.path.join(root, n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extract", default=os.path.join(ROOT, "build/bin/metafs-extract"))
    parser.add_argument("--verbose", action="store_true", help="every mismatch, not one example")
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    stats = Stats()
    stats.verbose = args.verbose
    seen = set()
    for path in files_under([p for p in args.paths if os.path.exists(p)]):
        real = os.path.realpath(path)
        if real in seen or not os.path.isfile(real) or not is_dicom(args.extract, path):
            continue
        seen.add(real)
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception as e:  # noqa: BLE001 - pydicom's verdict, reported
            stats.unread.append(f"{path}: {type(e).__name__}")
            continue
        ours = metafs(args.extract, path, "json")
        theirs_json = metafs(args.extract, path, "dicom.json")
        if ours is None:
            stats.unread.append(f"{path}: metafs-extract gave no JSON")
            continue
        stats.files += 1
        little = ds.is_little_endian if ds.is_little_endian is not None else True
        if getattr(ds, "file_meta", None) is not None:
            walk(ds.file_meta, ours, None, True, stats, path, "", True)
        walk(ds, ours, theirs_json if isinstance(theirs_json, dict) else {}, little, stats, path,
             "", False)
    print(f"files compared: {stats.files}")
    for view in ("metadata.json", "dicom.json"):
        c, m = stats.compared[view], stats.matching[view]
        print(f"{view}: values compared {c}, matching {m} ({100.0 * m / max(c, 1):.2f} %)")
    if stats.compared["pydicom-error"]:
        print(f"values pydicom cannot convert (not compared): {stats.compared['pydicom-error']}")
    print(f"files pydicom or metafs cannot read: {len(stats.unread)}")
    for line in stats.unread:
        print("  " + line)
    print("mismatches by class (view, class, VR, private/standard): count, example")
    for key, n in sorted(stats.classes.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:6d}  {' / '.join(key)}\n          e.g. {stats.examples[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
