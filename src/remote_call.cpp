#include "parlab/detail/remote_call.hpp"

#include "parlab/errors.hpp"

#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace parlab::detail {
namespace {

struct EntryRegistry {
  std::mutex mutex;
  std::map<std::uint64_t, std::pair<std::string, ChunkEntry>> entries;  // id -> (type name, entry)
};

EntryRegistry& entry_registry() {
  static EntryRegistry registry;
  return registry;
}

}  // namespace

std::uint64_t name_id(std::string_view name) noexcept {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h | 1;  // 0 means "none" (an MPI task that is a lambda, found by type)
}

std::uint64_t register_entry(const char* type_name, ChunkEntry entry) {
  auto& registry = entry_registry();
  std::lock_guard lock{registry.mutex};
  const std::uint64_t id = name_id(type_name);
  const auto [it, added] = registry.entries.try_emplace(id, type_name, entry);
  if (!added && it->second.first != type_name)
    throw std::logic_error("parlab: two task types share an id: " + it->second.first + " and " + type_name);
  return id;
}

ChunkEntry find_entry(std::uint64_t id) noexcept {
  auto& registry = entry_registry();
  std::lock_guard lock{registry.mutex};
  const auto it = registry.entries.find(id);
  return it == registry.entries.end() ? nullptr : it->second.second;
}

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
