/*
 * loadgen: a lean WebSocket load generator for bench/ (one thread, epoll, raw TCP).
 *
 * It opens N client sockets to one server (spread over several 127.0.0.x source addresses,
 * bound before connect), upgrades them to WebSocket, sends one configurable "auth" text frame per
 * socket (a template with %KEY% replaced by a line of --keys), and from then on counts every
 * frame. Events are recognised by a marker (default "bt_") followed by the decimal send time in
 * epoch microseconds, written by the publisher; publish-to-receive latency is taken from it.
 * The protocol is generic on purpose: the same binary drives the gateway (JSON auth), Pusher
 * (subscribe after connection_established), nats-server's WebSocket listener (NATS protocol) and
 * Centrifugo (JSON protocol v2: a connect command carrying a JWT; its application-level pings,
 * an empty JSON object `{}` alone on a line of a text frame, answered with the same, --app-ping).
 *
 * Control: one command per line on stdin, one JSON object per line on stdout.
 *   mark       -> {"kind":"mark",...} counters since the previous mark (then reset)
 *   count      -> {"kind":"count","events":E,"frames":F} cumulative, cheap (for drain polling)
 *   reconnect  -> closes every socket at once, reconnects them all, then {"kind":"ready",...}
 *   quit / EOF -> {"kind":"final",...} and exit 0
 * After the first connect wave it prints {"kind":"ready",...}. It always stops by itself after
 * --max-seconds.
 *
 * Every outgoing frame is masked (RFC 6455 5.3). Server frames are unmasked; pings are answered.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { S_IDLE, S_CONNECTING, S_HANDSHAKE, S_AUTH, S_READY, S_DEAD };

typedef struct {
  int fd;
  uint8_t state;
  uint8_t got_first;
  uint8_t tail_len;
  uint8_t tail[40];
  uint32_t idx;
  char *in;
  uint32_t in_len, in_cap;
  char *out;
  uint32_t out_len;
  double t_start;
} conn_t;

#define NBUCKETS 2400
typedef struct {
  uint64_t frames, bytes, events, sampled, bad_ts;
  uint64_t hist[NBUCKETS];
  uint64_t max_us;
  uint64_t type_count[33];
} stats_t;

/* ---- options ---- */
static const char *o_host = "127.0.0.1";
static int o_port = 0;
static const char *o_path = "/ws";
static int o_n = 100;
static int o_src_base = 2, o_src_count = 8;
static char *o_auth = NULL;
static const char *o_keys = NULL;
static int o_key_offset = 0;
static int o_auth_after_first = 0;
static const char *o_ready = "auth_ok";
static const char *o_fail = "auth_error";
static const char *o_marker = "bt_";
static const char *o_type_key = "\"type\":\"";
static int o_sample = 1;
static int o_conc = 256;
static double o_max_seconds = 120;
static double o_auth_timeout = 15;
static int o_binary = 0;
static const char *o_label = "";
static const char *o_app_ping = NULL; /* a line of a text frame that is a ping, answered with itself */

/* ---- state ---- */
static conn_t *conns;
static char **keys;
static int nkeys;
static int ep;
static char *gbuf;
#define GBUF_SIZE (4u << 20)
static stats_t cur, tot;
static char type_names[32][32];
static int ntypes;
static uint64_t e_connect, e_upgrade, e_auth, e_timeout, e_closed_ready, e_closed_early, e_proto, e_resets;
static uint64_t n_app_pings;
static uint64_t n_ready, n_failed, n_inflight, next_to_start;
static uint64_t close_codes[8][2];
static int nclose_codes;
static double wave_start, t0;
static int wave_reported = 0, wave_kind_reconnect = 0;
static size_t marker_len;
static uint32_t sample_tick;
static struct sockaddr_in dst;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
static uint64_t now_wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + ts.tv_nsec / 1000;
}

static int bucket_of(uint64_t v) {
  if (v < 128) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - 6;
  int idx = shift * 64 + (int)(v >> shift);
  return idx >= NBUCKETS ? NBUCKETS - 1 : idx;
}
static uint64_t bucket_low(int idx) {
  if (idx < 128) return (uint64_t)idx;
  int shift = idx / 64 - 1;
  return (uint64_t)(idx - shift * 64) << shift;
}
static uint64_t bucket_mid(int idx) {
  if (idx < 128) return (uint64_t)idx;
  int shift = idx / 64 - 1;
  return bucket_low(idx) + ((1ull << shift) >> 1);
}

static void record_latency(stats_t *s, uint64_t us) {
  s->hist[bucket_of(us)]++;
  if (us > s->max_us) s->max_us = us;
  s->sampled++;
}

static void add_stats(stats_t *a, const stats_t *b) {
  a->frames += b->frames; a->bytes += b->bytes; a->events += b->events;
  a->sampled += b->sampled; a->bad_ts += b->bad_ts;
  for (int i = 0; i < NBUCKETS; i++) a->hist[i] += b->hist[i];
  if (b->max_us > a->max_us) a->max_us = b->max_us;
  for (int i = 0; i < 33; i++) a->type_count[i] += b->type_count[i];
}

static uint64_t percentile(const stats_t *s, double p) {
  if (!s->sampled) return 0;
  uint64_t want = (uint64_t)(p * s->sampled + 0.999999);
  if (want < 1) want = 1;
  uint64_t acc = 0;
  for (int i = 0; i < NBUCKETS; i++) {
    acc += s->hist[i];
    if (acc >= want) { uint64_t m = bucket_mid(i); return m > s->max_us ? s->max_us : m; }
  }
  return s->max_us;
}

static void print_stats(const char *kind, const stats_t *s, double secs) {
  printf("{\"kind\":\"%s\",\"label\":\"%s\",\"secs\":%.3f,\"frames\":%llu,\"bytes\":%llu,\"events\":%llu,"
         "\"sampled\":%llu,\"bad_ts\":%llu,",
         kind, o_label, secs, (unsigned long long)s->frames, (unsigned long long)s->bytes,
         (unsigned long long)s->events, (unsigned long long)s->sampled, (unsigned long long)s->bad_ts);
  printf("\"latency_us\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu},",
         (unsigned long long)percentile(s, 0.5), (unsigned long long)percentile(s, 0.9),
         (unsigned long long)percentile(s, 0.99), (unsigned long long)percentile(s, 0.999),
         (unsigned long long)s->max_us);
  printf("\"types\":{");
  int first = 1;
  for (int i = 0; i < ntypes; i++) {
    if (!s->type_count[i]) continue;
    printf("%s\"%s\":%llu", first ? "" : ",", type_names[i], (unsigned long long)s->type_count[i]);
    first = 0;
  }
  if (s->type_count[32]) printf("%s\"(other)\":%llu", first ? "" : ",", (unsigned long long)s->type_count[32]);
  printf("},\"hist\":[");
  first = 1;
  for (int i = 0; i < NBUCKETS; i++) {
    if (!s->hist[i]) continue;
    printf("%s[%llu,%llu]", first ? "" : ",", (unsigned long long)bucket_low(i), (unsigned long long)s->hist[i]);
    first = 0;
  }
  printf("],\"ready\":%llu,\"failed\":%llu,\"errors\":{\"connect\":%llu,\"upgrade\":%llu,\"auth\":%llu,"
         "\"timeout\":%llu,\"closed_after_ready\":%llu,\"closed_before_ready\":%llu,\"protocol\":%llu,\"reset\":%llu},"
         "\"app_pings\":%llu,",
         (unsigned long long)n_ready, (unsigned long long)n_failed, (unsigned long long)e_connect,
         (unsigned long long)e_upgrade, (unsigned long long)e_auth, (unsigned long long)e_timeout,
         (unsigned long long)e_closed_ready, (unsigned long long)e_closed_early, (unsigned long long)e_proto,
         (unsigned long long)e_resets, (unsigned long long)n_app_pings);
  printf("\"close_codes\":{");
  for (int i = 0; i < nclose_codes; i++)
    printf("%s\"%llu\":%llu", i ? "," : "", (unsigned long long)close_codes[i][0], (unsigned long long)close_codes[i][1]);
  printf("}}\n");
  fflush(stdout);
}

static void note_close_code(uint64_t code) {
  for (int i = 0; i < nclose_codes; i++)
    if (close_codes[i][0] == code) { close_codes[i][1]++; return; }
  if (nclose_codes < 8) { close_codes[nclose_codes][0] = code; close_codes[nclose_codes][1] = 1; nclose_codes++; }
}

/* ---- sockets ---- */
static void conn_close(conn_t *c, int failed_kind);
static void start_next(void);

static void ep_mod(conn_t *c, uint32_t evs) {
  struct epoll_event e = {.events = evs, .data.u32 = c->idx};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

static int flush_out(conn_t *c) {
  while (c->out_len) {
    ssize_t w = write(c->fd, c->out, c->out_len);
    if (w < 0) {
      if (errno == EAGAIN) { ep_mod(c, EPOLLIN | EPOLLOUT); return 0; }
      return -1;
    }
    memmove(c->out, c->out + w, c->out_len - w);
    c->out_len -= (uint32_t)w;
  }
  ep_mod(c, EPOLLIN);
  return 0;
}

static int queue_bytes(conn_t *c, const void *p, size_t n) {
  c->out = realloc(c->out, c->out_len + n);
  memcpy(c->out + c->out_len, p, n);
  c->out_len += (uint32_t)n;
  return flush_out(c);
}

static int send_frame(conn_t *c, int opcode, const char *p, size_t n) {
  uint8_t hdr[14];
  size_t h = 0;
  hdr[h++] = 0x80 | (uint8_t)opcode;
  if (n < 126) hdr[h++] = 0x80 | (uint8_t)n;
  else if (n < 65536) { hdr[h++] = 0x80 | 126; hdr[h++] = (uint8_t)(n >> 8); hdr[h++] = (uint8_t)n; }
  else { hdr[h++] = 0x80 | 127; for (int i = 7; i >= 0; i--) hdr[h++] = (uint8_t)((uint64_t)n >> (8 * i)); }
  uint32_t r = (uint32_t)rand();
  uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24) | 1};
  memcpy(hdr + h, mask, 4); h += 4;
  char *buf = malloc(h + n);
  memcpy(buf, hdr, h);
  for (size_t i = 0; i < n; i++) buf[h + i] = p[i] ^ mask[i & 3];
  int rc = queue_bytes(c, buf, h + n);
  free(buf);
  return rc;
}

/* A keys-file line is KEY, or KEY<TAB>TAIL: %KEY% takes the key, %TAIL% the rest of the line
 * (empty without a tab), e.g. a per-socket filter for the gateway's auth message. */
static int send_auth(conn_t *c) {
  if (!o_auth || !*o_auth) return 0;
  const char *key = nkeys ? keys[((uint64_t)o_key_offset + c->idx) % nkeys] : "";
  const char *tab = strchr(key, '\t');
  const char *tail = tab ? tab + 1 : "";
  size_t kl = tab ? (size_t)(tab - key) : strlen(key), tl = strlen(tail), al = strlen(o_auth);
  char *msg = malloc(al + 8 * (kl + 1) + 8 * (tl + 1) + 1);
  size_t m = 0;
  for (size_t i = 0; i < al;) {
    if (!strncmp(o_auth + i, "%KEY%", 5)) { memcpy(msg + m, key, kl); m += kl; i += 5; }
    else if (!strncmp(o_auth + i, "%TAIL%", 6)) { memcpy(msg + m, tail, tl); m += tl; i += 6; }
    else msg[m++] = o_auth[i++];
  }
  int rc = send_frame(c, o_binary ? 2 : 1, msg, m);
  free(msg);
  return rc;
}

static void mark_ready(conn_t *c) {
  c->state = S_READY;
  n_ready++;
  n_inflight--;
  start_next();
}

static void maybe_report_wave(void) {
  if (wave_reported || n_ready + n_failed < (uint64_t)o_n) return;
  wave_reported = 1;
  double ms = (now_s() - wave_start) * 1000;
  printf("{\"kind\":\"ready\",\"label\":\"%s\",\"reconnect\":%s,\"sockets\":%d,\"ready\":%llu,\"failed\":%llu,"
         "\"ms\":%.1f,\"rate\":%.1f,\"errors\":{\"connect\":%llu,\"upgrade\":%llu,\"auth\":%llu,\"timeout\":%llu,"
         "\"closed_before_ready\":%llu,\"protocol\":%llu}}\n",
         o_label, wave_kind_reconnect ? "true" : "false", o_n, (unsigned long long)n_ready,
         (unsigned long long)n_failed, ms, ms > 0 ? n_ready / (ms / 1000) : 0, (unsigned long long)e_connect,
         (unsigned long long)e_upgrade, (unsigned long long)e_auth, (unsigned long long)e_timeout,
         (unsigned long long)e_closed_early, (unsigned long long)e_proto);
  fflush(stdout);
}

/* failed_kind: 0 = orderly (by us), otherwise a pointer-free code that was already counted */
static void conn_close(conn_t *c, int failed) {
  if (c->fd >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  int was = c->state;
  c->fd = -1;
  free(c->in); c->in = NULL; c->in_len = c->in_cap = 0;
  free(c->out); c->out = NULL; c->out_len = 0;
  c->tail_len = 0;
  c->state = S_DEAD;
  if (failed && was != S_READY && was != S_DEAD && was != S_IDLE) {
    n_failed++;
    n_inflight--;
    start_next();
  } else if (failed && was == S_READY) {
    e_closed_ready++;
  }
  maybe_report_wave();
}

static void conn_start(conn_t *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) { e_connect++; c->state = S_CONNECTING; n_inflight++; conn_close(c, 1); return; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET};
  src.sin_addr.s_addr = htonl((127u << 24) | (uint32_t)(o_src_base + (int)(c->idx % (uint32_t)o_src_count)));
  c->fd = fd;
  c->state = S_CONNECTING;
  c->got_first = 0;
  c->t_start = now_s();
  n_inflight++;
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) { e_connect++; conn_close(c, 1); return; }
  int rc = connect(fd, (struct sockaddr *)&dst, sizeof dst);
  if (rc < 0 && errno != EINPROGRESS) { e_connect++; conn_close(c, 1); return; }
  struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data.u32 = c->idx};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static void start_next(void) {
  while (n_inflight < (uint64_t)o_conc && next_to_start < (uint64_t)o_n) {
    conn_start(&conns[next_to_start++]);
  }
}

static void on_connected(conn_t *c) {
  int err = 0;
  socklen_t l = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
  if (err) { e_connect++; conn_close(c, 1); return; }
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   o_path, o_host, o_port);
  c->state = S_HANDSHAKE;
  if (queue_bytes(c, req, (size_t)n) < 0) { e_connect++; conn_close(c, 1); }
}

static int classify_type(const char *p, size_t n) {
  size_t kl = strlen(o_type_key);
  if (!kl) return 32;
  const char *k = memmem(p, n, o_type_key, kl);
  if (!k) return 32;
  const char *v = k + kl, *end = p + n;
  size_t vl = 0;
  while (v + vl < end && v[vl] != '"' && v[vl] != '\\' && vl < 31) vl++;
  for (int i = 0; i < ntypes; i++)
    if (strlen(type_names[i]) == vl && !memcmp(type_names[i], v, vl)) return i;
  if (ntypes < 32) {
    memcpy(type_names[ntypes], v, vl);
    type_names[ntypes][vl] = 0;
    for (size_t i = 0; i < vl; i++)
      if (type_names[ntypes][i] < 0x20 || type_names[ntypes][i] == '"' || type_names[ntypes][i] == '\\') type_names[ntypes][i] = '?';
    return ntypes++;
  }
  return 32;
}

/* A marker at p (inside [base, end)): count it, maybe parse its timestamp. */
static void on_marker(const char *p, const char *end, uint64_t now_us) {
  cur.events++;
  if (++sample_tick < (uint32_t)o_sample) return;
  sample_tick = 0;
  const char *d = p + marker_len;
  uint64_t ts = 0;
  int nd = 0;
  while (d < end && *d >= '0' && *d <= '9' && nd < 19) { ts = ts * 10 + (uint64_t)(*d - '0'); d++; nd++; }
  if (d >= end || nd < 13) { cur.bad_ts++; return; } /* digits cut at a frame edge: no sample */
  record_latency(&cur, now_us > ts ? now_us - ts : 0);
}

static void scan_events(conn_t *c, const char *p, size_t n, uint64_t now_us) {
  /* markers that straddle the previous frame of this socket (stream protocols such as NATS) */
  if (c->tail_len) {
    char tmp[96];
    size_t take = n < 48 ? n : 48;
    memcpy(tmp, c->tail, c->tail_len);
    memcpy(tmp + c->tail_len, p, take);
    size_t tl = c->tail_len + take;
    for (size_t i = 0; i < c->tail_len; i++)
      if (i + marker_len <= tl && !memcmp(tmp + i, o_marker, marker_len)) on_marker(tmp + i, tmp + tl, now_us);
  }
  const char *q = p, *end = p + n;
  while (q < end) {
    const char *m = memmem(q, (size_t)(end - q), o_marker, marker_len);
    if (!m) break;
    on_marker(m, end, now_us);
    q = m + marker_len;
  }
  size_t keep = marker_len - 1;
  if (keep > sizeof c->tail) keep = sizeof c->tail;
  if (keep > n) keep = n; /* tiny frames: simply restart the straddle window */
  memcpy(c->tail, end - keep, keep);
  c->tail_len = (uint8_t)keep;
}

/* An application-level ping (--app-ping): a text frame one of whose newline-separated lines is
 * exactly the ping text (Centrifugo batches several replies and pushes in one frame, one a line).
 * Answered with one frame holding the same text. */
static int is_app_ping(const char *p, size_t n) {
  size_t pl = strlen(o_app_ping);
  for (size_t i = 0; i < n;) {
    const char *nl = memchr(p + i, '\n', n - i);
    size_t ll = nl ? (size_t)(nl - (p + i)) : n - i;
    if (ll == pl && !memcmp(p + i, o_app_ping, pl)) return 1;
    i += ll + 1;
  }
  return 0;
}

/* returns bytes consumed, or -1 when the socket was closed */
static long process_frames(conn_t *c, char *p, size_t n, uint64_t now_us) {
  size_t off = 0;
  while (n - off >= 2) {
    uint8_t b0 = (uint8_t)p[off], b1 = (uint8_t)p[off + 1];
    int op = b0 & 0x0f;
    uint64_t len = b1 & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (n - off < 4) break;
      len = ((uint8_t)p[off + 2] << 8) | (uint8_t)p[off + 3];
      h = 4;
    } else if (len == 127) {
      if (n - off < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = (len << 8) | (uint8_t)p[off + 2 + i];
      h = 10;
    }
    int masked = b1 & 0x80;
    if (masked) h += 4;
    if (len > GBUF_SIZE / 2) { e_proto++; conn_close(c, 1); return -1; }
    if (n - off < h + len) break;
    char *pl = p + off + h;
    if (masked) {
      uint8_t *mk = (uint8_t *)p + off + h - 4;
      for (uint64_t i = 0; i < len; i++) pl[i] ^= mk[i & 3];
    }
    off += h + len;
    if (op == 0x8) {
      uint64_t code = len >= 2 ? (((uint8_t)pl[0] << 8) | (uint8_t)pl[1]) : 1005;
      note_close_code(code);
      if (c->state != S_READY) e_closed_early++;
      conn_close(c, 1);
      return -1;
    } else if (op == 0x9) {
      if (send_frame(c, 0xA, pl, (size_t)len) < 0) { e_resets++; conn_close(c, 1); return -1; }
      continue;
    } else if (op == 0xA) {
      continue;
    }
    if (o_app_ping && op == 0x1 && is_app_ping(pl, (size_t)len)) {
      n_app_pings++;
      if (send_frame(c, 0x1, o_app_ping, strlen(o_app_ping)) < 0) { e_resets++; conn_close(c, 1); return -1; }
      if ((size_t)len == strlen(o_app_ping)) continue; /* a ping alone is not counted as a frame */
    }
    cur.frames++;
    cur.bytes += len;
    if (b0 & 0x80 || op != 0) cur.type_count[classify_type(pl, (size_t)len)]++;
    if (c->state == S_AUTH) {
      if (!c->got_first) {
        c->got_first = 1;
        if (o_auth_after_first && send_auth(c) < 0) { e_resets++; conn_close(c, 1); return -1; }
      }
      if (*o_fail && memmem(pl, (size_t)len, o_fail, strlen(o_fail))) { e_auth++; conn_close(c, 1); return -1; }
      if (*o_ready && memmem(pl, (size_t)len, o_ready, strlen(o_ready))) mark_ready(c);
    }
    scan_events(c, pl, (size_t)len, now_us);
  }
  return (long)off;
}

static void on_readable(conn_t *c) {
  size_t have = c->in_len;
  if (have) memcpy(gbuf, c->in, have);
  ssize_t r = read(c->fd, gbuf + have, GBUF_SIZE - have);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
    if (c->state == S_READY) { conn_close(c, 1); return; }
    if (c->state == S_HANDSHAKE) e_upgrade++;
    else if (c->state == S_CONNECTING) e_connect++;
    else { e_closed_early++; }
    conn_close(c, 1);
    return;
  }
  if (r < 0) return;
  size_t n = have + (size_t)r;
  char *p = gbuf;
  if (c->state == S_HANDSHAKE) {
    char *e = memmem(p, n, "\r\n\r\n", 4);
    if (!e) {
      if (n > 8192) { e_upgrade++; conn_close(c, 1); return; }
      c->in = realloc(c->in, n); memcpy(c->in, p, n); c->in_len = (uint32_t)n; c->in_cap = (uint32_t)n;
      return;
    }
    if (n < 12 || memcmp(p + 9, "101", 3)) { e_upgrade++; conn_close(c, 1); return; }
    size_t hl = (size_t)(e + 4 - p);
    p += hl; n -= hl;
    c->state = S_AUTH;
    if (!o_auth_after_first) {
      if (send_auth(c) < 0) { e_resets++; conn_close(c, 1); return; }
      if (!*o_ready) mark_ready(c);
    }
  }
  long used = process_frames(c, p, n, now_wall_us());
  if (used < 0) return;
  size_t left = n - (size_t)used;
  if (left) {
    if (c->in_cap < left) { c->in = realloc(c->in, left); c->in_cap = (uint32_t)left; }
    memmove(c->in, p + used, left);
  }
  c->in_len = (uint32_t)left;
  if (!left && c->in_cap > 65536) { free(c->in); c->in = NULL; c->in_cap = 0; }
}

static void begin_wave(int reconnect) {
  wave_start = now_s();
  wave_reported = 0;
  wave_kind_reconnect = reconnect;
  n_ready = n_failed = n_inflight = next_to_start = 0;
  e_connect = e_upgrade = e_auth = e_timeout = e_closed_early = e_proto = e_resets = 0;
  start_next();
}

static void check_timeouts(void) {
  double t = now_s();
  for (int i = 0; i < o_n; i++) {
    conn_t *c = &conns[i];
    if (c->state >= S_CONNECTING && c->state <= S_AUTH && t - c->t_start > o_auth_timeout) {
      e_timeout++;
      conn_close(c, 1);
    }
  }
}

static char cmdbuf[4096];
static size_t cmdlen;
static int handle_stdin(void) {
  ssize_t r = read(0, cmdbuf + cmdlen, sizeof cmdbuf - cmdlen - 1);
  if (r == 0) return 1;
  if (r < 0) return errno == EAGAIN ? 0 : 1;
  cmdlen += (size_t)r;
  char *nl;
  while ((nl = memchr(cmdbuf, '\n', cmdlen))) {
    *nl = 0;
    static double last_mark = 0;
    if (!last_mark) last_mark = t0;
    if (!strcmp(cmdbuf, "mark")) {
      double t = now_s();
      add_stats(&tot, &cur);
      print_stats("mark", &cur, t - last_mark);
      memset(&cur, 0, sizeof cur);
      last_mark = t;
    } else if (!strcmp(cmdbuf, "count")) {
      printf("{\"kind\":\"count\",\"label\":\"%s\",\"events\":%llu,\"frames\":%llu,\"ready\":%llu,\"closed_after_ready\":%llu}\n",
             o_label, (unsigned long long)(tot.events + cur.events), (unsigned long long)(tot.frames + cur.frames),
             (unsigned long long)n_ready, (unsigned long long)e_closed_ready);
      fflush(stdout);
    } else if (!strcmp(cmdbuf, "reconnect")) {
      for (int i = 0; i < o_n; i++) {
        if (conns[i].fd >= 0) conn_close(&conns[i], 0);
        conns[i].state = S_IDLE;
      }
      begin_wave(1);
    } else if (!strcmp(cmdbuf, "quit")) {
      return 1;
    }
    size_t used = (size_t)(nl + 1 - cmdbuf);
    memmove(cmdbuf, nl + 1, cmdlen - used);
    cmdlen -= used;
  }
  if (cmdlen >= sizeof cmdbuf - 1) cmdlen = 0;
  return 0;
}

static char *unescape(const char *s) {
  char *o = malloc(strlen(s) + 1), *w = o;
  for (; *s; s++) {
    if (*s == '\\' && s[1]) {
      s++;
      if (*s == 'n') *w++ = '\n';
      else if (*s == 'r') *w++ = '\r';
      else if (*s == 't') *w++ = '\t';
      else *w++ = *s;
    } else *w++ = *s;
  }
  *w = 0;
  return o;
}

static void load_keys(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) { perror(path); exit(2); }
  char line[4096];
  int cap = 1024;
  keys = malloc(sizeof(char *) * cap);
  while (fgets(line, sizeof line, f)) {
    size_t l = strlen(line);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
    if (!l) continue;
    if (nkeys == cap) { cap *= 2; keys = realloc(keys, sizeof(char *) * cap); }
    keys[nkeys++] = strdup(line);
  }
  fclose(f);
  if (!nkeys) { fprintf(stderr, "loadgen: no keys in %s\n", path); exit(2); }
}

static void usage(void) {
  fprintf(stderr,
          "usage: loadgen --port P [--host 127.0.0.1] [--path /ws] [-n N] [--src-base 2 --src-count 8]\n"
          "  [--auth TEMPLATE(with %%KEY%% and %%TAIL%%, \\r \\n escapes)] [--keys FILE] [--key-offset K] [--auth-after-first]\n"
          "  [--binary] [--ready MATCH] [--fail MATCH] [--marker bt_] [--type-key '\"type\":\"'] [--sample K]\n"
          "  [--concurrency C] [--auth-timeout S] [--max-seconds S] [--label L] [--app-ping TEXT]\n");
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (usage(), ""))
    if (!strcmp(a, "--host")) o_host = NEXT();
    else if (!strcmp(a, "--port")) o_port = atoi(NEXT());
    else if (!strcmp(a, "--path")) o_path = NEXT();
    else if (!strcmp(a, "-n") || !strcmp(a, "--sockets")) o_n = atoi(NEXT());
    else if (!strcmp(a, "--src-base")) o_src_base = atoi(NEXT());
    else if (!strcmp(a, "--src-count")) o_src_count = atoi(NEXT());
    else if (!strcmp(a, "--auth")) o_auth = unescape(NEXT());
    else if (!strcmp(a, "--keys")) o_keys = NEXT();
    else if (!strcmp(a, "--key-offset")) o_key_offset = atoi(NEXT());
    else if (!strcmp(a, "--auth-after-first")) o_auth_after_first = 1;
    else if (!strcmp(a, "--binary")) o_binary = 1;
    else if (!strcmp(a, "--ready")) o_ready = NEXT();
    else if (!strcmp(a, "--fail")) o_fail = NEXT();
    else if (!strcmp(a, "--marker")) o_marker = NEXT();
    else if (!strcmp(a, "--type-key")) o_type_key = NEXT();
    else if (!strcmp(a, "--sample")) o_sample = atoi(NEXT());
    else if (!strcmp(a, "--concurrency")) o_conc = atoi(NEXT());
    else if (!strcmp(a, "--auth-timeout")) o_auth_timeout = atof(NEXT());
    else if (!strcmp(a, "--max-seconds")) o_max_seconds = atof(NEXT());
    else if (!strcmp(a, "--label")) o_label = NEXT();
    else if (!strcmp(a, "--app-ping")) o_app_ping = NEXT();
    else usage();
  }
  if (!o_port || o_n <= 0 || o_src_count <= 0 || o_src_base + o_src_count > 255 || !*o_marker) usage();
  if (o_sample < 1) o_sample = 1;
  if (o_conc < 1) o_conc = 1;
  marker_len = strlen(o_marker);
  if (marker_len > 32) usage();
  if (o_keys) load_keys(o_keys);
  if (strncmp(o_host, "127.", 4)) { fprintf(stderr, "loadgen: only loopback targets (127.0.0.0/8)\n"); exit(2); }
  dst.sin_family = AF_INET;
  dst.sin_port = htons((uint16_t)o_port);
  if (inet_pton(AF_INET, o_host, &dst.sin_addr) != 1) usage();

  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  if ((rlim_t)o_n + 16 > rl.rlim_cur) {
    fprintf(stderr, "loadgen: %d sockets exceed the fd limit %llu: split over processes\n", o_n,
            (unsigned long long)rl.rlim_cur);
    exit(2);
  }
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid());
  gbuf = malloc(GBUF_SIZE);
  conns = calloc((size_t)o_n, sizeof(conn_t));
  for (int i = 0; i < o_n; i++) { conns[i].fd = -1; conns[i].idx = (uint32_t)i; }
  ep = epoll_create1(EPOLL_CLOEXEC);
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  struct epoll_event se = {.events = EPOLLIN, .data.u32 = 0xffffffffu};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &se);

  t0 = now_s();
  begin_wave(0);
  struct epoll_event evs[1024];
  double last_check = t0;
  int stop = 0;
  while (!stop) {
    int k = epoll_wait(ep, evs, 1024, 100);
    for (int j = 0; j < k; j++) {
      uint32_t id = evs[j].data.u32;
      if (id == 0xffffffffu) {
        if (evs[j].events & (EPOLLHUP | EPOLLERR)) { stop = 1; continue; }
        if (handle_stdin()) stop = 1;
        continue;
      }
      conn_t *c = &conns[id];
      if (c->fd < 0) continue;
      uint32_t e = evs[j].events;
      if (c->state == S_CONNECTING) {
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
        continue;
      }
      if ((e & EPOLLOUT) && c->out_len && flush_out(c) < 0) { e_resets++; conn_close(c, 1); continue; }
      if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    double t = now_s();
    if (t - last_check > 0.25) {
      last_check = t;
      if (!wave_reported) check_timeouts();
      maybe_report_wave();
    }
    if (t - t0 > o_max_seconds) {
      fprintf(stderr, "loadgen: --max-seconds %.0f reached, stopping\n", o_max_seconds);
      stop = 1;
    }
  }
  add_stats(&tot, &cur);
  print_stats("final", &tot, now_s() - t0);
  return 0;
}
