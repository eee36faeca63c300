#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace metafs::cache {

// Checks what can be checked of an LMDB data file before mapping it: LMDB trusts its meta
// pages and faults (SIGBUS) on a page past the end of a truncated file. Reads the two meta
// pages (MDB_meta of LMDB 0.9: magic 0xBEEFC0DE, data version 1), takes the newer one as
// LMDB does, and returns why the file cannot be mapped safely: a page size that is not a
// power of two in [512, 65536], a last page or B-tree root beyond what the file holds, or a
// file shorter than (last page + 1) * page size. nullopt when the file is absent, empty, not
// LMDB at all (LMDB refuses those itself with MDB_INVALID) or passes. Never throws except
// std::bad_alloc.
std::optional<std::string> lmdb_mapping_problem(const std::filesystem::path& data_file);

}  // namespace metafs::cache
