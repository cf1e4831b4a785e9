/* Test arrays for dgampi's C tests: deterministic element patterns per dtype,
 * descriptors, and element-wise comparison that reports the first difference.
 * Element i of the pattern with seed s is a function of (dtype, i, s) only, so
 * every rank can compute what any other rank sent. */
#ifndef DGAMPI_C_TESTS_ARRAYS_H
#define DGAMPI_C_TESTS_ARRAYS_H

#include "check.h"
#include <stdint.h>

static const int32_t ALL_DTYPES[] = {DGAMPI_DTYPE_F32, DGAMPI_DTYPE_F64, DGAMPI_DTYPE_COMPLEX64,
                                     DGAMPI_DTYPE_COMPLEX128, DGAMPI_DTYPE_I32, DGAMPI_DTYPE_I64,
                                     DGAMPI_DTYPE_U8};
#define N_DTYPES ((int)(sizeof ALL_DTYPES / sizeof ALL_DTYPES[0]))

static size_t dtype_size(int32_t dtype) {
    switch (dtype) {
    case DGAMPI_DTYPE_F32: return 4;
    case DGAMPI_DTYPE_F64: return 8;
    case DGAMPI_DTYPE_COMPLEX64: return 8;
    case DGAMPI_DTYPE_COMPLEX128: return 16;
    case DGAMPI_DTYPE_I32: return 4;
    case DGAMPI_DTYPE_I64: return 8;
    case DGAMPI_DTYPE_U8: return 1;
    default: return 0;
    }
}

static const char *dtype_name(int32_t dtype) {
    switch (dtype) {
    case DGAMPI_DTYPE_F32: return "f32";
    case DGAMPI_DTYPE_F64: return "f64";
    case DGAMPI_DTYPE_COMPLEX64: return "complex64";
    case DGAMPI_DTYPE_COMPLEX128: return "complex128";
    case DGAMPI_DTYPE_I32: return "i32";
    case DGAMPI_DTYPE_I64: return "i64";
    case DGAMPI_DTYPE_U8: return "u8";
    default: return "?";
    }
}

/* Writes element i of pattern `seed` at p (dtype_size(dtype) bytes). All
 * values are exactly representable, so comparisons are bitwise. */
static void pattern_elem(int32_t dtype, size_t i, int seed, void *p) {
    double s = (double)seed;
    double x = (double)i;
    switch (dtype) {
    case DGAMPI_DTYPE_F32: { float v = (float)(s * 1000.0 + x + 0.5); memcpy(p, &v, 4); break; }
    case DGAMPI_DTYPE_F64: { double v = s * 1e6 + x * 0.25 + 0.125; memcpy(p, &v, 8); break; }
    case DGAMPI_DTYPE_COMPLEX64: { float v[2] = {(float)(s * 100.0 + x), (float)(-(x + 0.5))}; memcpy(p, v, 8); break; }
    case DGAMPI_DTYPE_COMPLEX128: { double v[2] = {s * 1e6 + x + 0.25, s - x * 0.5}; memcpy(p, v, 16); break; }
    case DGAMPI_DTYPE_I32: { int32_t v = (int32_t)(seed * 100000 - (int32_t)i * 7 - 3); memcpy(p, &v, 4); break; }
    case DGAMPI_DTYPE_I64: { int64_t v = (int64_t)seed * ((int64_t)1 << 40) + (int64_t)i * 3 + 1; memcpy(p, &v, 8); break; }
    case DGAMPI_DTYPE_U8: { uint8_t v = (uint8_t)((seed * 31 + (int)i * 7 + 1) & 0xff); memcpy(p, &v, 1); break; }
    default: break;
    }
}

static size_t shape_count(int ndim, const int64_t *shape) {
    size_t n = 1;
    for (int k = 0; k < ndim; k++) n *= (size_t)shape[k];
    return n;
}

/* A new C-contiguous buffer of n elements holding pattern `seed` (at least 1 byte allocated). */
static void *pattern_new(int32_t dtype, size_t n, int seed) {
    size_t es = dtype_size(dtype);
    unsigned char *buf = malloc(n * es + 1);
    for (size_t i = 0; i < n; i++) pattern_elem(dtype, i, seed, buf + i * es);
    return buf;
}

/* A new zero-filled buffer of n elements (at least 1 byte allocated). */
static void *zeros_new(int32_t dtype, size_t n) {
    return calloc(n * dtype_size(dtype) + 1, 1);
}

static void format_elem(int32_t dtype, const void *p, char *out, size_t len) {
    switch (dtype) {
    case DGAMPI_DTYPE_F32: { float v; memcpy(&v, p, 4); snprintf(out, len, "%.9g", v); break; }
    case DGAMPI_DTYPE_F64: { double v; memcpy(&v, p, 8); snprintf(out, len, "%.17g", v); break; }
    case DGAMPI_DTYPE_COMPLEX64: { float v[2]; memcpy(v, p, 8); snprintf(out, len, "(%.9g,%.9g)", v[0], v[1]); break; }
    case DGAMPI_DTYPE_COMPLEX128: { double v[2]; memcpy(v, p, 16); snprintf(out, len, "(%.17g,%.17g)", v[0], v[1]); break; }
    case DGAMPI_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); snprintf(out, len, "%d", (int)v); break; }
    case DGAMPI_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); snprintf(out, len, "%lld", (long long)v); break; }
    case DGAMPI_DTYPE_U8: { uint8_t v; memcpy(&v, p, 1); snprintf(out, len, "%u", (unsigned)v); break; }
    default: snprintf(out, len, "?"); break;
    }
}

/* Checks that the contiguous buffer `got` (n elements) holds elements
 * start .. start+n of pattern `seed` (a slice of a larger pattern array);
 * reports the first differing element and the number of differences. */
#define CHECK_PATTERN_RANGE(dtype, got, start, n, seed, what) \
    check_pattern_range_at(__FILE__, __LINE__, (dtype), (got), (start), (n), (seed), (what))
static int check_pattern_range_at(const char *file, int line, int32_t dtype, const void *got, size_t start, size_t n,
                                  int seed, const char *what) {
    size_t es = dtype_size(dtype), bad = 0, first = 0;
    unsigned char want[16];
    for (size_t i = 0; i < n; i++) {
        pattern_elem(dtype, start + i, seed, want);
        if (memcmp((const unsigned char *)got + i * es, want, es) != 0) {
            if (bad == 0) first = i;
            bad++;
        }
    }
    if (bad) {
        char g[96], w[96];
        pattern_elem(dtype, start + first, seed, want);
        format_elem(dtype, (const unsigned char *)got + first * es, g, sizeof g);
        format_elem(dtype, want, w, sizeof w);
        check_fail(file, line, "%s (%s, %zu elements from %zu, pattern of rank %d): %zu element(s) differ; first at %zu: got %s, expected %s",
                   what, dtype_name(dtype), n, start, seed, bad, first, g, w);
    }
    return bad == 0;
}

/* Checks that the contiguous buffer `got` (n elements) holds pattern `seed`. */
#define CHECK_PATTERN(dtype, got, n, seed, what) \
    check_pattern_range_at(__FILE__, __LINE__, (dtype), (got), 0, (n), (seed), (what))

/* A new C-contiguous buffer holding elements start .. start+n of pattern `seed`. */
static void *pattern_range_new(int32_t dtype, size_t start, size_t n, int seed) {
    size_t es = dtype_size(dtype);
    unsigned char *buf = malloc(n * es + 1);
    for (size_t i = 0; i < n; i++) pattern_elem(dtype, start + i, seed, buf + i * es);
    return buf;
}

static dgampi_array make_array(void *data, int32_t dtype, int32_t ndim, const int64_t *shape, const int64_t *strides) {
    dgampi_array a;
    a.data = data;
    a.dtype = dtype;
    a.ndim = ndim;
    a.shape = shape;
    a.strides = strides;
    return a;
}

#endif
