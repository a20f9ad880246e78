#include "parlab/remote_initializer.hpp"

#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

namespace parlab::detail {
namespace {

struct InitializerRegistry {
  std::mutex mutex;
  std::map<std::uint64_t, std::pair<std::string, ChunkEntry>> entries;
};

InitializerRegistry& initializer_registry() {
  static InitializerRegistry r;
  return r;
}

/// FNV-1a of a type name: the same in every process of the program.
std::uint64_t name_id(std::string_view name) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

std::uint64_t register_initializer_entry(const char* type_name, ChunkEntry entry) {
  auto& r = initializer_registry();
  std::lock_guard lock{r.mutex};
  const std::uint64_t id = name_id(type_name);
  const auto [it, added] = r.entries.try_emplace(id, type_name, entry);
  if (!added && it->second.first != type_name)
    throw std::logic_error("parlab: two initializer types share an id: " + it->second.first + " and " +
                           type_name);
  return id;
}

ChunkEntry initializer_entry(std::uint64_t id) noexcept {
  auto& r = initializer_registry();
  std::lock_guard lock{r.mutex};
  const auto it = r.entries.find(id);
  return it == r.entries.end() ? nullptr : it->second.second;
}

}  // namespace parlab::detail
