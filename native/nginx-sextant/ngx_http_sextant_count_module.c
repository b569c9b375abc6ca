/*
 * Sextant's nginx front, its hot routes' request metrics in C instead of an access-log line (issue 30).
 *
 * `sextant_count <route>;` in a location: a log-phase handler adds each request that location ends in
 * to a table in the shared memory zone `sextant_counts` (all workers add to it, atomically): its count
 * by (route, status) and, when it reached an upstream, the upstream's header time into the buckets of
 * `sextant_entry_upstream_seconds` (admin/router/metrics.ts). The same values the log line
 * `route $status $upstream_header_time` gave admin/router/front-log.ts: $status's number, and the
 * first upstream's header time in ms (its response time when it sent no header; nothing when no
 * upstream answered: `-`).
 *
 * `sextant_stats;` in a location: its content, the table as text (admin/router/front-stats.ts reads it):
 *   epoch <n>                               (new zone, new epoch: the counts started again from 0)
 *   c <route> <status> <count>              (one line per status seen)
 *   h <route> <bucket> <count> <sum_ms>     (bucket: its upper bound in seconds, or +Inf; not cumulative)
 * The zone outlives a reload (same name and size): counts never go backwards while nginx runs.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#define SX_ROUTES 8
#define SX_NAME 32 /* a route name's room, its NUL included */
#define SX_CODES 1000
#define SX_LE 16 /* 15 bounds and +Inf */

typedef struct {
    u_char name[SX_NAME]; /* "" when free; written by the master only, at configuration */
    ngx_atomic_t codes[SX_CODES];
    ngx_atomic_t le[SX_LE];
    ngx_atomic_t sum_ms[SX_LE];
} sx_route_t;

typedef struct {
    ngx_atomic_t epoch;
    sx_route_t routes[SX_ROUTES];
} sx_table_t;

typedef struct {
    ngx_shm_zone_t *zone;
    ngx_array_t names; /* ngx_str_t, the routes this configuration counts */
    ngx_uint_t slot[SX_ROUTES]; /* names[i]'s route in the table */
} sx_main_conf_t;

typedef struct {
    ngx_int_t route; /* index in names, -1 when the location does not count */
    ngx_flag_t stats;
} sx_loc_conf_t;

/* The bounds of metrics.ts's buckets in tenths of ms (header times are whole ms), and as printed. */
static const ngx_uint_t sx_bounds[SX_LE - 1] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 300000 };
static const char *sx_le[SX_LE] = { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf" };
static ngx_str_t sx_zone_name = ngx_string("sextant_counts");

static ngx_int_t sx_init(ngx_conf_t *cf);
static void *sx_create_main_conf(ngx_conf_t *cf);
static void *sx_create_loc_conf(ngx_conf_t *cf);
static char *sx_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *sx_count_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *sx_stats_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

static ngx_command_t sx_commands[] = {
    { ngx_string("sextant_count"), NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1, sx_count_directive, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { ngx_string("sextant_stats"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, sx_stats_directive, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL },
    ngx_null_command
};

static ngx_http_module_t sx_ctx = {
    NULL, sx_init, sx_create_main_conf, NULL, NULL, NULL, sx_create_loc_conf, sx_merge_loc_conf
};

ngx_module_t ngx_http_sextant_count_module = {
    NGX_MODULE_V1, &sx_ctx, sx_commands, NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NGX_MODULE_V1_PADDING
};

/* The zone's table: kept from the previous configuration's zone on a reload, else a new one. */
static ngx_int_t sx_zone_init(ngx_shm_zone_t *zone, void *data)
{
    sx_main_conf_t *mcf = zone->data; /* the configuration being loaded, set by sx_zone() */
    ngx_slab_pool_t *sp = (ngx_slab_pool_t *) zone->shm.addr;
    sx_table_t *t;
    ngx_str_t *names = mcf->names.elts;
    ngx_uint_t i, j, free_slot;

    if (data || zone->shm.exists) { /* a reload: the same memory, its table */
        t = sp->data;
    } else {
        t = ngx_slab_calloc(sp, sizeof(sx_table_t));
        if (t == NULL) return NGX_ERROR;
        t->epoch = (ngx_atomic_uint_t) ngx_time() * 1000 + (ngx_atomic_uint_t) (ngx_random() % 1000);
        sp->data = t;
    }
    if (t == NULL) return NGX_ERROR;
    /* Each route its slot by name (a reload keeps the counts of the routes it keeps). */
    for (i = 0; i < mcf->names.nelts; i++) {
        free_slot = SX_ROUTES;
        for (j = 0; j < SX_ROUTES; j++) {
            if (ngx_strcmp(t->routes[j].name, "") == 0) {
                if (free_slot == SX_ROUTES) free_slot = j;
            } else if (ngx_strlen(t->routes[j].name) == names[i].len && ngx_strncmp(t->routes[j].name, names[i].data, names[i].len) == 0) {
                break;
            }
        }
        if (j == SX_ROUTES) {
            if (free_slot == SX_ROUTES) {
                ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0, "sextant_count: the zone \"%V\" has no room for route \"%V\" (%d routes at most)", &sx_zone_name, &names[i], SX_ROUTES);
                return NGX_ERROR;
            }
            j = free_slot;
            ngx_memcpy(t->routes[j].name, names[i].data, names[i].len);
        }
        mcf->slot[i] = j;
    }
    return NGX_OK;
}

/* The configuration's zone, declared at its first use. */
static ngx_int_t sx_zone(ngx_conf_t *cf, sx_main_conf_t *mcf)
{
    size_t size = ngx_align(sizeof(sx_table_t), ngx_pagesize) + 8 * ngx_pagesize;
    if (mcf->zone) return NGX_OK;
    mcf->zone = ngx_shared_memory_add(cf, &sx_zone_name, size, &ngx_http_sextant_count_module);
    if (mcf->zone == NULL) return NGX_ERROR;
    mcf->zone->init = sx_zone_init;
    mcf->zone->data = mcf;
    return NGX_OK;
}

static ngx_int_t sx_log(ngx_http_request_t *r)
{
    sx_loc_conf_t *lc = ngx_http_get_module_loc_conf(r, ngx_http_sextant_count_module);
    sx_main_conf_t *mcf;
    sx_route_t *rt;
    ngx_http_upstream_state_t *st;
    ngx_uint_t status, i;
    ngx_msec_t ms;

    if (lc->route < 0) return NGX_OK;
    mcf = ngx_http_get_module_main_conf(r, ngx_http_sextant_count_module);
    rt = &((sx_table_t *) ((ngx_slab_pool_t *) mcf->zone->shm.addr)->data)->routes[mcf->slot[lc->route]];
    /* As $status. */
    if (r->err_status) status = r->err_status;
    else if (r->headers_out.status) status = r->headers_out.status;
    else if (r->http_version == NGX_HTTP_VERSION_9) status = 9;
    else status = 0;
    (void) ngx_atomic_fetch_add(&rt->codes[status < SX_CODES ? status : 0], 1);
    /* As the first value of $upstream_header_time. */
    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) return NGX_OK;
    st = r->upstream_states->elts;
    if (st->status == 0) return NGX_OK;
    ms = st->header_time != (ngx_msec_t) -1 ? st->header_time : st->response_time;
    if ((ngx_msec_int_t) ms < 0) ms = 0;
    for (i = 0; i < SX_LE - 1 && (uint64_t) ms * 10 > sx_bounds[i]; i++) { /* its bucket */ }
    (void) ngx_atomic_fetch_add(&rt->sum_ms[i], ms);
    (void) ngx_atomic_fetch_add(&rt->le[i], 1);
    return NGX_OK;
}

static ngx_int_t sx_stats(ngx_http_request_t *r)
{
    sx_main_conf_t *mcf = ngx_http_get_module_main_conf(r, ngx_http_sextant_count_module);
    sx_table_t *t = ((ngx_slab_pool_t *) mcf->zone->shm.addr)->data;
    size_t line = sizeof("h   0.0025  \n") + SX_NAME + 2 * NGX_ATOMIC_T_LEN; /* the longest line */
    ngx_buf_t *b;
    ngx_chain_t out;
    ngx_uint_t i, j, used = 0;
    ngx_atomic_uint_t n, s;
    ngx_int_t rc;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) return rc;
    for (i = 0; i < SX_ROUTES; i++) used += t->routes[i].name[0] != '\0';
    b = ngx_create_temp_buf(r->pool, sizeof("epoch \n") + NGX_ATOMIC_T_LEN + used * (SX_CODES + SX_LE) * line);
    if (b == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    b->last = ngx_sprintf(b->last, "epoch %uA\n", t->epoch);
    for (i = 0; i < SX_ROUTES; i++) {
        sx_route_t *rt = &t->routes[i];
        if (rt->name[0] == '\0' || used == 0) continue; /* a route named by a reload since: next time */
        used--;
        for (j = 0; j < SX_CODES; j++) {
            n = rt->codes[j];
            if (n) b->last = ngx_sprintf(b->last, "c %s %03ui %uA\n", rt->name, j, n);
        }
        for (j = 0; j < SX_LE; j++) {
            n = rt->le[j]; /* the count first: the sum is then at least its requests' (sx_log adds it first) */
            ngx_memory_barrier();
            s = rt->sum_ms[j];
            if (n) b->last = ngx_sprintf(b->last, "h %s %s %uA %uA\n", rt->name, sx_le[j], n, s);
        }
    }
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}

static void *sx_create_main_conf(ngx_conf_t *cf)
{
    sx_main_conf_t *mcf = ngx_pcalloc(cf->pool, sizeof(sx_main_conf_t));
    if (mcf == NULL || ngx_array_init(&mcf->names, cf->pool, SX_ROUTES, sizeof(ngx_str_t)) != NGX_OK) return NULL;
    return mcf;
}

static void *sx_create_loc_conf(ngx_conf_t *cf)
{
    sx_loc_conf_t *lc = ngx_pcalloc(cf->pool, sizeof(sx_loc_conf_t));
    if (lc == NULL) return NULL;
    lc->route = NGX_CONF_UNSET;
    lc->stats = NGX_CONF_UNSET;
    return lc;
}

static char *sx_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    sx_loc_conf_t *prev = parent, *lc = child;
    (void) cf;
    ngx_conf_merge_value(lc->route, prev->route, -1); /* an `if` block inside a counting location counts too */
    return NGX_CONF_OK;
}

static char *sx_count_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    sx_loc_conf_t *lc = conf;
    sx_main_conf_t *mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_sextant_count_module);
    ngx_str_t *v = cf->args->elts, *names, *name;
    ngx_uint_t i;
    (void) cmd;
    if (lc->route != NGX_CONF_UNSET) return "is duplicate";
    if (v[1].len == 0 || v[1].len >= SX_NAME) goto bad;
    for (i = 0; i < v[1].len; i++) {
        u_char c = v[1].data[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) goto bad;
    }
    if (sx_zone(cf, mcf) != NGX_OK) return NGX_CONF_ERROR;
    names = mcf->names.elts;
    for (i = 0; i < mcf->names.nelts; i++) {
        if (names[i].len == v[1].len && ngx_strncmp(names[i].data, v[1].data, v[1].len) == 0) break;
    }
    if (i == mcf->names.nelts) {
        if (i == SX_ROUTES) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "sextant_count: at most %d routes, \"%V\" is one more", SX_ROUTES, &v[1]);
            return NGX_CONF_ERROR;
        }
        name = ngx_array_push(&mcf->names);
        if (name == NULL) return NGX_CONF_ERROR;
        *name = v[1];
    }
    lc->route = (ngx_int_t) i;
    return NGX_CONF_OK;
bad:
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "sextant_count takes a route name of 1 to %d characters a-z, 0-9 or _, not \"%V\"", SX_NAME - 1, &v[1]);
    return NGX_CONF_ERROR;
}

static char *sx_stats_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    sx_loc_conf_t *lc = conf;
    ngx_http_core_loc_conf_t *clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    (void) cmd;
    if (lc->stats != NGX_CONF_UNSET) return "is duplicate";
    if (sx_zone(cf, ngx_http_conf_get_module_main_conf(cf, ngx_http_sextant_count_module)) != NGX_OK) return NGX_CONF_ERROR;
    lc->stats = 1;
    clcf->handler = sx_stats;
    return NGX_CONF_OK;
}

static ngx_int_t sx_init(ngx_conf_t *cf)
{
    ngx_http_core_main_conf_t *cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    ngx_http_handler_pt *h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) return NGX_ERROR;
    *h = sx_log;
    return NGX_OK;
}
