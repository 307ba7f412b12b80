/* Horizontal bar charts as inline SVG, drawn by the program (no chart library, nothing
 * fetched): groups of bars, each group under a label at the left (a post or theme code), each
 * bar with its figures printed at its end, so there is no legend to decode. Colours come from
 * classes in ui/style.css (the Content-Security-Policy allows no inline style); a bar's width
 * is an SVG attribute, not a style. The chart carries a <title> for screen readers; the page
 * shows the same figures in a table beside it. */
#include <stdio.h>

#include "mrfweb.h"

#define CHART_W 1000
#define LABEL_W 96 /* the group labels' column */
#define BARS_W 560 /* the longest bar; its figures follow it */
#define BAR_H 16
#define BAR_STEP 20
#define GROUP_GAP 12

void web_chart_begin(struct web_chart *c, struct buf *b, const char *id, const char *title,
                     int ngroups, int nbars, double max)
{
    int h = ngroups * GROUP_GAP + nbars * BAR_STEP + 4;

    c->b = b;
    c->max = max > 0 ? max : 0;
    c->y = 0;
    web_raw(b, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" id=\"");
    web_esc(b, id);
    web_rawf(b, "\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" aria-labelledby=\"", CHART_W,
             h, CHART_W, h);
    web_esc(b, id);
    web_raw(b, "-title\"><title id=\"");
    web_esc(b, id);
    web_raw(b, "-title\">");
    web_esc(b, title);
    web_raw(b, "</title>\n");
}

void web_chart_bar(struct web_chart *c, const char *group, double value, const char *cls,
                   const char *text, const char *attrs)
{
    double w = c->max > 0 && value > 0 ? value * BARS_W / c->max : 0;
    int wi;

    if (w > BARS_W)
        w = BARS_W;
    wi = (int)(w + 0.5);
    if (value > 0 && wi < 1)
        wi = 1;
    if (group != NULL) {
        c->y += GROUP_GAP;
        web_rawf(c->b, "<text class=\"chart-group\" x=\"0\" y=\"%d\">", c->y + BAR_H - 3);
        web_esc(c->b, group);
        web_raw(c->b, "</text>\n");
    }
    web_raw(c->b, "<rect class=\"");
    web_esc(c->b, cls);
    web_rawf(c->b, "\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"></rect>", LABEL_W, c->y, wi,
             BAR_H);
    web_rawf(c->b, "<text class=\"chart-figure\" x=\"%d\" y=\"%d\"", LABEL_W + wi + 6,
             c->y + BAR_H - 3);
    if (attrs) {
        web_raw(c->b, " ");
        web_raw(c->b, attrs);
    }
    web_raw(c->b, ">");
    web_esc(c->b, text);
    web_raw(c->b, "</text>\n");
    c->y += BAR_STEP;
}

void web_chart_end(struct web_chart *c)
{
    web_raw(c->b, "</svg>\n");
    c->b = NULL;
}
