/* Column-aligned text tables: add rows of strings, print once. */
#ifndef RETINA_TABLE_H
#define RETINA_TABLE_H

#include <stdio.h>

#define TABLE_MAX_COLS 8

struct table {
	int ncols;
	const char *head[TABLE_MAX_COLS];
	char **cells;		/* nrows * ncols, each strdup'd */
	size_t nrows, cap;
};

void table_init(struct table *t, int ncols, const char *const head[]);
/* Copies ncols strings; NULL prints as "-". Returns -1 when out of memory. */
int table_add(struct table *t, const char *const row[]);
/* Header, then rows; two spaces between columns, last column not padded. */
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

#endif
