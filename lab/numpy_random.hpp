#pragma once
/// \file
/// A bit-exact port of numpy's legacy `numpy.random.RandomState` (MT19937 and the masked
/// rejection sampler behind `randint`), so C++ draws the same numbers as the Python lab.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace parlab::lab {

/// numpy's legacy `RandomState`: MT19937 seeded with `init_genrand`, and `randint` for the
/// default int64 dtype. `np.random.seed(s)` followed by successive `np.random.randint` calls
/// is the same stream as one `RandomState(s)` used for the same calls in the same order.
class RandomState {
 public:
  /// Same state as `np.random.RandomState(seed)`.
  explicit RandomState(uint32_t seed);

  /// Re-seeds, as `RandomState.seed(seed)` / `np.random.seed(seed)` (MT19937 `init_genrand`).
  void seed(uint32_t seed);

  /// The next raw 32-bit MT19937 output (numpy's `next_uint32`).
  uint32_t next_uint32();

  /// numpy's `next_uint64` for MT19937: two 32-bit outputs, the first one is the high word.
  uint64_t next_uint64();

  /// `randint(low, high, size=count)` with dtype int64: values in [low, high).
  /// Throws std::invalid_argument if `low >= high` and `count > 0` (numpy's ValueError; like
  /// numpy, an empty draw returns before the bounds are checked).
  std::vector<int64_t> randint(int64_t low, int64_t high, size_t count);

  /// Like `randint`, writing `out.size()` values into `out` (no allocation).
  void randint_fill(int64_t low, int64_t high, std::span<int64_t> out);

  /// `randint(low, high, size=(rows, cols)).tolist()`: rows in row-major draw order.
  std::vector<std::vector<int64_t>> randint_rows(int64_t low, int64_t high, size_t rows, size_t cols);

 private:
  static constexpr size_t state_size = 624;

  void twist();

  std::array<uint32_t, state_size> key_{};
  size_t pos_ = state_size;
};

}  // namespace parlab::lab
