#pragma once
/// \file
/// Umbrella header: everything in libparlab (Pool, ProcessPool, aio, http, map_reduce, codec and
/// their vocabulary). Not MpiPool: parlab/mpi_pool.hpp needs MPI and the parlab_mpi library
/// (parlab::mpi), so include it yourself.

#include "parlab/aio.hpp"
#include "parlab/aio_pool.hpp"
#include "parlab/aio_sync.hpp"
#include "parlab/aio_tasks.hpp"
#include "parlab/async_result.hpp"
#include "parlab/codec.hpp"
#include "parlab/cpu.hpp"
#include "parlab/errors.hpp"
#include "parlab/futures.hpp"
#include "parlab/http.hpp"
#include "parlab/mapreduce.hpp"
#include "parlab/outcome.hpp"
#include "parlab/pool.hpp"
#include "parlab/process_pool.hpp"
#include "parlab/version.hpp"
