/*
 * Sextant's nginx front, the hot path of its decision check in C (admin/router/front-conf.ts; issue 30).
 *
 * `sextant_check @miss @other;` in a hot location: an access-phase handler that lets the request on
 * (NGX_DECLINED: proxy_pass) only when this worker's table holds a live entry for (credential, path);
 * a GET/HEAD without one goes to `@miss` (the Lua check, which asks Node); any other method, an
 * Upgrade, or an Accept holding `event-stream` (streams are Node's) to `@other` (Node). The credential is the Authorization value, else the one Cookie header when it holds
 * `dcos-acs-auth-cookie`, else "" (several Cookie headers: `@miss`, Lua joins them); the path is the
 * request target up to `?`. The same values as front-lua.ts's sextant_front.check().
 *
 * Entries are only written by the Lua check after Node allowed the request, through the exported
 * sextant_front_remember() (LuaJIT's ffi.C: nginx loads modules with RTLD_GLOBAL). The table is this
 * worker's (no lock), holds at most SEXTANT_ENTRIES entries and is emptied whole when full.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#define SEXTANT_ENTRIES 10000
#define SEXTANT_BUCKETS 16384 /* a power of two */
#define SEXTANT_MARKER "dcos-acs-auth-cookie"

typedef struct sextant_entry_s sextant_entry_t;
struct sextant_entry_s {
    sextant_entry_t *next;
    uint64_t hash;
    double expiry_ms; /* epoch milliseconds, as Lua's ngx.now() * 1000 */
    size_t clen;
    size_t plen;
    u_char data[]; /* credential then path */
};

typedef struct {
    ngx_str_t miss;
    ngx_str_t other;
} sextant_loc_conf_t;

static sextant_entry_t **buckets; /* this worker's table, allocated at the first entry */
static ngx_pool_t *entries_pool;
static ngx_uint_t entries;
static uint64_t seed;

static ngx_int_t sextant_init(ngx_conf_t *cf);
static void *sextant_create_loc_conf(ngx_conf_t *cf);
static char *sextant_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *sextant_check_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
int sextant_front_remember(const char *cred, size_t clen, const char *path, size_t plen, double expiry_ms);

static ngx_command_t sextant_commands[] = {
    { ngx_string("sextant_check"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE2, sextant_check_directive,
      NGX_HTTP_LOC_CONF_OFFSET, 0, NULL },
    ngx_null_command
};

static ngx_http_module_t sextant_ctx = {
    NULL, sextant_init, NULL, NULL, NULL, NULL, sextant_create_loc_conf, sextant_merge_loc_conf
};

ngx_module_t ngx_http_sextant_check_module = {
    NGX_MODULE_V1, &sextant_ctx, sextant_commands, NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NGX_MODULE_V1_PADDING
};

/* 8 bytes a step, multiply and fold, keyed by the worker's random seed. */
static uint64_t sextant_hash(uint64_t h, const u_char *p, size_t len)
{
    uint64_t w;
    h ^= len * 0x9e3779b97f4a7c15ULL;
    for (; len >= 8; p += 8, len -= 8) {
        ngx_memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    w = 0;
    ngx_memcpy(&w, p, len);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

static sextant_entry_t **sextant_slot(const u_char *cred, size_t clen, const u_char *path, size_t plen, uint64_t *hash)
{
    sextant_entry_t **e;
    /* The credential's first and last 16 bytes (a token's signature ends it) and its length: entries are
     * only what Node allowed, so nobody can fill a bucket with chosen keys; the compare below is whole. */
    uint64_t h = clen <= 32 ? sextant_hash(seed, cred, clen) : sextant_hash(sextant_hash(seed ^ clen, cred, 16), cred + clen - 16, 16);
    h = sextant_hash(h, path, plen);
    *hash = h;
    for (e = &buckets[h & (SEXTANT_BUCKETS - 1)]; *e; e = &(*e)->next) {
        if ((*e)->hash == h && (*e)->clen == clen && (*e)->plen == plen
            && ngx_memcmp((*e)->data, cred, clen) == 0 && ngx_memcmp((*e)->data + clen, path, plen) == 0) {
            break;
        }
    }
    return e;
}

/* Keeps an allowed (credential, path) until expiry_ms; 0 kept, -1 refused (bad path or no memory). */
int sextant_front_remember(const char *cred, size_t clen, const char *path, size_t plen, double expiry_ms)
{
    sextant_entry_t **slot, *e;
    uint64_t h;
    size_t i;

    /* Lua keeps only plain paths; refuse anything that could not be one, whatever the caller. */
    if (plen == 0 || path[0] != '/') return -1;
    for (i = 0; i < plen; i++) {
        u_char c = (u_char) path[i];
        if (c == '?' || c == '%' || c <= ' ' || c >= 0x7f) return -1;
    }
    if (buckets == NULL || entries >= SEXTANT_ENTRIES) {
        if (entries_pool) ngx_destroy_pool(entries_pool); /* emptied whole, as the Lua table */
        buckets = NULL;
        entries = 0;
        entries_pool = ngx_create_pool(64 * 1024, ngx_cycle->log);
        if (entries_pool == NULL) return -1;
        buckets = ngx_pcalloc(entries_pool, SEXTANT_BUCKETS * sizeof(sextant_entry_t *));
        if (buckets == NULL) {
            ngx_destroy_pool(entries_pool);
            entries_pool = NULL;
            return -1;
        }
        if (seed == 0) seed = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random() ^ (uint64_t) ngx_pid;
    }
    slot = sextant_slot((const u_char *) cred, clen, (const u_char *) path, plen, &h);
    if (*slot) {
        (*slot)->expiry_ms = expiry_ms;
        return 0;
    }
    e = ngx_palloc(entries_pool, sizeof(sextant_entry_t) + clen + plen);
    if (e == NULL) return -1;
    e->next = NULL;
    e->hash = h;
    e->expiry_ms = expiry_ms;
    e->clen = clen;
    e->plen = plen;
    ngx_memcpy(e->data, cred, clen);
    ngx_memcpy(e->data + clen, path, plen);
    *slot = e;
    entries++;
    return 0;
}

static ngx_int_t sextant_goto(ngx_http_request_t *r, ngx_str_t *name)
{
    (void) ngx_http_named_location(r, name);
    ngx_http_finalize_request(r, NGX_DONE); /* named_location took a reference */
    return NGX_DONE;
}

static ngx_int_t sextant_access(ngx_http_request_t *r)
{
    sextant_loc_conf_t *lc = ngx_http_get_module_loc_conf(r, ngx_http_sextant_check_module);
    const u_char *cred = (const u_char *) "", *q;
    size_t clen = 0, plen;
    ngx_time_t *tp;
    uint64_t h;
    sextant_entry_t *e;

    if (lc->miss.len == 0) return NGX_DECLINED;
    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return sextant_goto(r, &lc->other);
    if ((r->headers_in.upgrade && r->headers_in.upgrade->value.len)
        || (r->headers_in.accept && ngx_strnstr(r->headers_in.accept->value.data, "event-stream", r->headers_in.accept->value.len))) {
        return sextant_goto(r, &lc->other);
    }
    if (buckets == NULL) return sextant_goto(r, &lc->miss);
    if (r->headers_in.authorization) {
        cred = r->headers_in.authorization->value.data;
        clen = r->headers_in.authorization->value.len;
    } else if (r->headers_in.cookies.nelts > 1) {
        return sextant_goto(r, &lc->miss);
    } else if (r->headers_in.cookies.nelts == 1) {
        ngx_table_elt_t *c = ((ngx_table_elt_t **) r->headers_in.cookies.elts)[0];
        if (ngx_strnstr(c->value.data, SEXTANT_MARKER, c->value.len)) {
            cred = c->value.data;
            clen = c->value.len;
        }
    }
    q = ngx_strlchr(r->unparsed_uri.data, r->unparsed_uri.data + r->unparsed_uri.len, '?');
    plen = q ? (size_t) (q - r->unparsed_uri.data) : r->unparsed_uri.len;
    e = *sextant_slot(cred, clen, r->unparsed_uri.data, plen, &h);
    tp = ngx_timeofday();
    if (e && e->expiry_ms > (double) tp->sec * 1000 + (double) tp->msec) return NGX_DECLINED;
    return sextant_goto(r, &lc->miss);
}

static void *sextant_create_loc_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(sextant_loc_conf_t));
}

static char *sextant_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    sextant_loc_conf_t *prev = parent, *lc = child;
    (void) cf;
    if (lc->miss.len == 0) { /* an `if` block inside a checking location checks too */
        lc->miss = prev->miss;
        lc->other = prev->other;
    }
    return NGX_CONF_OK;
}

static char *sextant_check_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    sextant_loc_conf_t *lc = conf;
    ngx_str_t *v = cf->args->elts;
    (void) cmd;
    if (lc->miss.len) return "is duplicate";
    if (v[1].len < 2 || v[1].data[0] != '@' || v[2].len < 2 || v[2].data[0] != '@') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "sextant_check takes two named locations (@miss @other), not \"%V\" \"%V\"", &v[1], &v[2]);
        return NGX_CONF_ERROR;
    }
    lc->miss = v[1];
    lc->other = v[2];
    return NGX_CONF_OK;
}

static ngx_int_t sextant_init(ngx_conf_t *cf)
{
    ngx_http_core_main_conf_t *cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    ngx_http_handler_pt *h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) return NGX_ERROR;
    *h = sextant_access;
    return NGX_OK;
}
