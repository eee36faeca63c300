#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace metafs::test {

// The shared corpus (../shared/corpus beside the checkout). Fails the calling test loudly
// when it is missing: tests never skip silently.
std::filesystem::path corpus_dir();

// Every regular file under corpus_dir()/sub (recursively), sorted.
std::vector<std::filesystem::path> corpus_files(const std::string& sub);

// Runs `command` through /bin/sh and returns its standard output; sets *status to the exit
// status when given.
std::string run_command(const std::string& command, int* status = nullptr);

// Quotes `s` for /bin/sh.
std::string shell_quote(const std::string& s);

std::string read_file(const std::filesystem::path& path);

// Replaces the contents of `path` with `bytes` (creating the file).
void write_file(const std::filesystem::path& path, const std::string& bytes);

}  // namespace metafs::test
