#pragma once
/// \file
/// Umbrella header: everything parlab offers.

#include "parlab/aio.hpp"
#include "parlab/async_result.hpp"
#include "parlab/codec.hpp"
#include "parlab/cpu.hpp"
#include "parlab/errors.hpp"
#include "parlab/http.hpp"
#include "parlab/mapreduce.hpp"
#include "parlab/outcome.hpp"
#include "parlab/pool.hpp"
#include "parlab/process_pool.hpp"
#include "parlab/version.hpp"
