#include <stdlib.h>
#include <string.h>

#include "lib/table.h"

void table_init(struct table *t, int ncols, const char *const head[])
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols > TABLE_MAX_COLS ? TABLE_MAX_COLS : ncols;
	for (int i = 0; i < t->ncols; i++)
		t->head[i] = head[i];
}

int table_add(struct table *t, const char *const row[])
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **cells = realloc(t->cells, cap * t->ncols * sizeof(*cells));
		if (!cells)
			return -1;
		t->cells = cells;
		t->cap = cap;
	}
	char **dst = t->cells + t->nrows * t->ncols;
	for (int i = 0; i < t->ncols; i++) {
		dst[i] = strdup(row[i] ? row[i] : "-");
		if (!dst[i]) {
			while (i--)
				free(dst[i]);
			return -1;
		}
	}
	t->nrows++;
	return 0;
}

static void print_row(const struct table *t, const char *const cell[], const size_t width[], FILE *out)
{
	int last = t->ncols - 1;

	/* No padding after the last non-empty cell: no trailing blanks. */
	while (last > 0 && !cell[last][0])
		last--;
	for (int i = 0; i < last; i++)
		fprintf(out, "%-*s  ", (int)width[i], cell[i]);
	fprintf(out, "%s\n", cell[last]);
}

void table_print(const struct table *t, FILE *out)
{
	size_t width[TABLE_MAX_COLS];

	for (int i = 0; i < t->ncols; i++)
		width[i] = strlen(t->head[i]);
	for (size_t r = 0; r < t->nrows; r++)
		for (int i = 0; i < t->ncols; i++) {
			size_t n = strlen(t->cells[r * t->ncols + i]);
			if (n > width[i])
				width[i] = n;
		}
	print_row(t, t->head, width, out);
	for (size_t r = 0; r < t->nrows; r++)
		print_row(t, (const char *const *)t->cells + r * t->ncols, width, out);
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
