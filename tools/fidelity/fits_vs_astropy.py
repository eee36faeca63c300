#!/usr/bin/python3
"""Compare every header value astropy reads from FITS files with what metafs shows.

Run with Debian's /usr/bin/python3 (python3-astropy):

    /usr/bin/python3 tools/fidelity/fits_vs_astropy.py [--extract BIN] [-v] [FILE|DIR ...]

Without FILE arguments it compares every FITS file it finds on this machine: the metafs
corpus (fits/, malformed/, regressions/fits/), astropy's and numpy's test data, and whatever
`find / -xdev` finds under a FITS name (.fits .fit .fts .fz, also gzip-compressed).
Files with the same bytes are compared once.

For each file, `metafs-extract --as jsonl` gives metadata.json; astropy's fits.open gives
every card of every HDU it can read (when fits.open refuses the file, astropy's
Header.fromfile reads its first header up to END or the end of the file; a tile-compressed image: the image header as
CompImageHDU shows it, and the stored table header, opened with
disable_image_compression=True, against fields/<hdu>/compressed/). A value is compared as:

* str: the same text (trailing blanks are removed by both);
* bool: JSON true/false;
* int: the same integer (metafs keeps the text as written, "003" or "+3" is 3);
* float: the same double, parsed from metafs's text with a Fortran D exponent read as E;
  a relative difference up to 1e-15 counts as matching only where the text metafs shows
  differs from the card's own text (CFITSIO's rebuilt header of a compressed image writes
  some numbers again) and is counted apart as "close";
* complex: the same pair of doubles from "(re, im)";
* no value (astropy Undefined): an empty string;
* COMMENT, HISTORY, blank keyword: the list of lines in card order (wholly blank cards
  are padding and are left out by metafs, so here too).

A keyword seen n times in one header is KEY, KEY#2, ... KEY#n in metafs. Output: files,
HDUs, values compared, matching, and the mismatches grouped by class with an example each.
Exit status 0 when every mismatch is one of the exceptions kept on purpose, 1 otherwise.
"""
import argparse
import cmath
import collections
import gzip
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import warnings

from astropy.io import fits

warnings.simplefilter("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_EXTRACT = os.path.join(REPO, "build", "bin", "metafs-extract")
CORPUS = "/work/shared/corpus"
ROOTS = [
    os.path.join(CORPUS, "fits"),
    os.path.join(CORPUS, "malformed"),
    os.path.join(CORPUS, "regressions", "fits"),
    "/usr/lib/python3/dist-packages",
    "/usr/share",
]
NAME_RE = re.compile(r"\.(fits|fit|fts|fz|fits\.gz|fit\.gz|fts\.gz|fits\.fz|hdu|hdr)$", re.I)
COMMENTARY = ("COMMENT", "HISTORY", "")
REL_TOLERANCE = 1e-15

# Differences kept on purpose, each explained in extractors/fits/README.md ("Compared with
# astropy"), found by rule (see exception_reason). They are still counted as mismatches.
# A compressed image's ZDITHER0 stays in the table header (compressed/ZDITHER0), as funpack
# writes the image header; astropy copies it into the image header.
EXCEPTION_KEYWORDS_IN_IMAGE = {"ZDITHER0": "funpack's image header has no ZDITHER0"}


# --- finding files ------------------------------------------------------------------------

def looks_like_fits(path):
    try:
        with open(path, "rb") as f:
            head = f.read(10)
            if head[:2] == b"\x1f\x8b":
                f.seek(0)
                with gzip.open(f) as g:
                    head = g.read(10)
    except (OSError, EOFError, gzip.BadGzipFile):
        return False
    return head.startswith(b"SIMPLE  =")


def discover():
    found = set()
    for root in ROOTS:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                in_corpus = path.startswith(CORPUS)
                if (in_corpus or NAME_RE.search(name)) and os.path.isfile(path) \
                        and looks_like_fits(path):
                    found.add(path)
    # Everything else on this filesystem with a FITS name (skipping build trees and /proc).
    out = subprocess.run(
        ["find", "/", "-xdev", "(", "-path", "/proc", "-o", "-path", "/sys", "-o",
         "-path", "*/build*", "-o", "-path", "/tmp", ")", "-prune", "-o", "-type", "f",
         "(", "-iname", "*.fits", "-o", "-iname", "*.fit", "-o", "-iname", "*.fts", "-o",
         "-iname", "*.fz", "-o", "-iname", "*.fits.gz", "-o", "-iname", "*.fit.gz", ")",
         "-print"], capture_output=True, text=True).stdout
    for path in out.splitlines():
        if looks_like_fits(path):
            found.add(path)
    # The corpus under its usual name first, so that copies elsewhere are the ones skipped.
    return sorted(found, key=lambda p: (not p.startswith(CORPUS), p))


def expand(args):
    files = []
    for arg in args:
        if os.path.isdir(arg):
            for dirpath, _, names in os.walk(arg):
                files += [os.path.join(dirpath, n) for n in sorted(names)
                          if looks_like_fits(os.path.join(dirpath, n))]
        else:
            files.append(arg)
    return files


def unique_by_content(files):
    seen, out = {}, []
    for path in files:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        if digest not in seen:
            seen[digest] = path
            out.append(path)
    return out


# --- astropy's side -----------------------------------------------------------------------

def astropy_hdus(path):
    """[(header, stored_header or None)] for every HDU astropy reads, and astropy's error."""
    hdus, error = [], None
    try:
        hdul = fits.open(path)
        raw = None
        try:
            it = iter(hdul)
            while True:
                try:
                    hdu = next(it)
                except StopIteration:
                    break
                stored = None
                if isinstance(hdu, fits.CompImageHDU):
                    if raw is None:
                        raw = fits.open(path, disable_image_compression=True)
                    stored = raw[len(hdus)].header
                hdus.append((hdu.header, stored))
        except Exception as e:  # HDUs read before the damage stay compared
            error = "%s: %s" % (type(e).__name__, e)
        finally:
            if raw is not None:
                raw.close()
    except Exception as e:
        error = "%s: %s" % (type(e).__name__, e)
    if not hdus and newline_separated(path):
        # Header text with a newline after each card is no FITS file: astropy reads it with
        # Header.fromfile(sep="\n"), metafs as 80-byte cards, so the two read different cards.
        error = "%s (header text with newline-separated cards: not compared)" % error
    elif not hdus:
        # fits.open refuses the file (a header without END, a last block cut short): astropy's
        # own card reader still reads the first header up to END or the end of the file.
        try:
            header = fits.Header.fromfile(path, endcard=False, padding=False)
            if len(header):
                hdus.append((header, None))
                error = "%s (first header read with Header.fromfile)" % error
        except Exception as e:
            error = "%s; Header.fromfile: %s: %s" % (error, type(e).__name__, e)
    return hdus, error


def newline_separated(path):
    with open(path, "rb") as f:
        head = f.read(81)
    return b"\n" in head


def escape_name(name):
    """metafs's escape_name (extractors/meta_tree.cpp)."""
    if name == "":
        return "%00"
    if name in (".", ".."):
        return "%2E" * len(name)
    out = []
    for ch in name:
        if ord(ch) < 0x20 or ord(ch) == 0x7F or ch in "/%#":
            out.append("%%%02X" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def expected_values(header):
    """[(metafs name, kind, astropy value, card text)] in card order."""
    values, commentary, seen = [], collections.OrderedDict(), collections.Counter()
    for card in header.cards:
        keyword = card.keyword
        if keyword in COMMENTARY:
            text = str(card.value)
            if keyword == "" and text.strip() == "":
                continue  # blank card: padding
            commentary.setdefault(keyword or "blank_keyword", []).append(text)
            continue
        seen[keyword] += 1
        n = seen[keyword]
        name = escape_name(keyword) + ("#%d" % n if n > 1 else "")
        try:
            value = card.value
        except Exception as e:  # astropy reads no value: nothing to compare
            values.append((name, "unreadable", "%s: %s" % (type(e).__name__, e), ""))
            continue
        if isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, int):
            kind = "int"
        elif isinstance(value, float):
            kind = "float"
        elif isinstance(value, complex):
            kind = "complex"
        elif isinstance(value, str):
            kind = "str"
        else:
            kind = "undef"
        try:
            image = card.image
        except Exception:
            image = ""
        values.append((name, kind, value, image))
    for keyword, lines in commentary.items():
        values.append((keyword, "commentary", lines, ""))
    return values


# --- metafs's side ------------------------------------------------------------------------

def metafs(extract, path):
    """metadata.json as the mount shows it (--as json keeps big integers exact) and error."""
    proc = subprocess.run([extract, "--as", "json", "--format", "fits", path],
                          capture_output=True, timeout=120)
    out = proc.stdout.decode("utf-8", "replace").strip()
    err = proc.stderr.decode("utf-8", "replace").strip()
    if not out:
        return None, "metafs-extract printed nothing (status %d): %s" % (proc.returncode, err)
    prefix = "metafs-extract: %s: error: " % path
    error = err[len(prefix):] if err.startswith(prefix) else err
    return json.loads(out), error


def card_number_text(image):
    """The value text of a card image, for telling whether metafs rewrote a number."""
    if len(image) > 10 and image[8:10] == "= ":
        return image[10:].split("/")[0].strip()
    return None


def to_float(text):
    return float(text.strip().replace("D", "E").replace("d", "e"))


def compare(kind, want, got, image):
    """None when equal, "close" when equal within the tolerance, else the mismatch class."""
    if kind == "commentary":
        if not isinstance(got, list):
            got = [got]
        return None if got == want else "commentary lines differ"
    if kind == "str":
        if not isinstance(got, str):
            return "string shown as %s" % type(got).__name__
        return None if got == want else "string differs"
    if kind == "bool":
        return None if got is want else "logical differs"
    if kind == "undef":
        return None if got == "" or got is None else "no-value card shows a value"
    if kind == "int":
        try:
            number = got if isinstance(got, int) and not isinstance(got, bool) \
                else int(str(got).strip())
        except ValueError:
            return "integer unreadable"
        return None if number == want else "integer differs"
    if kind == "float":
        try:
            number = float(got) if isinstance(got, (int, float)) and not isinstance(got, bool) \
                else to_float(str(got))
        except ValueError:
            return "float unreadable"
        if number == want or (math.isnan(number) and math.isnan(want)):
            return None
        written = card_number_text(image)
        if written is not None and str(got) != written and want != 0 and \
                abs(number - want) <= REL_TOLERANCE * abs(want):
            return "close"
        return "float differs"
    if kind == "complex":
        m = re.fullmatch(r"\s*\(\s*([^,]+?)\s*,\s*([^)]+?)\s*\)\s*", str(got))
        if not m:
            return "complex unreadable"
        try:
            number = complex(to_float(m.group(1)), to_float(m.group(2)))
        except ValueError:
            return "complex unreadable"
        return None if cmath.isclose(number, want, rel_tol=0, abs_tol=0) or number == want \
            else "complex differs"
    return "unknown kind"


# --- the comparison -----------------------------------------------------------------------

class Tally:
    def __init__(self, verbose):
        self.files = self.hdus = self.compared = self.matched = self.close = self.unreadable = 0
        self.classes = collections.OrderedDict()
        self.notes = []
        self.exceptions = collections.Counter()
        self.extras = collections.OrderedDict()  # metafs names astropy has no card for
        self.verbose = verbose

    def mismatch(self, cls, example, reason=None):
        if reason is not None:
            self.exceptions[reason] += 1
            cls = "kept exception, %s: %s" % (reason, cls)
        entry = self.classes.setdefault(cls, [0, example])
        entry[0] += 1
        if self.verbose:
            print("  %s: %s" % (cls, example))


def primary_cards(path):
    """keyword -> value text of the first header's cards as the file holds them."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    cards = {}
    with opener(path, "rb") as f:
        while True:
            card = f.read(80)
            if len(card) < 80 or card.rstrip() == b"END":
                return cards
            keyword = card[:8].decode("latin-1").strip()
            if card[8:10] == b"= ":
                cards.setdefault(keyword, card[10:].decode("latin-1").split("/")[0].strip())


def exception_reason(path, hdu, name, image_header):
    if image_header:
        return EXCEPTION_KEYWORDS_IN_IMAGE.get(name)
    if hdu != 0 or name not in ("EXTEND", "NAXIS", "NAXIS1"):
        return None
    cards = primary_cards(path)
    # astropy adds EXTEND = T to a primary header without it when extensions follow.
    if name == "EXTEND" and "EXTEND" not in cards:
        return "astropy adds a card the file lacks"
    # astropy rewrites an invalid random-groups header (NAXIS = 0) as NAXIS = 1, NAXIS1 = 0.
    if name in ("NAXIS", "NAXIS1") and cards.get("GROUPS") == "T" and cards.get("NAXIS") == "0":
        return "astropy rewrites an invalid groups header"
    return None


RESERVED = {"type", "columns", "compressed", "note"}


def compare_header(tally, path, hdu, where, header, directory, image_header=False):
    values = expected_values(header)
    if isinstance(directory, dict):
        names = {v[0] for v in values}
        for name in directory:
            if name not in names and name not in RESERVED:
                tally.extras.setdefault(where, []).append(name)
    for name, kind, want, image in values:
        if kind == "unreadable":
            tally.unreadable += 1
            tally.notes.append("%s: %s: astropy reads no value (%s)" % (where, name, want))
            continue
        tally.compared += 1
        got = directory.get(name) if isinstance(directory, dict) else None
        reason = exception_reason(path, hdu, name, image_header)
        if got is None:
            tally.mismatch("missing from metafs (%s)" % kind,
                           "%s: %s = %r" % (where, name, want), reason)
            continue
        if isinstance(got, dict):
            tally.mismatch("name is a directory in metafs", "%s: %s" % (where, name), reason)
            continue
        result = compare(kind, want, got, image)
        if result is None:
            tally.matched += 1
        elif result == "close":
            tally.matched += 1
            tally.close += 1
        else:
            tally.mismatch("%s (%s)" % (result, kind),
                           "%s: %s astropy %r, metafs %r" % (where, name, want, got), reason)


def compare_file(tally, extract, path):
    hdus, astropy_error = astropy_hdus(path)
    metadata, metafs_error = metafs(extract, path)
    tally.files += 1
    if astropy_error or metafs_error:
        tally.notes.append("%s\n    astropy: %s\n    metafs:  %s" % (
            path, astropy_error or "-", metafs_error or "-"))
    if metadata is None:
        tally.mismatch("metafs-extract failed", "%s: %s" % (path, metafs_error))
        return
    for i, (header, stored) in enumerate(hdus):
        tally.hdus += 1
        where = "%s HDU %d" % (path, i)
        directory = metadata.get(str(i))
        if directory is None:
            count = sum(1 for h in (header, stored) if h is not None
                        for v in expected_values(h) if v[1] != "unreadable")
            tally.compared += count
            tally.mismatch("HDU missing from metafs", "%s (%d values)" % (where, count))
            for _ in range(count - 1):
                tally.classes["HDU missing from metafs"][0] += 1
            continue
        if stored is None:
            compare_header(tally, path, i, where, header, directory)
        else:
            compressed = directory.get("compressed", {})
            compare_header(tally, path, i, where + " (image)", header, directory, True)
            compare_header(tally, path, i, where + " (stored table)", stored, compressed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", help="files or directories (default: discover)")
    parser.add_argument("--extract", default=DEFAULT_EXTRACT, help="metafs-extract binary")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mismatch")
    parser.add_argument("--list", action="store_true", help="print the files compared")
    parser.add_argument("--notes", action="store_true",
                        help="print the files where astropy or metafs report an error")
    args = parser.parse_args()

    files = unique_by_content(expand(args.paths) if args.paths else discover())
    tally = Tally(args.verbose)
    for path in files:
        if args.list or args.verbose:
            print(path)
        compare_file(tally, args.extract, path)

    mismatches = sum(n for n, _ in tally.classes.values())
    print("metafs-extract: %s" % args.extract)
    print("files: %d   HDUs: %d   values compared: %d   matching: %d (%.3f %%)" % (
        tally.files, tally.hdus, tally.compared, tally.matched,
        100.0 * tally.matched / max(tally.compared, 1)))
    print("  of which equal only within %g relative (metafs's text differs from the card): %d"
          % (REL_TOLERANCE, tally.close))
    print("cards whose value astropy cannot parse (not compared): %d" % tally.unreadable)
    print("mismatches: %d in %d classes (%d of them exceptions kept on purpose, see "
          "extractors/fits/README.md)" % (mismatches, len(tally.classes),
                                          sum(tally.exceptions.values())))
    for cls, (count, example) in sorted(tally.classes.items(), key=lambda kv: -kv[1][0]):
        print("  %5d  %s\n         e.g. %s" % (count, cls, example))
    extras = sum(len(v) for v in tally.extras.values())
    print("names metafs shows that astropy has no card for (not mismatches): %d" % extras)
    if args.verbose or args.notes:
        for where, names in tally.extras.items():
            print("  %s: %s" % (where, ", ".join(names)))
    if args.notes and tally.notes:
        print("files with an error (astropy / metafs):")
        for note in tally.notes:
            print("  " + note)
    return 0 if mismatches == sum(tally.exceptions.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
