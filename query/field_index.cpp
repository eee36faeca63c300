#include "field_index.hpp"

#include <algorithm>

#include "matcher.hpp"

namespace metafs::query {
namespace {

constexpr const char* kDefaultPatterns[] = {
    // DICOM: who, which study/series/instance, what, when.
    "PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
    "StudyTime", "StudyDescription", "StudyID", "AccessionNumber", "SeriesInstanceUID",
    "SeriesNumber", "SeriesDescription", "SeriesDate", "Modality", "SOPInstanceUID", "SOPClassUID",
    "AcquisitionDate", "ContentDate", "InstanceNumber", "BodyPartExamined", "Manufacturer",
    "InstitutionName",
    // FITS, every HDU.
    "*/OBJECT", "*/DATE-OBS", "*/TELESCOP", "*/INSTRUME", "*/FILTER", "*/EXPTIME",
    // netCDF: global attributes, variables (names), their units and names.
    "format_variant", "attributes/*", "variables/*", "variables/*/attributes/units",
    "variables/*/attributes/standard_name", "variables/*/attributes/long_name",
    // HDF5 root attributes.
    "%attributes/*",
    // Every extraction.
    "format", "error"};

}  // namespace

bool IndexFields::covers(const FieldPath& path) const {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const FieldPath& p) { return path_covers(p, path); });
}

std::string IndexFields::fingerprint() const {
  std::string out = "1:";  // the term format's version
  for (const FieldPath& p : patterns) {
    out += p.text();
    out.push_back(',');
  }
  return out;
}

std::optional<IndexFields> index_fields_of(std::string_view fingerprint) {
  constexpr std::string_view kVersion = "1:";
  if (fingerprint.substr(0, kVersion.size()) != kVersion) return std::nullopt;
  try {
    return parse_index_fields(fingerprint.substr(kVersion.size()));
  } catch (const QueryError&) {
    return std::nullopt;
  }
}

IndexFields default_index_fields() {
  IndexFields fields;
  for (const char* p : kDefaultPatterns) fields.patterns.push_back(parse_field_path(p));
  return fields;
}

IndexFields parse_index_fields(std::string_view text) {
  IndexFields fields;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma - start);
    if (item == "default") {
      IndexFields d = default_index_fields();
      fields.patterns.insert(fields.patterns.end(), d.patterns.begin(), d.patterns.end());
    } else if (!item.empty()) {
      fields.patterns.push_back(parse_field_path(item));
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (fields.patterns.empty()) throw QueryError("--index-fields names no field");
  return fields;
}

void index_terms(const IndexFields& fields, const extract::Extraction& extraction,
                 std::vector<std::string>* terms) {
  std::size_t first = terms->size();
  for (const FieldPath& pattern : fields.patterns) {
    visit_fields(extraction, pattern,
                 [&](const std::string& path, std::string_view value, bool directory) {
                   std::string term = path;
                   if (directory) term.push_back('/');
                   term.push_back('\t');
                   term.append(value);
                   if (term.size() > kMaxTermBytes) term.resize(kMaxTermBytes);
                   terms->push_back(std::move(term));
                   return true;
                 });
  }
  auto begin = terms->begin() + static_cast<std::ptrdiff_t>(first);
  std::sort(begin, terms->end());
  terms->erase(std::unique(begin, terms->end()), terms->end());
}

bool parse_term(std::string_view term, Term* out) {
  std::size_t tab = term.find('\t');
  if (tab == std::string_view::npos || tab == 0) return false;
  out->path = term.substr(0, tab);
  out->value = term.substr(tab + 1);
  out->directory = out->path.back() == '/';
  if (out->directory) out->path.remove_suffix(1);
  out->truncated = term.size() >= kMaxTermBytes;
  return !out->path.empty();
}

}  // namespace metafs::query
