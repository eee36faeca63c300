// The mount's own floor: a FUSE file system that does nothing but answer, with libfuse's
// low-level API and the loop metafs runs (multithreaded, no cloned descriptors, the same
// 1 s entry and attribute timeouts, files opened with keep_cache), the requests a reader of
// DIR/FILE/metadata.json makes: LOOKUP of the data file's directory and of metadata.json,
// OPEN, READ, RELEASE. Its CPU time per file, beside the daemon's in a cold pass over the same
// shape of tree, is the part of the daemon's cost no metafs code can remove.
//
//   floor_fuse MOUNTPOINT DIRS FILES BYTES   (serves dNNN/fNNN/metadata.json, BYTES each;
//                                             runs in the foreground until unmounted)
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

unsigned g_dirs = 0;
unsigned g_files = 0;
std::string g_content;

// Inodes: 1 the root; per directory d: base(d) itself, base(d) + 1 + 2f the data file's
// directory f, base(d) + 2 + 2f its metadata.json.
fuse_ino_t base(unsigned d) {
  return 2 + static_cast<fuse_ino_t>(d) * (2 * g_files + 1);
}

bool attributes(fuse_ino_t ino, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
    return true;
  }
  if (ino < 2 || ino >= base(g_dirs)) return false;
  fuse_ino_t offset = (ino - 2) % (2 * g_files + 1);
  if (offset == 0 || offset % 2 == 1) {
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
  } else {
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = static_cast<off_t>(g_content.size());
  }
  return true;
}

void reply_entry(fuse_req_t req, fuse_ino_t ino) {
  fuse_entry_param e{};
  e.ino = ino;
  e.attr_timeout = 1.0;
  e.entry_timeout = 1.0;
  attributes(ino, &e.attr);
  fuse_reply_entry(req, &e);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  unsigned n = 0;
  if (parent == FUSE_ROOT_ID && std::sscanf(name, "d%u", &n) == 1 && n < g_dirs) {
    return reply_entry(req, base(n));
  }
  if (parent >= 2 && parent < base(g_dirs)) {
    fuse_ino_t offset = (parent - 2) % (2 * g_files + 1);
    if (offset == 0 && std::sscanf(name, "f%u", &n) == 1 && n < g_files) {
      return reply_entry(req, parent + 1 + 2 * n);
    }
    if (offset % 2 == 1 && std::strcmp(name, "metadata.json") == 0) {
      return reply_entry(req, parent + 1);
    }
  }
  fuse_reply_err(req, ENOENT);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  struct stat st {};
  if (!attributes(ino, &st)) return static_cast<void>(fuse_reply_err(req, ENOENT));
  fuse_reply_attr(req, &st, 1.0);
}

void op_open(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  fi->keep_cache = 1;
  fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  auto at = static_cast<std::size_t>(off);
  if (at >= g_content.size()) return static_cast<void>(fuse_reply_buf(req, nullptr, 0));
  fuse_reply_buf(req, g_content.data() + at, std::min(size, g_content.size() - at));
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(req, 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s MOUNTPOINT DIRS FILES BYTES\n", argv[0]);
    return 2;
  }
  g_dirs = static_cast<unsigned>(std::atoi(argv[2]));
  g_files = static_cast<unsigned>(std::atoi(argv[3]));
  g_content.assign(static_cast<std::size_t>(std::atol(argv[4])), 'x');
  fuse_lowlevel_ops ops{};
  ops.lookup = op_lookup;
  ops.getattr = op_getattr;
  ops.open = op_open;
  ops.read = op_read;
  ops.release = op_release;
  char* args_v[] = {argv[0], const_cast<char*>("-o"), const_cast<char*>("ro,default_permissions")};
  fuse_args args = FUSE_ARGS_INIT(3, args_v);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  if (se == nullptr || fuse_session_mount(se, argv[1]) != 0) return 1;
  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(config, 0);
  fuse_loop_cfg_set_idle_threads(config, 16);
  fuse_loop_cfg_set_max_threads(config, 64);
  int rc = fuse_session_loop_mt(se, config);
  fuse_loop_cfg_destroy(config);
  fuse_session_unmount(se);
  fuse_session_destroy(se);
  return rc == 0 ? 0 : 1;
}
