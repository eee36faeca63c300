#!/usr/bin/python3
"""Expected DICOM values for metafs' fields/, from the reference tools.

  dicom_oracle.py dcmdump FILE   every element dcmdump prints, as JSON lines
                                 {"path", "value", "compare"}; compare is "exact",
                                 "float32", "float64" or "tag"
  dicom_oracle.py pydicom FILE   text values decoded by pydicom (Specific Character Set):
                                 {"path", "value", "pn"} for the PN, LO, SH, ST, LT, UT, UC
                                 elements of the standard (not private) groups

Paths follow metafs' naming: keyword, or GGGG,EEEE for private / unknown / group-length /
repeating-group elements; sequence items numbered from 0. dcmdump stops before the top-level
Pixel Data (+sb 7fe0,0010), as metafs does; Pixel Data itself is left out.
"""
import json
import re
import subprocess
import sys

LINE = re.compile(r"^(?P<indent> *)\((?P<g>[0-9a-f]{4}),(?P<e>[0-9a-f]{4})\) (?P<vr>\S\S) "
                  r"(?P<val>.*?) *# *(?P<len>u/l|\d+), *(?P<vm>\d+) (?P<name>.*)$")
BINARY = {"OB", "OW", "OF", "OD", "OL", "OV", "UN", "ox", "px", "lt", "up", "??"}
SINGLE_TEXT = {"ST", "LT", "UT", "UR"}
MAX_SHOWN_BINARY = 16
ESCAPE = re.compile(r"\x1b[$()*+,\-./]{1,2}[@-~]")
UNNAMED = {"Unknown Tag & Data", "GenericGroupLength", "PrivateCreator"}


def hex_name(g, e):
    return f"{g.upper()},{e.upper()}"


def field_name(g, e, keyword):
    group = int(g, 16)
    keyword = keyword.removeprefix("RETIRED_")
    if group % 2 == 1 or keyword in UNNAMED:
        return hex_name(g, e)
    # Repeating groups (curves 50xx, overlays 60xx): only the first group has the keyword.
    if (group & 0xFF00) in (0x5000, 0x6000) and group & 0x00FF:
        return hex_name(g, e)
    return keyword


def unique(siblings, name):
    n = siblings.get(name, 0) + 1
    siblings[name] = n
    return name if n == 1 else f"{name}#{n}"


def text_value(vr, raw):
    if raw == "(no value available)":
        return ""
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    if vr in SINGLE_TEXT:
        return raw.rstrip(" \0")
    return "\\".join(part.strip(" \0") for part in raw.split("\\")) if raw.strip(" \0") else ""


def run_dcmdump(path, utf8):
    args = ["dcmdump", "-M", "+L", "-Un", "+uc", "+sb", "7fe0,0010", path]
    if utf8:
        args.insert(1, "+U8")
    out = subprocess.run(args, capture_output=True, timeout=30).stdout
    # Bytes that are not UTF-8 (undecodable values) as metafs shows them: \xHH.
    return re.sub("[\udc80-\udcff]", lambda m: "\\x%02X" % (ord(m.group()) - 0xDC00),
                  out.decode("utf-8", "surrogateescape"))


def dcmdump(path):
    # +U8 converts the text values to UTF-8, but also rewrites (or adds) Specific Character
    # Set: those come from the plain dump. +U8 prints nothing for an unknown character set.
    raw = dict((row["path"], row) for row in parse_dcmdump(run_dcmdump(path, False)))
    for row in parse_dcmdump(run_dcmdump(path, True)) or raw.values():
        if row["path"].endswith("SpecificCharacterSet"):
            row = raw.get(row["path"])
        if row is not None:
            print(json.dumps(row, ensure_ascii=False))


def parse_dcmdump(out):
    rows = []
    stack = []  # [(indent, path prefix, siblings)]
    top = {}
    items = {}  # sequence path -> next item index
    last_seq = {}  # indent -> sequence path
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        indent = len(m["indent"])
        g, e, vr, val = m["g"], m["e"], m["vr"], m["val"]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        prefix, siblings = (stack[-1][1], stack[-1][2]) if stack else ("", top)
        if g == "fffe":
            if e == "e000" and vr == "na":  # a sequence item
                seq = last_seq.get(indent - 2)
                if seq is None:
                    continue
                index = items.get(seq, 0)
                items[seq] = index + 1
                stack.append((indent, f"{seq}/{index}/", {}))
            continue
        if int(g, 16) == 0x7FE0 and e == "0010" and indent == 0:
            continue
        name = unique(siblings, field_name(g, e, m["name"]))
        path = prefix + name
        if vr == "SQ":
            last_seq[indent] = path
            continue
        length = m["len"]
        compare = "exact"
        if vr in BINARY or val.startswith("(PixelSequence"):
            if val.startswith("(PixelSequence"):
                continue  # encapsulated icon: summarised differently, checked by the C++ test
            n = int(length) if length != "u/l" else 0
            value = "" if n == 0 else (val.replace(" ", "") if n <= MAX_SHOWN_BINARY and
                                       val != "(not loaded)" else f"<binary, {n} bytes>")
            # dcmdump prints OF/OD with %.9g/%.17g, metafs the shortest text of the same number.
            if vr in ("OF", "OD") and not value.startswith("<"):
                compare = "float32" if vr == "OF" else "float64"
        elif vr in ("FL", "FD"):
            value = "" if val == "(no value available)" else val
            compare = "float32" if vr == "FL" else "float64"
        elif vr == "AT":
            value = "" if val == "(no value available)" else val.upper()
            compare = "tag"
        elif vr in ("US", "SS", "UL", "SL", "UV", "SV", "xs"):
            value = "" if val == "(no value available)" else val
        else:
            value = text_value(vr, val)
        rows.append({"path": path, "value": value, "compare": compare})
    return rows


def pydicom_values(path):
    import pydicom
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)

    def walk(dataset, prefix):
        siblings = {}
        for elem in dataset:
            tag = elem.tag
            if tag.is_private:  # pydicom's private dictionary differs from DCMTK's
                continue
            g, e = f"{tag.group:04x}", f"{tag.element:04x}"
            keyword = elem.keyword if elem.keyword else "Unknown Tag & Data"
            name = unique(siblings, field_name(g, e, keyword))
            if elem.VR == "SQ":
                for i, item in enumerate(elem.value):
                    walk(item, f"{prefix}{name}/{i}/")
                continue
            if elem.VR not in ("PN", "LO", "SH", "ST", "LT", "UT", "UC"):
                continue
            values = elem.value if elem.VM > 1 else [elem.value]
            text = "\\".join("" if v is None else str(v) for v in values)
            if elem.VR not in SINGLE_TEXT:
                text = "\\".join(p.strip(" ") for p in text.split("\\"))
            else:
                text = text.rstrip(" ")
            # pydicom 2.3 leaves ISO 2022 escape sequences in some decoded names.
            text = ESCAPE.sub("", text)
            print(json.dumps({"path": prefix + name, "value": text, "pn": elem.VR == "PN"},
                             ensure_ascii=False))

    walk(ds, "")


if __name__ == "__main__":
    {"dcmdump": dcmdump, "pydicom": pydicom_values}[sys.argv[1]](sys.argv[2])
