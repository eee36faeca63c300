#!/usr/bin/python3
"""metafs's HDF5 view against h5dump -H and h5py, over many files.

For each HDF5 file: header.txt (metafs-extract --as header) is compared with `h5dump -H`, and
every attribute value h5py reads (formatted by tests/extractors/oracles/hdf5_oracle.py, the
oracle of the extractor's tests) is looked up in metadata.json.

Usage: hdf5_vs_h5dump.py [--extract BIN] [--verbose] [--no-search] [FILE_OR_DIR...]

Without FILE_OR_DIR it reads the shared corpus (hdf5/, malformed/, regressions/hdf5/), the
files the test oracle builds (features, details, unusual types, foreign references) and
every *.h5, *.hdf5, *.he5 file `find / -xdev` sees (outside /proc and /farm). Files with the
same content are compared once. Needs Debian's /usr/bin/python3 (h5py) and h5dump.

A header counts as "identical" when it equals h5dump's byte for byte after the differences
extractors/hdf5/README.md allows that need no judgement: the first line names the file as
h5dump was given it (the script runs h5dump in the file's directory with its base name), and
objects h5dump prints by following an external link are dropped. "allowed" also drops
metafs's `/* ... */` note lines (limits, unreadable parts) and h5dump's output after it
failed; everything else is "different" and listed with --verbose.
"""
import argparse
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ORACLE = os.path.join(REPO, "tests", "extractors", "oracles", "hdf5_oracle.py")
CORPUS = "/work/shared/corpus"
DEFAULT_EXTRACT = os.path.join(REPO, "build", "bin", "metafs-extract")
SUFFIXES = (".h5", ".hdf5", ".he5", ".hdf5bad")
TIMEOUT = 60


def run(argv, cwd=None):
    """(returncode, stdout bytes, stderr bytes); returncode None on timeout."""
    try:
        p = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=TIMEOUT)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return None, b"", b"timeout"


def is_hdf5(path):
    """The HDF5 signature at 0, 512, 1024, ... (a user block moves the superblock)."""
    try:
        with open(path, "rb") as f:
            offset = 0
            size = os.fstat(f.fileno()).st_size
            while offset + 8 <= size:
                f.seek(offset)
                if f.read(8) == b"\x89HDF\r\n\x1a\n":
                    return True
                offset = 512 if offset == 0 else offset * 2
    except OSError:
        pass
    return False


def content_key(path):
    """Size and a hash of the first 64 MiB (huge sparse test files are not read whole)."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for _ in range(64):
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
        return "%d:%s" % (os.fstat(f.fileno()).st_size, h.hexdigest())


def build(directory):
    """The files the extractor's tests build with the oracle."""
    made = []
    for option, name, extra in (("--make-features", "features.h5", []),
                                ("--make-details", "details.h5", []),
                                ("--make-unusual-types", "unusual.h5", []),
                                ("--make-foreign", "foreign.h5", ["source.h5", "raw.bin"])):
        out = os.path.join(directory, name)
        rc, _, err = run(["/usr/bin/python3", ORACLE, option, out] +
                         [os.path.join(directory, e) for e in extra])
        if rc == 0:
            made.append(out)
        else:
            print("could not build %s: %s" % (name, err.decode()[-300:]), file=sys.stderr)
    return made + [os.path.join(directory, "source.h5")]


def discover(paths, search, built):
    found = []
    roots = paths or [os.path.join(CORPUS, d) for d in ("hdf5", "malformed", "regressions/hdf5")]
    if not paths:
        roots += built
    for root in roots:
        if os.path.isdir(root):
            for d, _, names in os.walk(root):
                found += [os.path.join(d, n) for n in sorted(names) if n.endswith(SUFFIXES)]
        else:
            found.append(root)
    if search and not paths:
        rc, out, _ = run(["find", "/", "-xdev", "(", "-path", "/proc", "-o", "-path", "/farm",
                          ")", "-prune", "-o", "-type", "f", "(", "-name", "*.h5", "-o",
                          "-name", "*.hdf5", "-o", "-name", "*.he5", ")", "-print"])
        found += sorted(out.decode("utf-8", "surrogateescape").splitlines())
    seen = set()
    files = []
    for path in found:
        try:
            digest = content_key(path)
        except OSError:
            continue
        if digest not in seen:
            seen.add(digest)
            files.append(path)
    return files


def h5dump_header(path):
    """h5dump -H's text minus what it prints by following external links; rc."""
    rc, out, _ = run(["h5dump", "-H", os.path.basename(path)], cwd=os.path.dirname(path) or ".")
    lines = []
    skip_deeper_than = None
    for line in out.decode("utf-8", "surrogateescape").split("\n"):
        indent = len(line) - len(line.lstrip(" "))
        if skip_deeper_than is not None:
            if line.strip() and indent > skip_deeper_than:
                continue
            skip_deeper_than = None
        if "TARGETPATH " in line:
            skip_deeper_than = indent
        lines.append(line)
    return rc, "\n".join(lines)


def without_notes(text):
    return "\n".join(l for l in text.split("\n") if not re.match(r"^ */\* .* \*/$", l))


def compare_header(path, extract):
    rc, dump = h5dump_header(path)
    mrc, out, err = run([extract, "--format", "hdf5", "--as", "header", path])
    ours = out.decode("utf-8", "surrogateescape")
    if mrc not in (0, 1):
        # The library itself crashes on a few damaged files: in the mount a worker dies and
        # the file is an `error` entry.
        if rc != 0:
            return "both failed", "h5dump rc=%s, metafs-extract rc=%s" % (rc, mrc)
        return "metafs failed", "metafs-extract rc=%s %s" % (mrc, err.decode()[-200:])
    if rc != 0:
        # h5dump stops at the damage (or never starts): ours may only add notes and go on.
        if not dump.strip() or rc is None:
            return "h5dump failed", "h5dump rc=%s" % rc
        head = dump.rstrip("\n").split("\n")
        mine = without_notes(ours).split("\n")
        if mine[:len(head) - 1] == head[:-1]:
            return "allowed", "h5dump failed (rc=%s) after the part shown alike" % rc
        return "different", "h5dump failed (rc=%s); differs before" % rc
    if ours == dump:
        return "identical", ""
    if without_notes(ours) == dump:
        return "allowed", "metafs notes"
    return "different", first_difference(dump, ours)


def first_difference(want, got):
    a, b = want.split("\n"), got.split("\n")
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "<end>"
        y = b[i] if i < len(b) else "<end>"
        if x != y:
            return "line %d: h5dump %r, metafs %r" % (i + 1, x, y)
    return "?"


def escape_name(name):
    """extractors/meta_tree.cpp's escape_name."""
    if name == "":
        return "%00"
    if name in (".", ".."):
        return name.replace(".", "%2E")
    raw = name.encode("utf-8", "surrogateescape")
    out = bytearray()
    for b in raw:
        if b in b"/%#" or b < 0x20 or b == 0x7F:
            out += b"%%%02X" % b
        else:
            out.append(b)
    return out.decode("utf-8", "surrogateescape")


NUMBER = re.compile(r"(^|[^\w.])(-?\d+(\.\d+)?([eE][-+]?\d+)?)(?![\w.])")


def normalize_numbers(text):
    def repl(m):
        v = float(m.group(2))
        return m.group(1) + ("%.17g" % v)
    return NUMBER.sub(repl, text)


def json_text(value):
    """A metadata.json value as fields/ shows it (lists joined by ', ')."""
    if isinstance(value, list):
        return ", ".join(json_text(v) for v in value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def is_json_number(value):
    """A number, or one JSON cannot write as a number (metadata.json quotes nan and inf)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or value in ("nan", "-nan", "inf", "-inf")


def lookup(tree, path):
    node = tree
    for part in [p for p in path.split("/") if p]:
        if not isinstance(node, dict):
            return None
        node = node.get(escape_name(part))
        if node is None:
            return None
    return node


def compare_values(path, extract, problems):
    """(objects, objects found, attributes, attributes matching) or None when h5py fails."""
    rc, out, err = run(["/usr/bin/python3", ORACLE, path])
    if rc != 0:
        return None
    expected = json.loads(out)[path]
    if "error" in expected:
        return None
    mrc, out, _ = run([extract, "--format", "hdf5", "--as", "json", path])
    try:
        tree = json.loads(out)
    except ValueError:
        tree = {}
    counts = [0, 0, 0, 0]
    for obj_path, obj in expected["objects"].items():
        counts[0] += 1
        node = lookup(tree, obj_path)
        if not isinstance(node, dict):
            problems.append("object %s missing" % obj_path)
            counts[2] += len(obj["attrs"])
            continue
        counts[1] += 1
        attrs = node.get("%attributes", {})
        for name, want in obj["attrs"].items():
            counts[2] += 1
            got = attrs.get(escape_name(name))
            if got is None:
                problems.append("%s attribute %r missing" % (obj_path, name))
                continue
            ok = normalize_numbers(json_text(got)) == normalize_numbers(want["text"])
            if want["list"] and not isinstance(got, list):
                ok = False
            if want["number"] and not all(is_json_number(v) for v in
                                          (got if isinstance(got, list) else [got])):
                ok = False
            if ok:
                counts[3] += 1
            else:
                problems.append("%s attribute %r: h5py %r, metadata.json %r" % (
                    obj_path, name, want["text"][:200], json.dumps(got)[:200]))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extract", default=DEFAULT_EXTRACT)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--no-search", action="store_true", help="corpus only, no find /")
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="hdf5-fidelity-")
    built = [] if args.paths else build(scratch.name)
    files = [f for f in discover(args.paths, not args.no_search, built) if is_hdf5(f)]
    headers = {}
    values = [0, 0, 0, 0]
    no_h5py = 0
    for path in files:
        verdict, why = compare_header(path, args.extract)
        headers.setdefault(verdict, []).append((path, why))
        problems = []
        counts = compare_values(path, args.extract, problems)
        if counts is None:
            no_h5py += 1
        else:
            values = [a + b for a, b in zip(values, counts)]
        if args.verbose and (verdict not in ("identical",) or problems):
            print("%s: header %s %s" % (path, verdict, why))
            for p in problems[:20]:
                print("   " + p)
    print("files: %d (HDF5 signature, distinct content)" % len(files))
    verdicts = ("identical", "allowed", "different", "h5dump failed", "both failed",
                "metafs failed")
    for verdict in verdicts:
        print("headers %s: %d" % (verdict, len(headers.get(verdict, []))))
    print("h5py read %d files: objects found %d/%d, attribute values matching %d/%d"
          % (len(files) - no_h5py, values[1], values[0], values[3], values[2]))
    for verdict in verdicts[1:]:
        for path, why in headers.get(verdict, []):
            print("  %s: %s: %s" % (verdict, path, why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
