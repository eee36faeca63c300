#include "extraction/worker_pool.hpp"

#include <spdlog/fmt/fmt.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <future>
#include <new>
#include <system_error>

#include "codec.hpp"
#include "extraction/log.hpp"
#include "extraction/worker_spawner.hpp"
#include "registry.hpp"
#include "signal_name.hpp"
#include "worker_protocol.hpp"

namespace metafs::extraction {
namespace {

using extract::Extraction;
using extract::Format;
using extract::worker::ReplyStatus;
using Verdict = extract::Extraction::Verdict;

// A worker has this long to start, initialise its libraries and enter the sandbox.
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr std::size_t kMaxErrorBytes = 512;

std::string one_line(std::string text) {
  if (text.size() > kMaxErrorBytes) text.resize(kMaxErrorBytes);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return text;
}

bool reserved_file_name(const std::string& name) {
  for (const char* fixed :
       {"format", "fields", "metadata.txt", "metadata.json", "header.txt", "error"}) {
    if (name == fixed) return true;
  }
  return name.empty() || name == "." || name == ".." || name.size() > 255 ||
         name.find('/') != std::string::npos || name.find('\0') != std::string::npos;
}

// What a decoded reply must satisfy beyond the codec's own checks; empty when it does.
std::string reply_problem(const Extraction& reply, Format detected) {
  bool format_ok =
      reply.format == detected || (detected == Format::kHdf5 && reply.format == Format::kNetcdf);
  if (!format_ok) return "format changed to " + std::string(extract::format_name(reply.format));
  for (const auto& [name, content] : reply.extra_files) {
    if (reserved_file_name(name)) return "bad extra file name";
  }
  return {};
}

}  // namespace

std::string human_bytes(std::uint64_t bytes) {
  for (auto [unit, shift] : {std::pair{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}}) {
    std::uint64_t size = 1ull << shift;
    if (bytes >= size && bytes % size == 0) return fmt::format("{} {}", bytes / size, unit);
  }
  if (bytes >= (1ull << 20))
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  return fmt::format("{} bytes", bytes);
}

std::filesystem::path default_worker_executable() {
  if (const char* over = std::getenv("METAFS_WORKER"); over != nullptr && *over != '\0') {
    return over;
  }
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "metafs-extract";
  return self.parent_path() / "metafs-extract";
}

WorkerPool::WorkerPool(WorkerPoolOptions options) : options_(std::move(options)) {
  options_.workers = std::max(1u, std::min(options_.workers, 1024u));
  options_.recycle_after = std::max(1u, options_.recycle_after);
  if (options_.executable.empty()) options_.executable = default_worker_executable();
  command_.executable = options_.executable;
  command_.args = {"--serve",
                   "--worker-memory",
                   std::to_string(options_.memory_bytes),
                   "--timeout",
                   fmt::format("{}", options_.timeout_seconds),
                   "--max-files",
                   std::to_string(options_.recycle_after)};
  command_.args.insert(command_.args.end(), {"--parent-pid", std::to_string(::getpid())});
  if (options_.uid >= 0) {
    command_.args.insert(command_.args.end(), {"--uid", std::to_string(options_.uid), "--gid",
                                               std::to_string(options_.gid)});
  }
  slots_.resize(options_.workers);
  cancel_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancel_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd for the worker pool");
  }
}

void WorkerPool::cancel() {
  if (cancelled_.exchange(true)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(cancel_fd_, &one, sizeof one);
  {
    std::lock_guard lock(mutex_);  // a waiter in acquire() sees cancelled_ after this
  }
  freed_.notify_all();
}

WorkerPool::~WorkerPool() {
  spawner_.reset();  // joins: no spawn job touches the slots after this
  std::lock_guard lock(mutex_);
  slots_.clear();  // each WorkerProcess kills and reaps its process
  ::close(cancel_fd_);
}

std::uint32_t WorkerPool::schema_version(Format format) const {
  return versions_.schema_version(format);
}

void WorkerPool::start_once() {
  std::call_once(started_, [this] {
    spawner_ = std::make_unique<WorkerSpawner>();
    log()->info("starting {} extractor worker(s): {}{}", slots_.size(),
                command_.executable.string(),
                options_.uid >= 0 ? fmt::format(" as {} (uid {})", options_.account, options_.uid)
                                  : std::string());
    if (options_.uid >= 0 && options_.account == "nobody") {
      log()->warn(
          "the workers run as nobody, an account other processes may share (they "
          "could signal the workers): create {} (systemd-sysusers, or useradd "
          "--system --no-create-home --shell /usr/sbin/nologin {})",
          kDedicatedWorkerUser, kDedicatedWorkerUser);
    }
    for (std::size_t i = 0; i < slots_.size(); ++i) respawn_async(i);
  });
}

std::unique_ptr<WorkerProcess> WorkerPool::spawn_now() {
  auto task = std::make_shared<std::packaged_task<std::unique_ptr<WorkerProcess>()>>(
      [this] { return WorkerProcess::spawn(command_, Clock::now() + kStartTimeout, cancel_fd_); });
  auto result = task->get_future();
  spawner_->post([task] { (*task)(); });
  return result.get();
}

void WorkerPool::respawn_async(std::size_t index) {
  spawner_->post([this, index] {
    std::unique_ptr<WorkerProcess> process;
    if (!cancelled_) {
      try {
        process = WorkerProcess::spawn(command_, Clock::now() + kStartTimeout, cancel_fd_);
        log()->debug("extractor worker {} started", process->pid());
      } catch (const std::exception& e) {
        log()->error("cannot start an extractor worker: {}", e.what());
      }
    }
    {
      std::lock_guard lock(mutex_);
      Slot& slot = slots_[index];
      slot.process = std::move(process);
      slot.files = 0;
      slot.busy = false;
    }
    freed_.notify_one();
  });
}

std::size_t WorkerPool::acquire(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (cancelled_) return SIZE_MAX;
    std::size_t empty = SIZE_MAX;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].busy) continue;
      if (slots_[i].process) {
        slots_[i].busy = true;
        return i;
      }
      empty = i;
    }
    if (empty != SIZE_MAX) {  // a worker that failed to start: the caller tries again
      slots_[empty].busy = true;
      return empty;
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout) return SIZE_MAX;
  }
}

void WorkerPool::release(std::size_t index) {
  {
    std::lock_guard lock(mutex_);
    slots_[index].busy = false;
  }
  freed_.notify_one();
}

Extraction WorkerPool::failure(Format detected, std::string why,
                               Extraction::Verdict verdict) const {
  Extraction out;
  out.format = detected;
  out.error = one_line(std::move(why));
  out.verdict = verdict;
  return out;
}

std::string WorkerPool::death_message(int status) const {
  if (WIFSIGNALED(status)) {
    int signal = WTERMSIG(status);
    if (signal == SIGXCPU) {
      return fmt::format("timed out after {} s (CPU limit)", options_.timeout_seconds);
    }
    std::string message = "extractor crashed: " + extract::signal_name(signal);
    if (signal == SIGSYS) message += " (forbidden system call)";
    return message;
  }
  return fmt::format("extractor exited with status {}", WEXITSTATUS(status));
}

Extraction WorkerPool::extract(const extract::SourceFile& file, Format detected) {
  return send_request(file, detected, false);
}

Extraction WorkerPool::extract_hdf5_view(const extract::SourceFile& file,
                                         std::string_view netcdf_failure) {
  Extraction view = send_request(file, Format::kHdf5, true);
  if (view.verdict == Verdict::kFinal) {
    extract::ExtractorRegistry::explain_hdf5_view(view, netcdf_failure);
  }
  return view;
}

Extraction WorkerPool::send_request(const extract::SourceFile& file, Format detected,
                                    bool hdf5_view) {
  try {
    start_once();
    auto wait_limit = std::chrono::duration<double>(options_.timeout_seconds * 2) + kStartTimeout;
    std::size_t index =
        acquire(Clock::now() + std::chrono::duration_cast<Clock::duration>(wait_limit));
    if (index == SIZE_MAX) {
      return failure(
          detected,
          cancelled_ ? "not read: metafs is stopping" : "no extractor worker free in time",
          Verdict::kTransient);
    }
    Slot& slot = slots_[index];  // ours while busy; the vector never resizes
    if (!slot.process) {
      try {
        slot.process = spawn_now();
        slot.files = 0;
      } catch (const std::exception& e) {
        release(index);
        return failure(detected, std::string("cannot start an extractor worker: ") + e.what(),
                       Verdict::kTransient);
      }
    }
    Extraction result = run(slot, file, detected, hdf5_view);
    if (slot.process && ++slot.files >= options_.recycle_after) {
      log()->debug("recycling extractor worker {} after {} files", slot.process->pid(), slot.files);
      slot.process.reset();
    }
    if (slot.process) {
      release(index);
    } else {
      respawn_async(index);
    }
    return result;
  } catch (const std::bad_alloc&) {
    return failure(detected, "out of memory in the daemon", Verdict::kTransient);
  } catch (const std::exception& e) {
    return failure(detected, std::string("internal error: ") + e.what(), Verdict::kTransient);
  }
}

Extraction WorkerPool::run(Slot& slot, const extract::SourceFile& file, Format detected,
                           bool hdf5_view) {
  WorkerProcess& worker = *slot.process;
  const std::string& name = file.name();
  std::string request;
  try {
    request = extract::worker::encode_request({detected, name, hdf5_view});
  } catch (const std::length_error&) {
    return failure(detected, "path too long", Verdict::kFinal);
  }
  auto timeout = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options_.timeout_seconds));
  auto before = worker.cpu_seconds();
  auto exchange = worker.exchange(request, file.fd(), Clock::now() + timeout);

  switch (exchange.outcome) {
    case WorkerProcess::Outcome::kTimedOut: {
      // The file's doing only if the parser was computing: a worker stopped from outside
      // (SIGSTOP by another process of its account) or waiting (slow storage, a loaded
      // machine) used little CPU, and the file is tried again later.
      auto after = worker.usage();
      bool computing = before && after && !after->stopped &&
                       after->cpu_seconds - *before >= options_.timeout_seconds / 2;
      log()->warn("{}: extractor worker {} timed out{}, killed", name, worker.pid(),
                  computing ? "" : " without computing");
      slot.process.reset();
      return failure(detected,
                     fmt::format("timed out after {} s{}", options_.timeout_seconds,
                                 computing ? "" : " (the parser was held up: tried again later)"),
                     computing ? Verdict::kCrashed : Verdict::kTransient);
    }
    case WorkerProcess::Outcome::kDied: {
      int status = worker.reap(std::chrono::milliseconds(1000));
      std::string message = death_message(status);
      log()->warn("{}: extractor worker {}: {}", name, worker.pid(), message);
      slot.process.reset();
      // We kill a worker only after its deadline (kTimedOut above): a SIGKILL here came from
      // outside (the OOM killer, an administrator) and says nothing about the file.
      bool killed_from_outside = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      return failure(detected, message,
                     killed_from_outside ? Verdict::kTransient : Verdict::kCrashed);
    }
    case WorkerProcess::Outcome::kCancelled: {
      slot.process.reset();  // killed and reaped here, by the request that owns it
      return failure(detected, "not read: metafs is stopping", Verdict::kTransient);
    }
    case WorkerProcess::Outcome::kBadReply: {
      log()->warn("{}: extractor worker {} sent an invalid reply, killed", name, worker.pid());
      slot.process.reset();
      return failure(detected, "invalid reply from the extractor", Verdict::kCrashed);
    }
    case WorkerProcess::Outcome::kReply:
      break;
  }
  switch (exchange.header.status) {
    case ReplyStatus::kOk:
      break;
    case ReplyStatus::kOutOfMemory:
      // Its heap may be fragmented or half-freed: start afresh.
      slot.process.reset();
      // Final only the second time: a heap left fragmented by earlier files could be the cause.
      return failure(detected,
                     "ran out of memory (limit " + human_bytes(options_.memory_bytes) + ")",
                     Verdict::kCrashed);
    case ReplyStatus::kFailed:
      return failure(detected, exchange.payload.empty() ? "extractor failed" : exchange.payload,
                     Verdict::kFinal);
    case ReplyStatus::kReady:
      slot.process.reset();
      return failure(detected, "invalid reply from the extractor", Verdict::kCrashed);
  }
  try {
    Extraction reply = extract::decode_extraction(exchange.payload);
    if (std::string problem = reply_problem(reply, detected); !problem.empty()) {
      throw std::runtime_error(problem);
    }
    reply.error = one_line(std::move(reply.error));
    return reply;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    log()->warn("{}: extractor worker {} sent an invalid reply ({}), killed", name, worker.pid(),
                e.what());
    slot.process.reset();
    return failure(detected, "invalid reply from the extractor", Verdict::kCrashed);
  }
}

}  // namespace metafs::extraction
