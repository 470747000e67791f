/* Base64 (RFC 4648, standard alphabet) as kubeconfig *-data fields use it. */
#ifndef RETINA_LIB_BASE64_H
#define RETINA_LIB_BASE64_H

#include <stddef.h>

/* Decode s (whitespace ignored, padding optional) into a malloc'd buffer,
 * NUL-terminated for convenience. NULL on bad input. */
unsigned char *base64_decode(const char *s, size_t *len);
/* The same for the n bytes at s, which need not end in NUL. */
unsigned char *base64_decode_n(const char *s, size_t n, size_t *len);
/* Encode into out, which holds BASE64_LEN(len) + 1 bytes; returns the length written (NUL not counted). */
#define BASE64_LEN(n) (((n) + 2) / 3 * 4)
size_t base64_encode_to(char *out, const void *data, size_t len);
/* Encode into a malloc'd NUL-terminated string; NULL when out of memory. */
char *base64_encode(const void *data, size_t len);

#endif
