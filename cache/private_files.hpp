#pragma once

#include <filesystem>

namespace metafs::cache {

// The cache holds the metadata of files its readers may not see in SOURCE, so only the
// user running metafs may read it: directories 0700, files 0600, whatever the umask.

// Creates `dir` (and missing parents) as 0700; an existing `dir` open to group or others is
// changed to 0700 with a warning naming it and its old mode. Returns false, with an error
// log line saying why, when `dir` cannot be used: not creatable, not a directory, owned by
// another user (or a symlink owned by one), or writable by others or sticky (a shared
// directory like /tmp, left alone): the caller then runs without a disk cache. Never
// throws except std::bad_alloc.
bool prepare_private_dir(const std::filesystem::path& dir);

// Creates `file` empty as 0600 when missing (never following a symlink); an existing one
// open to group or others is changed to 0600 with a warning. Returns false, with an error
// log line, when it is not a regular file of this user or cannot be created. Never throws
// except std::bad_alloc.
bool prepare_private_file(const std::filesystem::path& file);

// Changes every regular file directly in `dir` that belongs to this user and is open to
// group or others to 0600, with a warning for each (files set aside by an older metafs).
void tighten_private_files(const std::filesystem::path& dir);

}  // namespace metafs::cache
