// metafs's own in-process extraction over the same files, under the same harness as the
// floors: detection, the format's extractor and every view rendered (metadata.txt,
// metadata.json, header.txt), as a worker does before encoding its reply.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "detect.hpp"
#include "floor_common.hpp"
#include "registry.hpp"
#include "render.hpp"

namespace {

std::size_t g_sink = 0;
metafs::extract::ExtractorRegistry* g_registry = nullptr;

bool read_file(const std::string& path) try {
  auto source = metafs::extract::open_source_file(path);
  struct stat st {};
  ::fstat(source.fd(), &st);
  auto format = metafs::extract::detect_format(source.fd(), source.base_name(),
                                               static_cast<std::uint64_t>(st.st_size));
  if (format == metafs::extract::Format::kNone) return false;
  auto result = g_registry->extract(source, format);
  g_sink += metafs::extract::render_txt(result.tree).size() +
            metafs::extract::render_json(result.tree).size() + result.header.size();
  return !result.failed();
} catch (const std::exception&) {
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  metafs::extract::ExtractorRegistry registry;
  g_registry = &registry;
  int status = metafs::floor::run("metafs", argc, argv, read_file);
  return g_sink == 42 ? 3 : status;
}
