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
//   request: "MFWQ" | version u8 | detected format u8 | path length u32 LE | path bytes
//   reply:   "MFWR" | version u8 | status u8 | payload length u32 LE | payload
//
// A kOk reply carries the Extraction in the validating binary codec (codec.hpp); kOutOfMemory
// an empty payload; kFailed one line of text saying why the worker could not reply. Once, before
// the first request, the worker sends a kReady frame with an empty payload: it is sandboxed and
// its libraries are initialised.
inline constexpr std::uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 10;
inline constexpr std::size_t kMaxPathBytes = 16 * 1024;
// The daemon never accepts more than this from a worker (the codec's own body cap).
inline constexpr std::size_t kMaxReplyBytes = 64 * 1024 * 1024;

enum class ReplyStatus : std::uint8_t { kOk = 0, kOutOfMemory = 1, kFailed = 2, kReady = 3 };

struct Request {
  Format detected = Format::kNone;
  std::string path;
};

struct ReplyHeader {
  ReplyStatus status = ReplyStatus::kFailed;
  std::uint32_t payload_bytes = 0;
};

// Throws std::length_error when the path is longer than kMaxPathBytes.
std::string encode_request(const Request& request);

// The request header's path length, or std::nullopt when the header is not a valid request
// header of this version (bad magic, version or format, path longer than kMaxPathBytes).
// `header` holds exactly kFrameHeaderBytes bytes.
struct RequestHeader {
  Format detected = Format::kNone;
  std::uint32_t path_bytes = 0;
};
std::optional<RequestHeader> decode_request_header(std::string_view header);

std::string encode_reply_header(ReplyStatus status, std::uint32_t payload_bytes);

// std::nullopt unless `header` (kFrameHeaderBytes bytes) is a reply header of this version
// with a known status and a payload no longer than kMaxReplyBytes.
std::optional<ReplyHeader> decode_reply_header(std::string_view header);

}  // namespace metafs::extract::worker
