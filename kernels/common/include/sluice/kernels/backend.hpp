#ifndef SLUICE_KERNELS_BACKEND_HPP
#define SLUICE_KERNELS_BACKEND_HPP

// The one place a kernel source learns which Thrust backend it is built for. Include it before
// any Thrust header: THRUST_DEVICE_SYSTEM must be fixed before Thrust reads it.
//   nvcc             CUDA
//   g++ -fopenmp     OMP  (the CMake helper passes it explicitly)
//   g++              CPP  (sequential; used when OpenMP is not found)
// Macro names expand lazily, so THRUST_DEVICE_SYSTEM_* may be named before Thrust defines them.

#if !defined(THRUST_DEVICE_SYSTEM)
#  if defined(__CUDACC__)
#    define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_CUDA
#  elif defined(_OPENMP)
#    define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_OMP
#  else
#    define THRUST_DEVICE_SYSTEM THRUST_DEVICE_SYSTEM_CPP
#  endif
#endif

#include <thrust/execution_policy.h>

// Functors and helpers that run on the host and on the device alike.
#if defined(__CUDACC__)
#  define SLUICE_HD __host__ __device__
#else
#  define SLUICE_HD
#endif

#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
#  if !defined(__CUDACC__)
#    error "THRUST_DEVICE_SYSTEM is CUDA but this translation unit is not compiled by nvcc"
#  endif
#  define SLUICE_KERNELS_BACKEND_NAME "cuda"
#elif THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_OMP
#  if !defined(_OPENMP)
#    error "THRUST_DEVICE_SYSTEM is OMP but OpenMP is off (compile with -fopenmp)"
#  endif
#  define SLUICE_KERNELS_BACKEND_NAME "cpu-omp"
#elif THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CPP
#  define SLUICE_KERNELS_BACKEND_NAME "cpu"
#else
#  error "sluice kernels are built for the CUDA, OMP or CPP Thrust backend only"
#endif

namespace sluice::kernels {

/// The backend this translation unit was compiled for, as the kernels' backend() functions report it.
inline constexpr const char* backend_name = SLUICE_KERNELS_BACKEND_NAME;

} // namespace sluice::kernels

#endif // SLUICE_KERNELS_BACKEND_HPP
