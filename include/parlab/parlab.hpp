#pragma once
/// \file
/// Umbrella header: everything parlab offers.

#include "parlab/async_result.hpp"
#include "parlab/cpu.hpp"
#include "parlab/errors.hpp"
#include "parlab/pool.hpp"
