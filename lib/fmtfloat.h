/* fmtfloat.h: the float formatting of lib/fmtfloat.c (vz(1) prints scores and vectors with it). */
#ifndef VZ_FMTFLOAT_H
#define VZ_FMTFLOAT_H

#include <stdbool.h>
#include <stddef.h>

#define VZ_FLOAT_CHARS 32 /* room for any float vz_format_float writes, with its NUL */

/* Writes f into buf (size bytes, at least VZ_FLOAT_CHARS for the fast path) as the shortest of
 * printf's %.6g, %.7g, %.8g and %.9g that strtof reads back as f (%.9g always does; nan and
 * inf as printf writes them); returns its length. Cannot fail. */
size_t vz_format_float(char *buf, size_t size, float f);

#endif
