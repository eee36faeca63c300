#include "ops/ops.hpp"

namespace metafs::fs {

const fuse_lowlevel_ops& operations() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = op_init;
    o.lookup = op_lookup;
    o.forget = op_forget;
    o.forget_multi = op_forget_multi;
    o.getattr = op_getattr;
    o.readlink = op_readlink;
    o.opendir = op_opendir;
    o.readdir = op_readdir;
    o.readdirplus = op_readdirplus;
    o.releasedir = op_releasedir;
    o.read = op_read;
    o.statfs = op_statfs;
    o.open = op_open;
    o.release = op_release;
    o.flush = op_flush;
    o.getxattr = op_getxattr;
    o.listxattr = op_listxattr;
    o.setattr = op_setattr;
    o.mknod = op_mknod;
    o.mkdir = op_mkdir;
    o.unlink = op_unlink;
    o.rmdir = op_rmdir;
    o.symlink = op_symlink;
    o.rename = op_rename;
    o.link = op_link;
    o.write = op_write;
    o.create = op_create;
    o.setxattr = op_setxattr;
    o.removexattr = op_removexattr;
    o.fallocate = op_fallocate;
    return o;
  }();
  return ops;
}

}  // namespace metafs::fs
