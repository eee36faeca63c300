#include "worker_protocol.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
  if (request.name.size() > kMaxNameBytes) throw std::length_error("name too long for a worker");
  auto format = static_cast<std::uint8_t>(request.detected);
  if (request.hdf5_view) format |= kHdf5ViewFlag;
  std::string out = header(kRequestMagic, format, static_cast<std::uint32_t>(request.name.size()));
  out.append(request.name);
  return out;
}

std::optional<RequestHeader> decode_request_header(std::string_view bytes) {
  if (bytes.size() != kFrameHeaderBytes || bytes.substr(0, 4) != kRequestMagic ||
      static_cast<std::uint8_t>(bytes[4]) != kProtocolVersion) {
    return std::nullopt;
  }
  auto byte = static_cast<std::uint8_t>(bytes[5]);
  bool hdf5_view = (byte & kHdf5ViewFlag) != 0;
  auto format = static_cast<std::uint8_t>(byte & ~kHdf5ViewFlag);
  std::uint32_t length = get_u32(bytes.substr(6));
  if (!valid_format(format) || length == 0 || length > kMaxNameBytes) return std::nullopt;
  if (hdf5_view && static_cast<Format>(format) != Format::kHdf5) return std::nullopt;
  return RequestHeader{static_cast<Format>(format), length, hdf5_view};
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

long send_with_descriptor(int socket, std::string_view data, int fd) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&message);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  for (;;) {
    ssize_t n = ::sendmsg(socket, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<long>(n);
    if (errno != EINTR) return -errno;
  }
}

long receive_with_descriptor(int socket, char* data, std::size_t size, int* fd) {
  iovec iov{data, size};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
      if (*fd < 0) {
        *fd = received;
      } else {
        ::close(received);
      }
    }
  }
  return static_cast<long>(n);
}

}  // namespace metafs::extract::worker
