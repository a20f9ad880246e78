#include "parlab/detail/remote_call.hpp"

#include "parlab/errors.hpp"

#include <cstring>

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

EncodedBatch encode_batch(std::string& message, std::size_t prefix, std::uint64_t entry, std::uint64_t fn,
                          ChunkCodec& codec, std::size_t first, std::size_t last, std::size_t limit) {
  message.assign(prefix, '\0');
  codec::Writer out{message};
  out(entry, fn, static_cast<std::uint64_t>(first), std::uint64_t{0});
  const std::size_t count_at = message.size() - sizeof(std::uint64_t);
  bool failed = false;
  std::size_t i = first;
  for (; i < last && (i == first || message.size() < limit); ++i) {
    const std::size_t mark = message.size();
    try {
      codec.encode(i, i + 1, out);
    } catch (...) {
      message.resize(mark);
      codec.error(i, std::current_exception());
      failed = true;
      break;
    }
  }
  const auto count = static_cast<std::uint64_t>(i - first);
  std::memcpy(message.data() + count_at, &count, sizeof count);
  return {i, failed};
}

}  // namespace parlab::detail
