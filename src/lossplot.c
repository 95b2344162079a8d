/* lossplot.c: loss curves as SVG. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lossplot.h"
#include "macro.h"

#define WIDTH 720.0
#define HEIGHT 440.0
#define LEFT 76.0
#define RIGHT 24.0
#define TOP 44.0
#define BOTTOM 64.0

struct axis {
        double min, max;        /* data range shown */
        double step;            /* between ticks */
};

/* A tick step of 1, 2 or 5 times a power of ten giving about 6 ticks over
 * [min, max], and the range widened to whole steps. */
static void axis_fit(double min, double max, struct axis *a)
{
        double span, raw, magnitude, step;

        if (max - min < 1e-12 * fmax(1.0, fabs(max))) {
                double pad = fabs(max) > 0 ? fabs(max) * 0.05 : 1.0;

                min -= pad;
                max += pad;
        }

        span = max - min;
        raw = span / 6.0;
        magnitude = pow(10.0, floor(log10(raw)));
        step = raw / magnitude < 1.5 ? 1.0 : raw / magnitude < 3.5 ? 2.0 :
               raw / magnitude < 7.5 ? 5.0 : 10.0;
        step *= magnitude;

        a->step = step;
        a->min = floor(min / step) * step;
        a->max = ceil(max / step) * step;
}

static double map_x(const struct axis *a, double x)
{
        return LEFT + (x - a->min) / (a->max - a->min) * (WIDTH - LEFT - RIGHT);
}

static double map_y(const struct axis *a, double y)
{
        return HEIGHT - BOTTOM - (y - a->min) / (a->max - a->min) * (HEIGHT - TOP - BOTTOM);
}

static void text_escaped(FILE *f, const char *s)
{
        for (; *s; s++)
                switch (*s) {
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '&':
                        fputs("&amp;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                default:
                        fputc(*s, f);
                }
}

/* A tick label without trailing zeros: 0.5, 2, 1500, 1e+06. */
static void label_format(char *buf, size_t size, double v, double step)
{
        if (fabs(v) < step * 1e-6)
                v = 0.0;
        snprintf(buf, size, "%.6g", v);
}

static void svg_axes(FILE *f, const struct axis *ax, const struct axis *ay, const char *title,
                     const char *x_label, const char *y_label)
{
        char label[32];

        fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n",
                WIDTH, HEIGHT);

        /* grid and ticks */
        for (double x = ax->min; x <= ax->max + ax->step * 0.5; x += ax->step) {
                double px = map_x(ax, x);

                label_format(label, sizeof(label), x, ax->step);
                fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                        "stroke=\"#e0e0e0\"/>\n", px, TOP, px, HEIGHT - BOTTOM);
                fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%s</text>\n", px,
                        HEIGHT - BOTTOM + 18, label);
        }
        for (double y = ay->min; y <= ay->max + ay->step * 0.5; y += ay->step) {
                double py = map_y(ay, y);

                label_format(label, sizeof(label), y, ay->step);
                fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" "
                        "stroke=\"#e0e0e0\"/>\n", LEFT, py, WIDTH - RIGHT, py);
                fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">%s</text>\n",
                        LEFT - 8, py + 4, label);
        }

        /* the axes themselves */
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>\n",
                LEFT, HEIGHT - BOTTOM, WIDTH - RIGHT, HEIGHT - BOTTOM);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"black\"/>\n",
                LEFT, TOP, LEFT, HEIGHT - BOTTOM);

        fprintf(f, "<text x=\"%.2f\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">",
                WIDTH / 2);
        text_escaped(f, title);
        fprintf(f, "</text>\n<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">",
                (LEFT + WIDTH - RIGHT) / 2, HEIGHT - 18);
        text_escaped(f, x_label);
        fprintf(f, "</text>\n<text x=\"18\" y=\"%.2f\" text-anchor=\"middle\" "
                "transform=\"rotate(-90 18 %.2f)\">", (TOP + HEIGHT - BOTTOM) / 2,
                (TOP + HEIGHT - BOTTOM) / 2);
        text_escaped(f, y_label);
        fprintf(f, "</text>\n");
}

static void svg_series(FILE *f, const struct axis *ax, const struct axis *ay,
                       const struct lossplot_series *s, int index)
{
        double ly = TOP + 16 + 20 * index;

        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                s->color);
        for (size_t i = 0; i < s->n; i++)
                if (isfinite(s->points[i].x) && isfinite(s->points[i].y))
                        fprintf(f, "%.2f,%.2f ", map_x(ax, s->points[i].x),
                                map_y(ay, s->points[i].y));
        fprintf(f, "\"/>\n");

        if (s->markers)
                for (size_t i = 0; i < s->n; i++)
                        if (isfinite(s->points[i].x) && isfinite(s->points[i].y))
                                fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" "
                                        "fill=\"%s\"/>\n", map_x(ax, s->points[i].x),
                                        map_y(ay, s->points[i].y), s->color);

        /* legend entry, top right */
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                "stroke-width=\"2\"/>\n", WIDTH - RIGHT - 150, ly, WIDTH - RIGHT - 126, ly,
                s->color);
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\">", WIDTH - RIGHT - 118, ly + 4);
        text_escaped(f, s->name);
        fprintf(f, "</text>\n");
}

int lossplot_write(const char *path, const char *title, const char *x_label,
                   const char *y_label, const struct lossplot_series *series, size_t n_series)
{
        _cleanup_free_ char *temp = NULL;
        double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
        struct axis ax, ay;
        FILE *f;
        int fd, r = 0;

        for (size_t s = 0; s < n_series; s++)
                for (size_t i = 0; i < series[s].n; i++) {
                        const struct lossplot_point *p = &series[s].points[i];

                        if (!isfinite(p->x) || !isfinite(p->y))
                                continue;
                        xmin = fmin(xmin, p->x);
                        xmax = fmax(xmax, p->x);
                        ymin = fmin(ymin, p->y);
                        ymax = fmax(ymax, p->y);
                }
        if (!isfinite(xmin))
                return -EINVAL;

        axis_fit(xmin, xmax, &ax);
        axis_fit(ymin, ymax, &ay);

        if (asprintf(&temp, "%s.tmp-XXXXXX", path) < 0) {
                temp = NULL;
                return -ENOMEM;
        }
        fd = mkostemp(temp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
                r = -errno;
                close(fd);
                unlink(temp);
                return r;
        }

        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
                WIDTH, HEIGHT, WIDTH, HEIGHT);
        svg_axes(f, &ax, &ay, title, x_label, y_label);
        for (size_t s = 0; s < n_series; s++)
                svg_series(f, &ax, &ay, &series[s], (int)s);
        fprintf(f, "</svg>\n");

        if (fflush(f) != 0 || fsync(fileno(f)) < 0)
                r = -errno;
        if (fclose(f) != 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(temp, path) < 0)
                r = -errno;
        if (r < 0)
                unlink(temp);
        return r;
}
