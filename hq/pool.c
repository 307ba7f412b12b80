/* The server's pool of HQ store handles: an SQLite connection serves one thread at a time, so
 * each worker borrows a handle for one request. Handles are opened on first need and closed
 * when the server stops. */
#include <assert.h>
#include <pthread.h>

#include "hq.h"
#include "hqstore.h"

void hq_pool_init(struct hq_pool *p, const char *home, size_t n)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->home = home;
    p->n = n;
    p->st = xcalloc(n, sizeof *p->st);
    p->busy = xcalloc(n, 1);
}

/* Closes every handle; none may be lent out. */
void hq_pool_release(struct hq_pool *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        assert(!p->busy[i]);
        hqstore_close(p->st[i]);
    }
    x_free(p->st);
    x_free(p->busy);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
}

/* Puts an already open handle into an empty slot; the pool owns it from now on. */
void hq_pool_give(struct hq_pool *p, struct hqstore *s)
{
    size_t i;

    pthread_mutex_lock(&p->mu);
    for (i = 0; i < p->n && p->st[i] != NULL; i++)
        ;
    assert(i < p->n);
    p->st[i] = s;
    pthread_mutex_unlock(&p->mu);
}

/* OUT: *out, a handle for this thread alone until pool_checkin. */
enum mrf_status hq_pool_checkout(struct hq_pool *p, struct hqstore **out, struct mrf_error *err)
{
    enum mrf_status rc;
    struct hqstore *s = NULL;
    size_t i, slot;

    *out = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (i = 0; i < p->n; i++) {
            if (!p->busy[i] && p->st[i] != NULL) {
                p->busy[i] = 1;
                *out = p->st[i];
                pthread_mutex_unlock(&p->mu);
                return MRF_OK;
            }
        }
        for (slot = 0; slot < p->n && p->busy[slot]; slot++)
            ;
        if (slot < p->n)
            break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    p->busy[slot] = 1; /* reserved while we open it outside the lock */
    pthread_mutex_unlock(&p->mu);

    rc = hqstore_open(p->home, HQSTORE_EXISTING, &s, err);
    pthread_mutex_lock(&p->mu);
    if (rc == MRF_OK) {
        p->st[slot] = s;
        *out = s;
    } else {
        p->busy[slot] = 0;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void hq_pool_checkin(struct hq_pool *p, struct hqstore *s)
{
    size_t i;

    pthread_mutex_lock(&p->mu);
    for (i = 0; i < p->n && p->st[i] != s; i++)
        ;
    assert(i < p->n && p->busy[i]);
    p->busy[i] = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
