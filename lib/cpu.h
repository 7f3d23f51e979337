/* cpu.h: what the processor has, read from the C library's record of it (glibc's
 * <sys/platform/x86.h>, filled once by the dynamic loader) rather than with libgcc's
 * __builtin_cpu_supports or target_clones, whose start-up code asks CPUID again: each CPUID
 * traps to the hypervisor on a virtual machine (8.7 us each measured here), some 90 us of
 * every vz process. Elsewhere (another C library, another processor) the portable code runs. */
#ifndef VZ_CPU_H
#define VZ_CPU_H

#include <limits.h> /* __GLIBC__ */
#include <stdbool.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GLIBC__) && \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <sys/platform/x86.h>
#define VZ_CPU_X86 1
/* feature: glibc's name (SSE2, AVX2, FMA, F16C, AVX512F...); true when usable (the processor
 * has it and the kernel saves its registers) */
#define VZ_CPU_HAS(feature) ((bool)CPU_FEATURE_ACTIVE(feature))
#else
#define VZ_CPU_HAS(feature) false
#endif

/* Defines static `ret name params`, which runs name##_body (a static inline always_inline
 * function of those params) compiled for AVX2 where the processor has it, else compiled for
 * the baseline: what target_clones did, without its start-up CPUID. args: the params' names,
 * in parentheses. */
#ifdef VZ_CPU_X86
#define VZ_CPU_AVX2_OR_BASELINE(ret, name, params, args) \
	__attribute__((target("avx2"))) static ret name##_avx2 params { return name##_body args; } \
	static ret name params { return VZ_CPU_HAS(AVX2) ? name##_avx2 args : name##_body args; }
#else
#define VZ_CPU_AVX2_OR_BASELINE(ret, name, params, args) \
	static ret name params { return name##_body args; }
#endif

#endif
