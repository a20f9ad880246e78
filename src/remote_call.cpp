#include "parlab/detail/remote_call.hpp"

#include "parlab/errors.hpp"

namespace parlab::detail {

void write_error(codec::Writer& out, const std::exception_ptr& error) {
  auto [type, message] = exception_parts(error);
  out(std::uint8_t{1}, type, message);
}

void read_outcome(codec::Reader& in, std::size_t index, ChunkCodec& codec) {
  std::uint8_t tag = 0;
  in(tag);
  if (tag == 0) {
    codec.value(index, in);
  } else {
    std::string type, message;
    in(type, message);
    codec.error(index, std::make_exception_ptr(RemoteError(std::move(type), message)));
  }
}

}  // namespace parlab::detail
