#pragma once

#include <string>

#include "expression.hpp"

namespace metafs::query {

// The part of a query PostgreSQL can answer from the shared tier's metafs.files.fields (each
// file's metadata.json as jsonb) through its GIN index: an SQL condition on the column
// `fields` that every row the query matches satisfies. It may keep rows the query does not
// match (the caller checks each row's tree exactly, as the local engine does), never drop
// one. Translated: FIELD=VALUE with a literal path of plain names and a printable value that
// is not a number, as `fields @> '{"A":{"B":"VALUE"}}'` (or the one-item list ["VALUE"]);
// other expressions add no condition. "true" when some alternative has none.
std::string jsonb_prefilter(const Query& query);

}  // namespace metafs::query
