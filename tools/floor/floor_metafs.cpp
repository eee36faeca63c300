// metafs's own in-process extraction over the same files, under the same harness as the
// floors: detection, the format's extractor (the metadata tree and header.txt) and the two
// renderings of the tree (metadata.txt, metadata.json). With --worker it stops at what a
// worker does for a request, in a process set up as a worker's (its malloc settings and
// warm-up, glibc's tunables): detection and the extractor; the daemon renders metadata.txt and
// metadata.json from the tree at their first read (DataView::content), so a walk that reads
// neither never pays for them. With --codec it measures instead what the codec adds to each
// file: the worker's encode_extraction (a stored body, as a worker replies) and the daemon's
// decode_extraction of the same extraction (extracted once, before the passes).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "codec.hpp"
#include "detect.hpp"
#include "floor_common.hpp"
#include "registry.hpp"
#include "render.hpp"
#include "worker_allocator.hpp"
#include "worker_warmup.hpp"

namespace {

std::size_t g_sink = 0;
metafs::extract::ExtractorRegistry* g_registry = nullptr;
std::map<std::string, metafs::extract::Extraction> g_extracted;

bool extract(const std::string& path, metafs::extract::Extraction& result) {
  auto source = metafs::extract::open_source_file(path);
  struct stat st {};
  ::fstat(source.fd(), &st);
  auto format = metafs::extract::detect_format(source.fd(), source.base_name(),
                                               static_cast<std::uint64_t>(st.st_size));
  if (format == metafs::extract::Format::kNone) return false;
  result = g_registry->extract(source, format);
  return true;
}

bool read_file(const std::string& path) try {
  metafs::extract::Extraction result;
  if (!extract(path, result)) return false;
  g_sink += metafs::extract::render_txt(result.tree).size() +
            metafs::extract::render_json(result.tree).size() + result.header.size();
  return !result.failed();
} catch (const std::exception&) {
  return false;
}

bool extract_only(const std::string& path) try {
  metafs::extract::Extraction result;
  if (!extract(path, result)) return false;
  g_sink += result.tree.size() + result.header.size();
  return !result.failed();
} catch (const std::exception&) {
  return false;
}

bool round_trip(const std::string& path) try {
  auto it = g_extracted.find(path);
  if (it == g_extracted.end()) {
    metafs::extract::Extraction result;
    if (!extract(path, result)) return false;
    it = g_extracted.emplace(path, std::move(result)).first;
  }
  std::string bytes =
      metafs::extract::encode_extraction(it->second, metafs::extract::BodyCompression::kStored);
  g_sink += bytes.size() + metafs::extract::decode_extraction(bytes).tree.size();
  return !it->second.failed();
} catch (const std::exception&) {
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  // --worker: the process set up as a worker sets itself up (worker_loop.cpp's serve). --codec
  // too: glibc's default thresholds move with each large free, and gave the round trip a
  // different cost from run to run (46-58 us per DICOM file against 28-30 so). The daemon's own
  // settings (fs/main.cpp: large blocks mapped on their own) make its decode fault pages in.
  if (mode == "--worker" || mode == "--codec") {
    // A worker starts with glibc's tunables for it (the daemon spawns it so): this process
    // starts again with them unless it already has them.
    const char* inherited = std::getenv("GLIBC_TUNABLES");
    std::string tunables = metafs::extract::worker::worker_tunables(inherited);
    if (inherited == nullptr || tunables != inherited) {
      ::setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
      ::execv("/proc/self/exe", argv);
      std::perror("floor_metafs: execv /proc/self/exe");
      return 1;
    }
    metafs::extract::worker::tune_allocator();
  }
  metafs::extract::ExtractorRegistry registry;
  g_registry = &registry;
  if (mode == "--worker") metafs::extract::worker::warm_up(registry);
  if (mode == "--codec" || mode == "--worker") {
    argv[1] = argv[0];
    ++argv;
    --argc;
  }
  int status = mode == "--codec"    ? metafs::floor::run("metafs-codec", argc, argv, round_trip)
               : mode == "--worker" ? metafs::floor::run("metafs-worker", argc, argv, extract_only)
                                    : metafs::floor::run("metafs", argc, argv, read_file);
  return g_sink == 42 ? 3 : status;
}
