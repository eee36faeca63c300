#pragma once

// Generated Extractions for the cache tests: "corpus-like" shapes (what the DICOM, FITS,
// HDF5 and netCDF extractors produce) and chaotic ones (unicode, empty and duplicate names,
// control bytes, lists, links, extra files, errors).

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "extraction.hpp"

namespace metafs::cache::testing {

using extract::Extraction;
using extract::Format;
using extract::MetaTree;
using extract::NodeId;
using extract::ValueKind;
using extract::Verbatim;

inline std::string random_text(std::mt19937& rng, std::size_t max_len) {
  static const std::vector<std::string> kPieces = {"a",
                                                   "Z",
                                                   "0",
                                                   "9",
                                                   " ",
                                                   "\\",
                                                   "/",
                                                   "%",
                                                   "#",
                                                   ".",
                                                   "\n",
                                                   "\t",
                                                   std::string(1, '\0'),
                                                   "\x7f",
                                                   "é",
                                                   "Ω",
                                                   "日本",
                                                   "🙂",
                                                   "\xff",
                                                   "\xc3",
                                                   "PatientName",
                                                   "1.2.840.10008",
                                                   "-3.5e+07"};
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::uniform_int_distribution<std::size_t> pick(0, kPieces.size() - 1);
  std::string out;
  for (std::size_t i = 0, n = len(rng); i < n; ++i) out += kPieces[pick(rng)];
  return out;
}

// Random trees exercising every node type and every awkward name and value.
inline Extraction chaotic_extraction(std::mt19937& rng, std::size_t nodes) {
  Extraction x;
  x.format = static_cast<Format>(rng() % 5);
  x.header = random_text(rng, 40);
  if (rng() % 3 == 0) x.error = "truncated header in HDU " + std::to_string(rng() % 9);
  for (std::size_t i = 0, n = rng() % 3; i < n; ++i) {
    x.extra_files.emplace_back("extra" + std::to_string(i) + ".json", random_text(rng, 30));
  }
  std::vector<NodeId> dirs{MetaTree::kRoot};
  for (std::size_t i = 0; i < nodes; ++i) {
    NodeId parent = dirs[rng() % dirs.size()];
    std::string name = rng() % 4 == 0 ? std::string("dup") : random_text(rng, 4);
    auto kind = static_cast<ValueKind>(rng() % 3);
    switch (rng() % 6) {
      case 0:
        dirs.push_back(x.tree.add_dir(parent, name));
        break;
      case 1:
        x.tree.add_link(parent, name, "../" + random_text(rng, 3));
        break;
      case 2: {
        std::vector<std::string> items;
        for (std::size_t k = 0, n = rng() % 5; k < n; ++k) items.push_back(random_text(rng, 3));
        x.tree.add_list(parent, name, std::move(items), kind, rng() % 2 ? "\\" : ", ");
        break;
      }
      case 3:
        x.tree.add_value(parent, Verbatim{"#reserved"}, random_text(rng, 5), kind);
        break;
      default:
        x.tree.add_value(parent, name, random_text(rng, 12), kind);
        break;
    }
  }
  return x;
}

// What a DICOM file's extraction looks like: ~120 flat values, a few sequences with items,
// multi-valued lists, a dcmdump-like header and dicom.json.
inline Extraction dicom_like(std::mt19937& rng) {
  Extraction x;
  x.format = Format::kDicom;
  std::string json = "{";
  for (int i = 0; i < 120; ++i) {
    char tag[32];
    std::snprintf(tag, sizeof tag, "%04X,%04X", 0x0008 + (i / 16) * 2, 0x0010 + i);
    std::string name = i % 7 == 0 ? std::string(tag) : "Keyword" + std::to_string(i);
    std::string value = i % 5 == 0 ? std::to_string(rng() % 100000)
                                   : "Value of element " + std::to_string(rng() % 1000);
    if (i % 11 == 0) {
      x.tree.add_list(MetaTree::kRoot, name, {"ORIGINAL", "PRIMARY", "AXIAL"}, ValueKind::kString,
                      "\\");
    } else {
      x.tree.add_value(MetaTree::kRoot, name, value,
                       i % 5 == 0 ? ValueKind::kNumber : ValueKind::kString);
    }
    x.header += "(" + std::string(tag) + ") LO [" + value + "]  #  " +
                std::to_string(value.size()) + ", 1 " + name + "\n";
    json += "\"" + std::string(tag) + "\":{\"vr\":\"LO\",\"Value\":[\"" + value + "\"]},";
  }
  for (int s = 0; s < 3; ++s) {
    NodeId seq = x.tree.add_dir(MetaTree::kRoot, "Sequence" + std::to_string(s));
    for (int item = 1; item <= 2; ++item) {
      NodeId dir = x.tree.add_dir(seq, std::to_string(item));
      for (int k = 0; k < 8; ++k) {
        x.tree.add_value(dir, "CodeValue" + std::to_string(k), std::to_string(rng() % 99999));
      }
    }
  }
  json.back() = '}';
  x.extra_files.emplace_back("dicom.json", json);
  return x;
}

// A FITS file: a few HDUs of 80-column cards, COMMENT/HISTORY as multi-line values.
inline Extraction fits_like(std::mt19937& rng) {
  Extraction x;
  x.format = Format::kFits;
  for (int hdu = 0; hdu < 3; ++hdu) {
    NodeId dir = x.tree.add_dir(MetaTree::kRoot, std::to_string(hdu));
    for (int k = 0; k < 40; ++k) {
      std::string key = "KEY" + std::to_string(k);
      std::string value = std::to_string(static_cast<double>(rng() % 100000) / 7.0);
      x.tree.add_value(dir, key, value, ValueKind::kNumber);
      std::string card = key + std::string(8 - std::min<std::size_t>(8, key.size()), ' ') + "= " +
                         value + " / a comment about " + key;
      card.resize(80, ' ');
      x.header += card;
    }
    x.tree.add_value(dir, "COMMENT", "First comment line\nSecond comment line");
    x.header += std::string(80, ' ') + "\n";
  }
  return x;
}

// An HDF5 file: nested groups, datasets with reserved property names and attributes.
inline Extraction hdf5_like(std::mt19937& rng) {
  Extraction x;
  x.format = Format::kHdf5;
  for (int g = 0; g < 4; ++g) {
    NodeId group = x.tree.add_dir(MetaTree::kRoot, "group" + std::to_string(g));
    for (int d = 0; d < 5; ++d) {
      NodeId ds = x.tree.add_dir(group, "dataset" + std::to_string(d));
      x.tree.add_value(ds, Verbatim{"#type"}, "dataset");
      x.tree.add_list(ds, Verbatim{"#shape"}, {"1024", std::to_string(rng() % 4096)},
                      ValueKind::kNumber, ", ");
      x.tree.add_value(ds, Verbatim{"#dtype"}, "float32 little-endian");
      x.tree.add_value(ds, Verbatim{"#filters"}, "deflate(4), shuffle");
      NodeId attrs = x.tree.add_dir(ds, Verbatim{"#attributes"});
      x.tree.add_value(attrs, "units", "kelvin");
      x.tree.add_value(attrs, "scale_factor", "0.01", ValueKind::kNumber);
    }
    x.tree.add_link(group, "alias", "dataset0");
  }
  x.header = "HDF5 \"file.h5\" {\nGROUP \"/\" {\n}\n}\n";
  return x;
}

inline Extraction corpus_like(std::mt19937& rng, int which) {
  switch (which % 3) {
    case 0:
      return dicom_like(rng);
    case 1:
      return fits_like(rng);
    default:
      return hdf5_like(rng);
  }
}

}  // namespace metafs::cache::testing
