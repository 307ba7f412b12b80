/* hqui — `mrf-hq ui`, HQ's dashboard, inside the hq module (not part of its public interface,
 * hq.h). The pages call the functions the commands call (hq_report_build, hq_conflicts_json,
 * hq_conflict_show_json, hq_resolve_check + hq_resolve_commit, hq_device_revoke, hq_allocate)
 * and render the objects the commands' --json output prints; they never write the store any
 * other way. They never load the escrow key: reveal stays a command for the offline machine.
 *
 * struct hqui lives for the whole run. Every page is built on the web server's one handler
 * thread. What a page reads it reads through pg->st, a read-only handle opened for that request
 * in one read transaction (hqui_store), so its several queries see one state while `mrf-hq
 * serve` keeps writing; a change opens a handle and a short write transaction of its own, as
 * the command does, before the page that follows reads. Nothing here holds an identity, a note
 * or a country: the store functions used never read them. */
#ifndef MRF_HQ_UI_H
#define MRF_HQ_UI_H

#include "hq.h"
#include "mrfweb.h"

enum hqui_flash { HQUI_FLASH_NONE, HQUI_FLASH_OK, HQUI_FLASH_WARN };

struct hqui {
    const char *home;
    struct web_server *srv;
    enum hqui_flash flash_kind; /* a notice for the next page after a redirect */
    char flash[512];
};

/* Everything one page needs. */
struct hqui_page {
    struct hqui *ui;
    struct web_request *rq;
    struct web_response *resp;
    struct buf *b;        /* resp->body */
    struct hqstore *st;   /* read-only, in a read transaction; NULL until hqui_store */
    struct hq_config cfg; /* read with st */
    struct mrf_error err; /* the last failure's message (never an identity) */
};

/* ---- the session and routes (hq/ui.c) ------------------------------------------------------ */

/* The web server's handler: guards passed, routes a request to its page. */
void hqui_handle(void *app, struct web_request *rq, struct web_response *resp);
/* Opens pg->st (read-only, one read transaction) and reads pg->cfg, once per request. On
 * failure the message is in pg->err. */
enum mrf_status hqui_store(struct hqui_page *pg);
/* Sets the notice shown on the next page. */
void hqui_flash(struct hqui *ui, enum hqui_flash kind, const char *msg);

/* ---- the frame and shared pieces (hq/ui_layout.c) ------------------------------------------ */

/* The page's head, header, navigation with current marked, the pending notice; hqui_end
 * closes it with the footer and the Quit button. */
void hqui_begin(struct hqui_page *pg, const char *title, const char *current);
void hqui_end(struct hqui_page *pg);
/* A whole page saying what failed. */
void hqui_fail_page(struct hqui_page *pg, int status, const char *title, const char *msg);
/* "2026-04-30 09:12 UTC (3 days ago)" for a Unix time, "never" for 0. */
void hqui_when(struct buf *b, int64_t t);
/* The year asked for in field or query `name` (this year if absent). On a bad year, the
 * parser's message is filed in e under "year" (if e) and this year is used. */
int hqui_year(struct hqui_page *pg, const char *given, struct web_errors *e);
/* The current UTC year. */
int hqui_this_year(void);

/* ---- the pages (hq/ui_<page>.c) ------------------------------------------------------------ */

void hqui_page_overview(struct hqui_page *pg);                    /* GET / */
void hqui_report_csv(struct hqui_page *pg);                       /* GET /report.csv */
void hqui_page_conflicts(struct hqui_page *pg, const char *rest); /* /conflicts[/ID] */
void hqui_page_posts(struct hqui_page *pg);                       /* GET /posts */
void hqui_page_revoke(struct hqui_page *pg, const char *rest);    /* /devices/ID/revoke */
void hqui_page_allocations(struct hqui_page *pg);                 /* GET and POST /allocations */

#endif
