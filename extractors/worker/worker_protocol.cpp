#include "worker_protocol.hpp"

#include <stdexcept>

namespace metafs::extract::worker {
namespace {

constexpr std::string_view kRequestMagic = "MFWQ";
constexpr std::string_view kReplyMagic = "MFWR";

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(std::string_view in) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string header(std::string_view magic, std::uint8_t byte, std::uint32_t length) {
  std::string out(magic);
  out.push_back(static_cast<char>(kProtocolVersion));
  out.push_back(static_cast<char>(byte));
  put_u32(out, length);
  return out;
}

bool valid_format(std::uint8_t byte) {
  return byte >= static_cast<std::uint8_t>(Format::kDicom) &&
         byte <= static_cast<std::uint8_t>(Format::kNetcdf);
}

}  // namespace

std::string encode_request(const Request& request) {
  if (request.path.size() > kMaxPathBytes) throw std::length_error("path too long for a worker");
  std::string out = header(kRequestMagic, static_cast<std::uint8_t>(request.detected),
                           static_cast<std::uint32_t>(request.path.size()));
  out.append(request.path);
  return out;
}

std::optional<RequestHeader> decode_request_header(std::string_view bytes) {
  if (bytes.size() != kFrameHeaderBytes || bytes.substr(0, 4) != kRequestMagic ||
      static_cast<std::uint8_t>(bytes[4]) != kProtocolVersion) {
    return std::nullopt;
  }
  auto format = static_cast<std::uint8_t>(bytes[5]);
  std::uint32_t length = get_u32(bytes.substr(6));
  if (!valid_format(format) || length == 0 || length > kMaxPathBytes) return std::nullopt;
  return RequestHeader{static_cast<Format>(format), length};
}

std::string encode_reply_header(ReplyStatus status, std::uint32_t payload_bytes) {
  return header(kReplyMagic, static_cast<std::uint8_t>(status), payload_bytes);
}

std::optional<ReplyHeader> decode_reply_header(std::string_view bytes) {
  if (bytes.size() != kFrameHeaderBytes || bytes.substr(0, 4) != kReplyMagic ||
      static_cast<std::uint8_t>(bytes[4]) != kProtocolVersion) {
    return std::nullopt;
  }
  auto status = static_cast<std::uint8_t>(bytes[5]);
  std::uint32_t length = get_u32(bytes.substr(6));
  if (status > static_cast<std::uint8_t>(ReplyStatus::kReady) || length > kMaxReplyBytes) {
    return std::nullopt;
  }
  return ReplyHeader{static_cast<ReplyStatus>(status), length};
}

}  // namespace metafs::extract::worker
