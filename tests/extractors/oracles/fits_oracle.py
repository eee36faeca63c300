#!/usr/bin/python3
"""Oracle for the FITS extractor tests: what astropy (and funpack) read from each FILE.

Prints one JSON object: {path: {"hdus": [...], "error": str|null}}. Each HDU has
  "cards": [[keyword, kind, value], ...]   kind: str int float bool complex undef commentary
  "images": the 80-column card images, trailing blanks trimmed (CONTINUE cards split out)
  "stored": for tile-compressed images, the table header as stored (same form as "cards")
  "funpack": for tile-compressed images, the header funpack writes (card images)
"""
import json
import subprocess
import sys
import warnings

from astropy.io import fits

warnings.simplefilter("ignore")


def describe(header):
    cards = []
    for card in header.cards:
        keyword, value = card.keyword, card.value
        if keyword in ("COMMENT", "HISTORY", "") or card.is_blank:
            cards.append([keyword, "commentary", str(value)])
        elif isinstance(value, bool):
            cards.append([keyword, "bool", "T" if value else "F"])
        elif isinstance(value, int):
            cards.append([keyword, "int", str(value)])
        elif isinstance(value, float):
            cards.append([keyword, "float", repr(value)])
        elif isinstance(value, complex):
            cards.append([keyword, "complex", repr(value)])
        elif isinstance(value, str):
            cards.append([keyword, "str", value])
        else:
            cards.append([keyword, "undef", ""])
    return cards


def images(header):
    out = []
    for card in header.cards:
        image = card.image
        for i in range(0, len(image), 80):
            out.append(image[i:i + 80].rstrip())
    return out


def funpack_headers(path):
    data = subprocess.run(["funpack", "-S", path], capture_output=True, timeout=30).stdout
    headers, current, offset = [], [], 0
    while offset + 2880 <= len(data):
        block = data[offset:offset + 2880]
        offset += 2880
        if current is None:
            continue
        for i in range(36):
            text = block[i * 80:(i + 1) * 80].decode("latin-1")
            if text.startswith("END     ") or text.rstrip() == "END":
                headers.append(current)
                current = None
                break
            current.append(text.rstrip())
        if current is None:
            # Skip this HDU's data: the next header starts with XTENSION.
            while offset + 2880 <= len(data) and data[offset:offset + 8] != b"XTENSION":
                offset += 2880
            current = []
    return headers


def oracle(path):
    result = {"hdus": [], "error": None}
    try:
        with fits.open(path) as hdul, fits.open(path, disable_image_compression=True) as raw:
            for i, hdu in enumerate(hdul):
                entry = {"cards": describe(hdu.header), "images": images(hdu.header)}
                if isinstance(hdu, fits.CompImageHDU):
                    entry["stored"] = describe(raw[i].header)
                    entry["stored_images"] = images(raw[i].header)
                result["hdus"].append(entry)
        if any("stored" in h for h in result["hdus"]):
            result["funpack"] = funpack_headers(path)
    except Exception as e:  # the test decides what an error means for this file
        result["error"] = str(e)
    return result


if __name__ == "__main__":
    print(json.dumps({path: oracle(path) for path in sys.argv[1:]}))
