/* lossplot.h: a line chart of loss curves as a standalone SVG file.
 *
 * parley train --plot draws the training loss (per logging interval) and
 * the validation loss (per epoch) against the training step.  The SVG is
 * written by hand: axes with "nice" ticks (1, 2, 5 times a power of ten),
 * labels, a legend, one polyline per series. */
#ifndef PARLEY_LOSSPLOT_H
#define PARLEY_LOSSPLOT_H

#include <stdbool.h>
#include <stddef.h>

struct lossplot_point {
        double x;
        double y;
};

struct lossplot_series {
        const char *name;
        const char *color;              /* an SVG colour, e.g. "#1f77b4" */
        const struct lossplot_point *points;
        size_t n;
        bool markers;                   /* a dot at each point */
};

/* Writes the chart to path through a temporary file renamed over it.
 * Non-finite points are left out.  -EINVAL when no series has a finite
 * point, negative errno from the file system. */
int lossplot_write(const char *path, const char *title, const char *x_label,
                   const char *y_label, const struct lossplot_series *series, size_t n_series);

#endif
