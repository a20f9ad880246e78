#include "lab/numpy_random.hpp"

#include <stdexcept>
#include <string>

namespace parlab::lab {

namespace {

constexpr size_t mt_m = 397;
constexpr uint32_t matrix_a = 0x9908b0dfU;
constexpr uint32_t upper_mask = 0x80000000U;
constexpr uint32_t lower_mask = 0x7fffffffU;

uint32_t mix(uint32_t upper, uint32_t lower, uint32_t far) {
  const uint32_t y = (upper & upper_mask) | (lower & lower_mask);
  return far ^ (y >> 1) ^ ((0U - (y & 1U)) & matrix_a);
}

/// numpy's gen_mask: the smallest 2^k - 1 that is >= max.
uint64_t gen_mask(uint64_t max) {
  uint64_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  return mask;
}

}  // namespace

RandomState::RandomState(uint32_t seed) { this->seed(seed); }

void RandomState::seed(uint32_t seed) {
  // numpy's mt19937_seed, which is MT19937's reference init_genrand.
  for (size_t pos = 0; pos < state_size; ++pos) {
    key_[pos] = seed;
    seed = 1812433253U * (seed ^ (seed >> 30)) + static_cast<uint32_t>(pos + 1);
  }
  pos_ = state_size;
}

void RandomState::twist() {
  size_t i = 0;
  for (; i < state_size - mt_m; ++i) {
    key_[i] = mix(key_[i], key_[i + 1], key_[i + mt_m]);
  }
  for (; i < state_size - 1; ++i) {
    key_[i] = mix(key_[i], key_[i + 1], key_[i + mt_m - state_size]);
  }
  key_[state_size - 1] = mix(key_[state_size - 1], key_[0], key_[mt_m - 1]);
  pos_ = 0;
}

uint32_t RandomState::next_uint32() {
  if (pos_ == state_size) {
    twist();
  }
  uint32_t y = key_[pos_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

uint64_t RandomState::next_uint64() {
  // numpy: `(uint64_t)mt19937_next(state) << 32 | mt19937_next(state)`; its compilers
  // evaluate the left call first, so the first draw is the high word (checked against numpy).
  const uint64_t high = next_uint32();
  const uint64_t low = next_uint32();
  return high << 32 | low;
}

void RandomState::randint_fill(int64_t low, int64_t high, std::span<int64_t> out) {
  if (out.empty()) {
    // numpy returns an empty array for an empty shape before it looks at the bounds.
    return;
  }
  if (low >= high) {
    throw std::invalid_argument("randint: low >= high (low=" + std::to_string(low) +
                                ", high=" + std::to_string(high) + ")");
  }
  // numpy's _rand_int64 -> random_bounded_uint64_fill(off, rng, use_masked=true): the closed
  // range [off, off + rng] with unsigned wrap-around.
  const uint64_t off = static_cast<uint64_t>(low);
  const uint64_t rng = static_cast<uint64_t>(high) - off - 1;
  // Conversions from uint64_t to int64_t are modular (C++20), like numpy's cast.
  const auto store = [off](uint64_t value) { return static_cast<int64_t>(off + value); };

  if (rng == 0) {
    // A one-value range consumes no draws.
    for (auto& x : out) {
      x = low;
    }
  } else if (rng <= 0xFFFFFFFFU) {
    // 32-bit path: one MT output per attempt (the "buffer" is unused for 32-bit values).
    if (rng == 0xFFFFFFFFU) {
      for (auto& x : out) {
        x = store(next_uint32());
      }
      return;
    }
    const auto rng32 = static_cast<uint32_t>(rng);
    const auto mask = static_cast<uint32_t>(gen_mask(rng));
    for (auto& x : out) {
      uint32_t value = 0;
      while ((value = next_uint32() & mask) > rng32) {
      }
      x = store(value);
    }
  } else if (rng == 0xFFFFFFFFFFFFFFFFU) {
    for (auto& x : out) {
      x = store(next_uint64());
    }
  } else {
    const uint64_t mask = gen_mask(rng);
    for (auto& x : out) {
      uint64_t value = 0;
      while ((value = next_uint64() & mask) > rng) {
      }
      x = store(value);
    }
  }
}

std::vector<int64_t> RandomState::randint(int64_t low, int64_t high, size_t count) {
  std::vector<int64_t> out(count);
  randint_fill(low, high, out);
  return out;
}

std::vector<std::vector<int64_t>> RandomState::randint_rows(int64_t low, int64_t high, size_t rows,
                                                            size_t cols) {
  std::vector<std::vector<int64_t>> out(rows, std::vector<int64_t>(cols));
  for (auto& row : out) {
    randint_fill(low, high, row);
  }
  return out;
}

}  // namespace parlab::lab
