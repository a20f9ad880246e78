#include "parlab/errors.hpp"

#include <cxxabi.h>

#include <memory>
#include <typeinfo>

namespace parlab {
namespace {

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out{abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free};
  return status == 0 && out ? std::string{out.get()} : std::string{name};
}

}  // namespace

std::string describe(const std::exception_ptr& error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return demangle(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    const std::type_info* type = abi::__cxa_current_exception_type();
    return type ? demangle(type->name()) + " (not derived from std::exception)" : "unknown exception";
  }
}

TaskError::TaskError(std::size_t index, std::exception_ptr original)
    : std::runtime_error("task " + std::to_string(index) + " failed: " + describe(original)),
      index_(index),
      original_(std::move(original)) {}

}  // namespace parlab
