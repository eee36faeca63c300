// The man pages and the bash completion, both made from the programs' own --help.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "corpus.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::run_command;
using metafs::test::shell_quote;

namespace {

const char* const kPrograms[] = {"metafs", "metafs-index", "metafs-extract", "metafs-query"};

// The options a program declares: the first word of --help's indented lines ("-V,--version").
std::vector<std::string> declared_options(const std::string& program) {
  std::string help = run_command(shell_quote(binary(program)) + " --help");
  std::vector<std::string> options;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("  -", 0) != 0) continue;
    std::string word = line.substr(2, line.find(' ', 2) - 2);
    std::istringstream names(word);
    for (std::string name; std::getline(names, name, ',');) options.push_back(name);
  }
  return options;
}

TEST(Docs, EveryProgramHasAManPageListingEveryOption) {
  for (const char* program : kPrograms) {
    fs::path page =
        binary(program).parent_path().parent_path() / "doc" / (std::string(program) + ".1");
    ASSERT_TRUE(fs::exists(page)) << page;
    int status = -1;
    std::string text =
        run_command("MANWIDTH=200 man -l " + shell_quote(page.string()) + " 2>&1", &status);
    ASSERT_EQ(status, 0) << text;
    const auto options = declared_options(program);
    EXPECT_GE(options.size(), 4u) << program;
    for (const auto& option : options) EXPECT_NE(text.find(option), std::string::npos) << option;
    EXPECT_NE(text.find("SEE ALSO"), std::string::npos);
  }
}

// Completes COMMAND LINE... as bash would for the last word; returns the candidates, one per
// line.
std::string complete(const std::string& words) {
  std::string script = "PATH=" + shell_quote(binary("metafs").parent_path().string()) +
                       ":$PATH; . " +
                       shell_quote(std::string(METAFS_SOURCE_DIR) + "/doc/metafs.bash-completion") +
                       "; COMP_WORDS=(" + words + "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); " +
                       "_metafs_complete ${COMP_WORDS[0]}; printf '%s\\n' \"${COMPREPLY[@]}\"";
  return run_command("bash -c " + shell_quote(script) + " 2>&1");
}

TEST(Docs, BashCompletionOffersDeclaredOptionsAndTheirChoices) {
  EXPECT_EQ(complete("metafs --log-l"), "--log-level\n");
  EXPECT_EQ(complete("metafs --log-level w"), "warn\n");
  EXPECT_EQ(complete("metafs-index --isolation ''"), "process\nnone\n");
  EXPECT_EQ(complete("metafs-extract --recu"), "--recursive\n");
  // Options named only inside a description are not offered; hidden worker options neither.
  EXPECT_EQ(complete("metafs --no-create"), "\n");
  EXPECT_EQ(complete("metafs-extract --ser"), "\n");
}

}  // namespace
