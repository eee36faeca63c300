#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "format.hpp"

namespace metafs::extract::worker {

// The wire format between the daemon and a worker process (`metafs-extract --serve`), one
// request and one reply at a time over a stream socket:
//
//   request: "MFWQ" | version u8 | detected format u8 (| 0x80: the HDF5 view, below) |
//            name length u32 LE | name bytes
//            + the data file's descriptor, as SCM_RIGHTS ancillary data on the request's bytes
//   reply:   "MFWR" | version u8 | status u8 | payload length u32 LE | payload
//
// The worker reads the file only through the descriptor the daemon opened beneath SOURCE; the
// name is for messages (and fault injection in tests) and is never opened.
// A kOk reply carries the Extraction in the validating binary codec (codec.hpp); kOutOfMemory
// an empty payload; kFailed one line of text saying why the worker could not reply. Once, before
// the first request, the worker sends a kReady frame with an empty payload: it is sandboxed and
// its libraries are initialised.
inline constexpr std::uint8_t kProtocolVersion = 3;
// Set in the format byte: read the file with the HDF5 extractor and show it as netcdf
// (ExtractorRegistry::extract_as_hdf5), because netCDF-C crashed or hung on it in an earlier
// worker.
inline constexpr std::uint8_t kHdf5ViewFlag = 0x80;
inline constexpr std::size_t kFrameHeaderBytes = 10;
inline constexpr std::size_t kMaxNameBytes = 16 * 1024;
// The daemon never accepts more than this from a worker (the codec's own body cap).
inline constexpr std::size_t kMaxReplyBytes = 64 * 1024 * 1024;

// How `metafs-extract --serve` exits: the daemon hung up (or died before the sandbox was set),
// the channel broke, or the worker could not set itself up (descriptors, sandbox: the daemon
// reports that one as such).
inline constexpr int kWorkerExitDone = 0;
inline constexpr int kWorkerExitChannelBroken = 2;
inline constexpr int kWorkerExitNoSandbox = 3;

enum class ReplyStatus : std::uint8_t { kOk = 0, kOutOfMemory = 1, kFailed = 2, kReady = 3 };

struct Request {
  Format detected = Format::kNone;
  std::string name;
  bool hdf5_view = false;  // kHdf5ViewFlag
};

struct ReplyHeader {
  ReplyStatus status = ReplyStatus::kFailed;
  std::uint32_t payload_bytes = 0;
};

// Throws std::length_error when the name is longer than kMaxNameBytes.
std::string encode_request(const Request& request);

// The request header's name length, or std::nullopt when the header is not a valid request
// header of this version (bad magic, version or format, name longer than kMaxNameBytes).
// `header` holds exactly kFrameHeaderBytes bytes.
struct RequestHeader {
  Format detected = Format::kNone;
  std::uint32_t name_bytes = 0;
  bool hdf5_view = false;
};
std::optional<RequestHeader> decode_request_header(std::string_view header);

std::string encode_reply_header(ReplyStatus status, std::uint32_t payload_bytes);

// std::nullopt unless `header` (kFrameHeaderBytes bytes) is a reply header of this version
// with a known status and a payload no longer than kMaxReplyBytes.
std::optional<ReplyHeader> decode_reply_header(std::string_view header);

// sendmsg() of the first bytes of `data` with `fd` attached (SCM_RIGHTS), non-blocking:
// returns how many bytes went (at least 1 on success; the rest is sent as plain bytes), or
// -errno (-EAGAIN: try again when the socket is writable).
long send_with_descriptor(int socket, std::string_view data, int fd);

// Blocking recvmsg() of up to `size` bytes into `data`; a descriptor that came with them is
// stored in `*fd` (close-on-exec; any further descriptors are closed). Returns the byte count
// (0: the peer hung up), or -errno.
long receive_with_descriptor(int socket, char* data, std::size_t size, int* fd);

}  // namespace metafs::extract::worker
