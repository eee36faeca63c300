#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "expression.hpp"
#include "extraction.hpp"

namespace metafs::query {

// Which fields the cache's query index holds: field paths with globs, applied to every
// format (each default names fields of one format only).
struct IndexFields {
  std::vector<FieldPath> patterns;

  // Whether every field `path` can name is in the index (then the index alone answers it).
  bool covers(const FieldPath& path) const;
  // The patterns as one line: names the index's contents (a change rebuilds it).
  std::string fingerprint() const;
};

// The fields an index with `fingerprint` holds; std::nullopt for an unknown fingerprint.
std::optional<IndexFields> index_fields_of(std::string_view fingerprint);

// DICOM patient/study/series/instance identity, modality and dates; FITS OBJECT, DATE-OBS,
// TELESCOP, INSTRUME, FILTER, EXPTIME of every HDU; netCDF global attributes, variable names,
// units, standard_name, long_name; HDF5 root attributes; plus `format` and `error`.
IndexFields default_index_fields();

// "--index-fields" text: patterns separated by ',', "default" standing for the defaults
// ("default,0/NAXIS1"). Throws QueryError for an empty list or a bad pattern.
IndexFields parse_index_fields(std::string_view text);

// The longest index term (LMDB keys are at most 511 bytes): a longer one is cut to this
// length, and a query checks the files it finds that way against their records.
inline constexpr std::size_t kMaxTermBytes = 480;

// One index term per indexed field of `extraction`: "<path>\t<value>" with the path and value
// exactly as metadata.txt prints them (a tab never occurs in either), or "<path>/\t" for a
// directory (which only '?' asks about). Appended to `terms`, each unique.
void index_terms(const IndexFields& fields, const extract::Extraction& extraction,
                 std::vector<std::string>* terms);

struct Term {
  std::string_view path;
  std::string_view value;
  bool directory = false;
  bool truncated = false;  // cut at kMaxTermBytes: the value is only a prefix
};
// Splits a term as index_terms wrote it; false for a malformed one.
bool parse_term(std::string_view term, Term* out);

}  // namespace metafs::query
