#include "worker_loop.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "codec.hpp"
#include "registry.hpp"
#include "worker_allocator.hpp"
#include "worker_fault.hpp"
#include "worker_protocol.hpp"
#include "worker_sandbox.hpp"
#include "worker_warmup.hpp"

namespace metafs::extract::worker {
namespace {

// Set by the new-handler: an allocation hit RLIMIT_DATA while extracting this file.
volatile bool g_allocation_failed = false;

void note_allocation_failure() {
  g_allocation_failed = true;
  throw std::bad_alloc();
}

bool read_exact(int fd, char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Reads a request's header and the descriptor that comes with its first bytes. False when the
// daemon hung up or broke the protocol.
bool read_header(int channel, std::string& header, FileDescriptor& file) {
  std::size_t have = 0;
  while (have < header.size()) {
    int fd = -1;
    long n = receive_with_descriptor(channel, header.data() + have, header.size() - have, &fd);
    if (fd >= 0) {
      if (file.valid()) {  // one descriptor per request
        ::close(fd);
        return false;
      }
      file = FileDescriptor(fd);
    }
    if (n <= 0) return false;
    have += static_cast<std::size_t>(n);
  }
  return file.valid();
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool send_reply(int fd, ReplyStatus status, const std::string& payload) {
  std::string header = encode_reply_header(status, static_cast<std::uint32_t>(payload.size()));
  return write_all(fd, header.data(), header.size()) &&
         write_all(fd, payload.data(), payload.size());
}

// The reply for one request; never throws.
bool answer(int fd, const ExtractorRegistry& registry, const Request& request,
            const SourceFile& file, FaultPlan::Kind fault) {
  if (fault == FaultPlan::Kind::kGarbage) {
    // A valid header announcing 16 bytes that are no codec frame.
    std::string junk = encode_reply_header(ReplyStatus::kOk, 16) + "not a codec body";
    return write_all(fd, junk.data(), junk.size());
  }
  if (fault == FaultPlan::Kind::kHuge) {
    std::string header = encode_reply_header(ReplyStatus::kOk, 0);
    header.replace(6, 4, "\xff\xff\xff\x7f");
    return write_all(fd, header.data(), header.size());
  }
  g_allocation_failed = false;
  try {
    trigger(fault);
    Extraction result = request.hdf5_view ? registry.extract_as_hdf5(file)
                                          : registry.extract(file, request.detected);
    if (result.failed() && g_allocation_failed) {
      return send_reply(fd, ReplyStatus::kOutOfMemory, {});
    }
    std::string payload;
    try {
      // Stored: the reply crosses a local socket once; the cache compresses what it keeps.
      payload = extract::encode_extraction(result, extract::BodyCompression::kStored);
      if (payload.size() > kMaxReplyBytes) payload = extract::encode_extraction(result);
    } catch (const std::length_error& e) {
      return send_reply(fd, ReplyStatus::kFailed, std::string("metadata too large: ") + e.what());
    }
    if (payload.size() > kMaxReplyBytes) {
      return send_reply(fd, ReplyStatus::kFailed, "metadata too large to send");
    }
    return send_reply(fd, ReplyStatus::kOk, payload);
  } catch (const std::bad_alloc&) {
    return send_reply(fd, ReplyStatus::kOutOfMemory, {});
  } catch (const std::exception& e) {
    return send_reply(fd, ReplyStatus::kFailed, std::string("internal error: ") + e.what());
  }
}

// Moves the socket off descriptor 0; 0 becomes /dev/null and 1 a copy of stderr, so library
// output never mixes with replies. Returns the socket's new descriptor, or -1.
int take_channel() {
  int channel = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
  if (channel < 0) return -1;
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(2, 1) < 0) return -1;
  ::close(null);
  return channel;
}

}  // namespace

int serve(const ServeOptions& options) {
  // Dies with the daemon; a daemon that is already gone has closed the socket too.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int channel = take_channel();
  if (channel < 0) {
    std::perror("metafs-extract --serve: descriptor set-up");
    return kWorkerExitNoSandbox;
  }
  std::set_new_handler(note_allocation_failure);
  // Read-only access needs no locks (netCDF-C would ask HDF5 for them).
  ::setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
  FaultPlan faults = FaultPlan::from_environment();
  auto per_file_cpu = static_cast<std::uint64_t>(std::ceil(options.timeout_seconds)) + 1;

  tune_allocator();
  ExtractorRegistry registry;
  warm_up(registry);
  SandboxLimits limits;
  limits.data_bytes = options.memory_bytes;
  limits.cpu_budget_seconds = per_file_cpu * (options.max_files + 2) + 60;
  limits.channel_fd = channel;
  try {
    drop_privileges(options.uid, options.gid);
    // Changing credentials cleared the parent-death signal: set it again, then make sure the
    // daemon did not die before it was set.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (options.parent_pid > 0 && ::getppid() != options.parent_pid) return kWorkerExitDone;
    apply_limits(limits);
    install_seccomp(limits);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "metafs-extract --serve: cannot enter the sandbox: %s\n", e.what());
    return kWorkerExitNoSandbox;
  }

  if (!send_reply(channel, ReplyStatus::kReady, {})) return kWorkerExitChannelBroken;
  std::string header(kFrameHeaderBytes, '\0');
  for (;;) {
    FileDescriptor descriptor;
    if (!read_header(channel, header, descriptor)) return kWorkerExitDone;  // the daemon hung up
    auto request_header = decode_request_header(header);
    if (!request_header) return kWorkerExitChannelBroken;
    Request request;
    request.detected = request_header->detected;
    request.hdf5_view = request_header->hdf5_view;
    request.name.resize(request_header->name_bytes);
    if (!read_exact(channel, request.name.data(), request.name.size()))
      return kWorkerExitChannelBroken;
    allow_cpu_seconds(per_file_cpu);
    FaultPlan::Kind fault = faults.for_path(request.name);
    SourceFile file(std::move(descriptor), request.name);
    if (!answer(channel, registry, request, file, fault)) return kWorkerExitChannelBroken;
  }
}

}  // namespace metafs::extract::worker
