// metafs-extract: prints what the mount shows for each FILE, without mounting anything.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <vector>

#include "detect.hpp"
#include "entry_name.hpp"
#include "registry.hpp"
#include "render.hpp"
#include "version.hpp"
#include "worker_loop.hpp"

namespace {

using metafs::extract::Extraction;
using metafs::extract::Format;
using metafs::extract::MetaNode;
using metafs::extract::MetaTree;
using metafs::extract::NodeId;

// With the names fields/ lists (long ones shortened, see entry_name.hpp).
void print_tree(const MetaTree& tree, NodeId id, const std::string& indent) {
  std::vector<std::string> names = metafs::extract::entry_names(tree, id);
  const auto& children = tree.node(id).children;
  for (std::size_t i = 0; i < children.size(); ++i) {
    NodeId child = children[i];
    const MetaNode& node = tree.node(child);
    switch (node.type) {
      case MetaNode::Type::kDirectory:
        std::cout << indent << names[i] << "/\n";
        print_tree(tree, child, indent + "  ");
        break;
      case MetaNode::Type::kLink:
        std::cout << indent << names[i] << " -> " << metafs::extract::entry_link_target(tree, child)
                  << "\n";
        break;
      case MetaNode::Type::kValue: {
        std::string value;
        metafs::extract::append_escaped_value(value, node.text);
        std::cout << indent << names[i] << " = " << value << "\n";
        break;
      }
    }
  }
}

Format detect(const std::string& path, std::string* why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = "cannot open";
    return Format::kNone;
  }
  struct stat st {};
  ::fstat(fd, &st);
  Format format = S_ISREG(st.st_mode)
                      ? metafs::extract::detect_format(fd, path.substr(path.rfind('/') + 1),
                                                       static_cast<std::uint64_t>(st.st_size))
                      : Format::kNone;
  ::close(fd);
  if (format == Format::kNone)
    *why = S_ISREG(st.st_mode) ? "not a scientific file" : "not a regular file";
  return format;
}

// The files under each DIRECTORY argument (not following symbolic links), sorted, so
// `-r` prints in the same order every run; other arguments stay as given.
std::vector<std::string> expand(const std::vector<std::string>& arguments, bool recursive,
                                int* status) {
  namespace stdfs = std::filesystem;
  std::vector<std::string> files;
  for (const auto& argument : arguments) {
    std::error_code error;
    if (!recursive || !stdfs::is_directory(stdfs::symlink_status(argument, error))) {
      files.push_back(argument);
      continue;
    }
    std::vector<std::string> found;
    stdfs::recursive_directory_iterator it(argument,
                                           stdfs::directory_options::skip_permission_denied, error);
    for (; !error && it != stdfs::recursive_directory_iterator(); it.increment(error)) {
      if (it->is_regular_file(error) && !it->is_symlink(error)) found.push_back(it->path());
    }
    if (error) {
      std::cerr << "metafs-extract: " << argument << ": " << error.message() << "\n";
      *status = 1;
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

// One line of `--as jsonl`: {"path", "format", "metadata" (metadata.json's object), "error"
// (only when extraction failed)}. Files that are not scientific files get "format": null and
// "error" so a `jq` pipeline sees every named file.
std::string jsonl_line(const std::string& path, const Extraction* result,
                       const std::string& error) {
  auto text = [](const std::string& value) {
    return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  std::string line = "{\"path\":" + text(path) + ",\"format\":";
  if (result == nullptr) {
    line += "null";
  } else {
    line += text(std::string(metafs::extract::format_name(result->format)));
    // metadata.json's own text, spliced in: parsing and printing it again would turn exact
    // 64-bit integers into doubles and rewrite numbers (0.0000000E+00 -> 0.0).
    std::string metadata = metafs::extract::render_json(result->tree);
    while (!metadata.empty() && (metadata.back() == '\n' || metadata.back() == ' ')) {
      metadata.pop_back();
    }
    line += ",\"metadata\":" + metadata;
  }
  if (!error.empty()) line += ",\"error\":" + text(error);
  return line + "}\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Print what a metafs mount shows for each FILE, without mounting anything.\n"
      "Runs the extractors in this process: use it on files you trust."};
  std::vector<std::string> arguments;
  std::string as = "txt";
  bool recursive = false;
  std::string format_name;
  bool serve = false;
  metafs::extract::worker::ServeOptions serve_options;
  app.add_option("FILE", arguments, "Files to describe (directories too, with -r)");
  app.add_flag("-r,--recursive", recursive,
               "Describe every regular file under each DIRECTORY (symbolic links are not "
               "followed; files that are not scientific files are skipped quietly)");
  app.add_option("--as", as,
                 "What to print: txt (metadata.txt), json (metadata.json), jsonl (one JSON "
                 "object per file and line: path, format, metadata, error; for jq), header "
                 "(header.txt), tree (fields/ as an indented tree), format, or any extra file "
                 "name (e.g. dicom.json)")
      ->capture_default_str();
  app.add_option("--format", format_name,
                 "Skip detection and treat every FILE as this format (dicom, fits, hdf5, netcdf)");
  // The worker side of the daemon: not for people, so not in --help (group "" hides).
  app.add_flag("--serve", serve,
               "Run as a sandboxed worker of the metafs daemon: requests on descriptor 0")
      ->group("");
  app.add_option("--worker-memory", serve_options.memory_bytes,
                 "--serve: memory limit (RLIMIT_DATA) in bytes (0: none)")
      ->group("");
  app.add_option("--timeout", serve_options.timeout_seconds,
                 "--serve: seconds one file may take (sets the CPU limit)")
      ->group("");
  app.add_option("--max-files", serve_options.max_files,
                 "--serve: files the worker answers before the daemon replaces it")
      ->group("");
  app.add_option("--uid", serve_options.uid, "--serve: account to run as (given by the daemon)")
      ->group("");
  app.add_option("--gid", serve_options.gid, "--serve: group to run as (given by the daemon)")
      ->group("");
  app.add_option("--parent-pid", serve_options.parent_pid,
                 "--serve: the daemon's pid: the worker ends when it is gone")
      ->group("");
  app.set_version_flag("-V,--version", [] { return metafs::version_text("metafs-extract"); });
  app.footer(
      "Examples:\n"
      "  metafs-extract scan.dcm                      metadata.txt of one file\n"
      "  metafs-extract --as header image.fits        header.txt (the FITS cards)\n"
      "  metafs-extract -r --as jsonl /data | jq -r 'select(.metadata.Modality == \"MR\") | "
      ".path'");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // The exit status all three tools give a usage error (README "Exit status").
    std::cerr << "metafs-extract: " << e.what() << "\nRun with --help for more information.\n";
    return 2;
  }
  if (serve) return metafs::extract::worker::serve(serve_options);
  if (arguments.empty()) {
    std::cerr << "metafs-extract: FILE is required\nRun with --help for more information.\n";
    return 2;
  }
  const bool jsonl = as == "jsonl";

  metafs::extract::ExtractorRegistry registry;
  int status = 0;
  const std::vector<std::string> files = expand(arguments, recursive, &status);
  for (const auto& file : files) {
    // Found by -r (not named on the command line): a file that is not scientific is skipped.
    const bool named = std::find(arguments.begin(), arguments.end(), file) != arguments.end();
    if (files.size() > 1 && !jsonl) std::cout << "==> " << file << " <==\n";
    std::string why;
    Format format = Format::kNone;
    if (!format_name.empty()) {
      auto parsed = metafs::extract::parse_format(format_name);
      if (!parsed) {
        std::cerr << "metafs-extract: unknown format '" << format_name << "'\n";
        return 2;
      }
      format = *parsed;
    } else {
      format = detect(file, &why);
    }
    if (format == Format::kNone) {
      if (!named) continue;
      if (jsonl) std::cout << jsonl_line(file, nullptr, why);
      std::cerr << "metafs-extract: " << file << ": " << why << "\n";
      status = 1;
      continue;
    }
    Extraction result;
    try {
      result = registry.extract(metafs::extract::open_source_file(file), format);
    } catch (const std::system_error& e) {
      if (jsonl) std::cout << jsonl_line(file, nullptr, e.what());
      std::cerr << "metafs-extract: " << e.what() << "\n";
      status = 1;
      continue;
    }
    if (jsonl) {
      std::cout << jsonl_line(file, &result, result.failed() ? result.error : std::string());
    } else if (as == "txt") {
      std::cout << metafs::extract::render_txt(result.tree);
    } else if (as == "json") {
      std::cout << metafs::extract::render_json(result.tree);
    } else if (as == "header") {
      std::cout << result.header;
    } else if (as == "tree") {
      print_tree(result.tree, MetaTree::kRoot, "");
    } else if (as == "format") {
      std::cout << metafs::extract::format_name(result.format) << "\n";
    } else {
      bool found = false;
      for (const auto& [name, content] : result.extra_files) {
        if (name == as) {
          std::cout << content;
          found = true;
        }
      }
      if (!found) {
        std::cerr << "metafs-extract: " << file << ": no '" << as << "' for this file\n";
        status = 1;
      }
    }
    if (result.failed()) {
      std::cerr << "metafs-extract: " << file << ": error: " << result.error << "\n";
      status = 1;
    }
  }
  return status;
}
