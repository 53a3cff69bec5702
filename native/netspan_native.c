/*
 * netspan native addon (Linux, Node-API 8).
 *
 * setHopByHopOptions(fd, options): setsockopt(IPPROTO_IPV6, IPV6_HOPOPTS) on a socket Node owns,
 *   which Node's net module cannot do itself.
 * ioamEventsOpen(callback) / ioamEventsClose(handle) / ioamEventsRef(handle, ref): the generic
 *   netlink family IOAM6, multicast group "ioam6_events". The socket is non-blocking and watched
 *   by a uv_poll_t on the main loop, so no thread and no blocking read: when it is readable, all
 *   pending messages are read and one callback(err, events, lost) is made per wakeup.
 *
 * udpOpen / udpSteerBySource / udpReceive / udpReceiveClose / udpClose: UDP sockets sharing a
 *   port (SO_REUSEPORT, steered by source address), read with recvmmsg many datagrams per call
 *   into caller-provided buffers, watched by a uv_poll_t on the calling thread's loop (a worker's).
 * udpConnect / udpSendBatch: sendmmsg many datagrams per call (bench/flows' replay generator).
 *
 * Errors are Error objects with `code` (the errno name, as Node's own), `errno` (negative, as
 * Node's) and `syscall`.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef IPV6_HOPOPTS
#define IPV6_HOPOPTS 54
#endif
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* From linux/ioam6_genl.h (6.9+); older userspace headers lack the event part. */
#define NS_IOAM6_GENL_NAME "IOAM6"
#define NS_IOAM6_EVENT_GROUP "ioam6_events"
#define NS_IOAM6_EVENT_TRACE 1
#define NS_IOAM6_EVENT_ATTR_TRACE_NAMESPACE 1 /* u16 */
#define NS_IOAM6_EVENT_ATTR_TRACE_NODELEN 2   /* u8 */
#define NS_IOAM6_EVENT_ATTR_TRACE_TYPE 3      /* u32: the trace type field as on the wire, host order */
#define NS_IOAM6_EVENT_ATTR_TRACE_DATA 4      /* binary */

/* Bounds one wakeup, so a flood of events cannot starve the event loop. */
#define MAX_RECV_PER_WAKEUP 64
#define RECV_BUFFER 65536
#define SOCKET_RCVBUF (1 << 20)

#define CHECK(env, call)                                   \
  do {                                                     \
    if ((call) != napi_ok) {                               \
      throw_last_napi_error(env, #call);                   \
      return NULL;                                         \
    }                                                      \
  } while (0)

static void throw_last_napi_error(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", what, info && info->error_message ? info->error_message : "napi error");
  napi_throw_error(env, "ERR_NATIVE", msg);
}

/* An Error like Node's system errors: message, code (EPERM ...), errno (negative), syscall. */
static napi_value errno_error(napi_env env, int err, const char *syscall, const char *detail) {
  char name[64];
  uv_err_name_r(-err, name, sizeof name);
  char msg[512];
  snprintf(msg, sizeof msg, "%s %s (%s)%s%s", syscall, name, strerror(err), detail ? ": " : "", detail ? detail : "");
  napi_value code, message, error, errno_value, syscall_value;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  return error;
}

static void throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  napi_throw(env, errno_error(env, err, syscall, detail));
}

/* ---------------------------------------------------------------- setHopByHopOptions */

static napi_value set_hop_by_hop_options(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  CHECK(env, napi_typeof(env, argv[0], &t));
  if (argc < 1 || t != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "fd must be a number");
    return NULL;
  }
  int32_t fd;
  CHECK(env, napi_get_value_int32(env, argv[0], &fd));
  if (fd < 0) {
    throw_errno(env, EBADF, "setsockopt", "no file descriptor (socket not open yet?)");
    return NULL;
  }
  void *data = NULL;
  size_t length = 0;
  if (argc >= 2) {
    CHECK(env, napi_typeof(env, argv[1], &t));
    if (t != napi_null && t != napi_undefined) {
      bool is_typed = false;
      CHECK(env, napi_is_typedarray(env, argv[1], &is_typed));
      napi_typedarray_type tt = napi_int8_array;
      if (is_typed) CHECK(env, napi_get_typedarray_info(env, argv[1], &tt, &length, &data, NULL, NULL));
      if (!is_typed || tt != napi_uint8_array) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "options must be a Buffer, a Uint8Array or null");
        return NULL;
      }
    }
  }
  /* Length 0 removes the sticky header (RFC 3542 section 6.1). */
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_HOPOPTS, length ? data : NULL, (socklen_t)length) != 0) {
    throw_errno(env, errno, "setsockopt", "IPPROTO_IPV6 IPV6_HOPOPTS");
    return NULL;
  }
  return NULL;
}

/* ---------------------------------------------------------------- generic netlink helpers */

#define NLA_OK_(nla, len) ((len) >= (int)sizeof(struct nlattr) && (nla)->nla_len >= sizeof(struct nlattr) && (nla)->nla_len <= (len))
#define NLA_NEXT_(nla, len) \
  ((len) -= NLA_ALIGN((nla)->nla_len), (struct nlattr *)(((char *)(nla)) + NLA_ALIGN((nla)->nla_len)))
#define NLA_DATA_(nla) ((void *)(((char *)(nla)) + NLA_HDRLEN))
#define NLA_PAYLOAD_(nla) ((int)(nla)->nla_len - NLA_HDRLEN)

/* Resolves the IOAM6 family id and its event group id (blocking, bounded by SO_RCVTIMEO). */
static int resolve_family(int fd, char *buf, uint16_t *family_id, uint32_t *group_id, const char **why) {
  struct {
    struct nlmsghdr n;
    struct genlmsghdr g;
    char attrs[64];
  } req;
  memset(&req, 0, sizeof req);
  struct nlattr *a = (struct nlattr *)req.attrs;
  a->nla_type = CTRL_ATTR_FAMILY_NAME;
  a->nla_len = NLA_HDRLEN + sizeof NS_IOAM6_GENL_NAME;
  memcpy(NLA_DATA_(a), NS_IOAM6_GENL_NAME, sizeof NS_IOAM6_GENL_NAME);
  req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) + NLA_ALIGN(a->nla_len);
  req.n.nlmsg_type = GENL_ID_CTRL;
  req.n.nlmsg_flags = NLM_F_REQUEST;
  req.n.nlmsg_seq = 1;
  req.g.cmd = CTRL_CMD_GETFAMILY;
  req.g.version = 1;
  if (send(fd, &req, req.n.nlmsg_len, 0) < 0) {
    *why = "send";
    return errno;
  }
  for (int tries = 0; tries < 16; tries++) {
    ssize_t n = recv(fd, buf, RECV_BUFFER, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      *why = "recv";
      return errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
    }
    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != 1) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = (struct nlmsgerr *)NLMSG_DATA(h);
        *why = "CTRL_CMD_GETFAMILY " NS_IOAM6_GENL_NAME;
        return e->error ? -e->error : EPROTO;
      }
      if (h->nlmsg_type != GENL_ID_CTRL) continue;
      struct nlattr *attr = (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN);
      int alen = (int)h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
      bool have_family = false, have_group = false;
      for (; NLA_OK_(attr, alen); attr = NLA_NEXT_(attr, alen)) {
        int type = attr->nla_type & NLA_TYPE_MASK;
        if (type == CTRL_ATTR_FAMILY_ID && NLA_PAYLOAD_(attr) >= 2) {
          memcpy(family_id, NLA_DATA_(attr), 2);
          have_family = true;
        } else if (type == CTRL_ATTR_MCAST_GROUPS) {
          struct nlattr *grp = (struct nlattr *)NLA_DATA_(attr);
          int glen = NLA_PAYLOAD_(attr);
          for (; NLA_OK_(grp, glen); grp = NLA_NEXT_(grp, glen)) {
            struct nlattr *ga = (struct nlattr *)NLA_DATA_(grp);
            int galen = NLA_PAYLOAD_(grp);
            const char *name = NULL;
            int name_len = 0;
            uint32_t id = 0;
            bool have_id = false;
            for (; NLA_OK_(ga, galen); ga = NLA_NEXT_(ga, galen)) {
              int gt = ga->nla_type & NLA_TYPE_MASK;
              if (gt == CTRL_ATTR_MCAST_GRP_NAME) {
                name = (const char *)NLA_DATA_(ga);
                name_len = NLA_PAYLOAD_(ga);
              } else if (gt == CTRL_ATTR_MCAST_GRP_ID && NLA_PAYLOAD_(ga) >= 4) {
                memcpy(&id, NLA_DATA_(ga), 4);
                have_id = true;
              }
            }
            if (name && have_id && name_len >= (int)sizeof NS_IOAM6_EVENT_GROUP &&
                memcmp(name, NS_IOAM6_EVENT_GROUP, sizeof NS_IOAM6_EVENT_GROUP) == 0) {
              *group_id = id;
              have_group = true;
            }
          }
        }
      }
      if (!have_family) {
        *why = "CTRL_CMD_GETFAMILY reply without a family id";
        return EPROTO;
      }
      if (!have_group) {
        *why = "the IOAM6 family has no ioam6_events group (kernel older than 6.9?)";
        return EOPNOTSUPP;
      }
      return 0;
    }
  }
  *why = "no CTRL_CMD_GETFAMILY reply";
  return EPROTO;
}

/* ---------------------------------------------------------------- watched sockets */

/*
 * A non-blocking socket watched by a uv_poll_t on the calling thread's loop (the main thread's,
 * or a worker's), with a JS callback. Shared by the IOAM event source and the UDP receiver: the
 * handle is closed by the owner, by the environment's cleanup (worker exit) or when the JS
 * handle is collected; the struct is freed once libuv has closed the handle and JS has let go.
 */
typedef struct poll_source {
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup;
  uv_poll_t poll;
  int fd;
  /* Whether closing the source closes the fd (the UDP receiver watches an fd its caller owns). */
  bool owns_fd;
  bool closing;
  bool handle_closed;
  bool external_alive;
  /* Called once the handle is closed, before the struct is freed (releases extra references). */
  void (*on_closed)(struct poll_source *);
} poll_source;

static void maybe_free(poll_source *s) {
  if (s->handle_closed && !s->external_alive) free(s);
}

static void on_poll_closed(uv_handle_t *h) {
  poll_source *s = (poll_source *)h->data;
  if (s->owns_fd && s->fd >= 0) close(s->fd);
  s->fd = -1;
  s->handle_closed = true;
  if (s->cleanup) {
    napi_async_cleanup_hook_handle c = s->cleanup;
    s->cleanup = NULL;
    napi_remove_async_cleanup_hook(c);
  }
  maybe_free(s);
}

/* Stops watching and releases JS references; the fd is closed when libuv has closed the handle. */
static void source_close(poll_source *s, bool from_cleanup_hook) {
  if (s->closing) return;
  s->closing = true;
  uv_poll_stop(&s->poll);
  if (s->callback) napi_delete_reference(s->env, s->callback);
  s->callback = NULL;
  if (s->on_closed) s->on_closed(s);
  if (s->async_context) napi_async_destroy(s->env, s->async_context);
  s->async_context = NULL;
  if (!from_cleanup_hook && s->cleanup) {
    napi_remove_async_cleanup_hook(s->cleanup);
    s->cleanup = NULL;
  }
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  poll_source *s = (poll_source *)arg;
  (void)handle;
  source_close(s, true);
}

static void external_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  poll_source *s = (poll_source *)data;
  s->external_alive = false;
  /* Collected while still open: nothing in JS can close it any more, so close it here. */
  if (!s->closing) source_close(s, false);
  maybe_free(s);
}

/*
 * Starts watching s->fd (already set, non-blocking) on this thread's loop and returns the JS
 * handle; on failure throws and returns NULL, with s closed (or freed when never watched).
 */
static napi_value source_start(napi_env env, poll_source *s, napi_value callback, const char *resource, uv_poll_cb on_readable) {
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
    if (s->owns_fd) close(s->fd);
    free(s);
    throw_last_napi_error(env, "napi_get_uv_event_loop");
    return NULL;
  }
  s->env = env;
  int r = uv_poll_init(loop, &s->poll, s->fd);
  if (r != 0) {
    if (s->owns_fd) close(s->fd);
    free(s);
    throw_errno(env, -r, "uv_poll_init", NULL);
    return NULL;
  }
  s->poll.data = s;
  s->external_alive = true;
  napi_value resource_name, external;
  napi_create_string_utf8(env, resource, NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_reference(env, callback, 1, &s->callback) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &s->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, s, &s->cleanup) != napi_ok ||
      napi_create_external(env, s, external_finalize, NULL, &external) != napi_ok) {
    s->external_alive = false;
    source_close(s, false);
    throw_last_napi_error(env, resource);
    return NULL;
  }
  r = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (r != 0) {
    source_close(s, false);
    throw_errno(env, -r, "uv_poll_start", NULL);
    return NULL;
  }
  return external;
}

/* Calls the source's callback with argv; an exception thrown there goes to uncaughtException. */
static void source_call(poll_source *s, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value cb, recv, result;
  if (!s->callback || napi_get_reference_value(env, s->callback, &cb) != napi_ok || !cb) return;
  /* make_callback converts the receiver to an object: undefined would throw. */
  napi_get_global(env, &recv);
  /* make_callback: async context for async_hooks, and the nextTick/microtask queues run after it. */
  if (napi_make_callback(env, s->async_context, recv, cb, argc, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

/* The source behind a JS handle (argument 0), or NULL with a TypeError thrown; argument 1 in *rest. */
static poll_source *source_arg(napi_env env, napi_callback_info info, napi_value *rest, const char *what) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  void *data = NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_external || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return NULL;
  }
  if (rest) {
    if (argc >= 2) *rest = argv[1];
    else napi_get_undefined(env, rest);
  }
  return (poll_source *)data;
}

/* ---------------------------------------------------------------- IOAM event source */

typedef struct ioam_source {
  poll_source base; /* first: a poll_source pointer is an ioam_source pointer */
  uint16_t family_id;
  /* Messages the kernel dropped (ENOBUFS) since the last callback. */
  uint32_t lost;
  char buffer[RECV_BUFFER];
} ioam_source;

static napi_value u32_value(napi_env env, uint32_t v) {
  napi_value out;
  napi_create_uint32(env, v, &out);
  return out;
}

/* Appends the IOAM6_EVENT_TRACE in message h to the array `events` (others are ignored). */
static void push_event(napi_env env, ioam_source *s, struct nlmsghdr *h, napi_value events, uint32_t *count) {
  if (h->nlmsg_type != s->family_id || h->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) return;
  struct genlmsghdr *g = (struct genlmsghdr *)NLMSG_DATA(h);
  if (g->cmd != NS_IOAM6_EVENT_TRACE) return;
  struct nlattr *a = (struct nlattr *)((char *)g + GENL_HDRLEN);
  int alen = (int)h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
  uint16_t ns = 0;
  uint8_t nodelen = 0;
  uint32_t type = 0;
  const void *data = NULL;
  int data_len = 0;
  bool have_ns = false, have_nodelen = false, have_type = false;
  for (; NLA_OK_(a, alen); a = NLA_NEXT_(a, alen)) {
    int t = a->nla_type & NLA_TYPE_MASK;
    int plen = NLA_PAYLOAD_(a);
    if (t == NS_IOAM6_EVENT_ATTR_TRACE_NAMESPACE && plen >= 2) {
      memcpy(&ns, NLA_DATA_(a), 2);
      have_ns = true;
    } else if (t == NS_IOAM6_EVENT_ATTR_TRACE_NODELEN && plen >= 1) {
      nodelen = *(uint8_t *)NLA_DATA_(a);
      have_nodelen = true;
    } else if (t == NS_IOAM6_EVENT_ATTR_TRACE_TYPE && plen >= 4) {
      memcpy(&type, NLA_DATA_(a), 4);
      have_type = true;
    } else if (t == NS_IOAM6_EVENT_ATTR_TRACE_DATA) {
      data = NLA_DATA_(a);
      data_len = plen;
    }
  }
  if (!have_ns || !have_nodelen || !have_type) return;
  napi_value ev, buf;
  if (napi_create_object(env, &ev) != napi_ok) return;
  napi_set_named_property(env, ev, "namespaceId", u32_value(env, ns));
  napi_set_named_property(env, ev, "nodeLength", u32_value(env, nodelen));
  napi_set_named_property(env, ev, "traceType", u32_value(env, type));
  void *copy;
  napi_create_buffer_copy(env, (size_t)data_len, data_len ? data : "", &copy, &buf);
  napi_set_named_property(env, ev, "data", buf);
  napi_set_element(env, events, (*count)++, ev);
}

static void deliver(ioam_source *s, napi_value err, napi_value events) {
  napi_value argv[3] = {err, events, u32_value(s->base.env, s->lost)};
  s->lost = 0;
  source_call(&s->base, 3, argv);
}

static void on_ioam_readable(uv_poll_t *handle, int status, int revents) {
  ioam_source *s = (ioam_source *)handle->data;
  (void)revents;
  if (s->base.closing) return;
  napi_env env = s->base.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value null_value, events;
  napi_get_null(env, &null_value);
  napi_create_array(env, &events);
  uint32_t count = 0;
  int fatal = 0;
  const char *fatal_call = "poll";
  if (status < 0) {
    fatal = -status;
  } else {
    char *buf = s->buffer;
    for (int i = 0; i < MAX_RECV_PER_WAKEUP; i++) {
      ssize_t n = recv(s->base.fd, buf, RECV_BUFFER, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        /* The socket buffer overflowed: the kernel dropped events; reading goes on. */
        if (errno == ENOBUFS) {
          s->lost++;
          continue;
        }
        fatal = errno;
        fatal_call = "recv";
        break;
      }
      int len = (int)n;
      for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) push_event(env, s, h, events, &count);
    }
  }
  if (count > 0 || s->lost > 0) deliver(s, null_value, events);
  if (fatal && !s->base.closing) {
    napi_value err = errno_error(env, fatal, fatal_call, "IOAM6 event socket");
    napi_create_array(env, &events);
    deliver(s, err, events);
    source_close(&s->base, false);
  }
  napi_close_handle_scope(env, scope);
}

static napi_value ioam_events_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t = napi_undefined;
  if (argc >= 1) CHECK(env, napi_typeof(env, argv[0], &t));
  if (t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "callback must be a function");
    return NULL;
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd < 0) {
    throw_errno(env, errno, "socket", "AF_NETLINK NETLINK_GENERIC");
    return NULL;
  }
  struct sockaddr_nl addr;
  memset(&addr, 0, sizeof addr);
  addr.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int e = errno;
    close(fd);
    throw_errno(env, e, "bind", "AF_NETLINK");
    return NULL;
  }
  ioam_source *s = (ioam_source *)calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  /* The family lookup is a blocking request/reply to the kernel; bound it. */
  struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  uint16_t family_id = 0;
  uint32_t group_id = 0;
  const char *why = NULL;
  int e = resolve_family(fd, s->buffer, &family_id, &group_id, &why);
  if (e) {
    close(fd);
    free(s);
    throw_errno(env, e, "genetlink", e == ENOENT ? "no generic netlink family IOAM6 (kernel without IPv6 IOAM)" : why);
    return NULL;
  }
  if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group_id, sizeof group_id) != 0) {
    e = errno;
    close(fd);
    free(s);
    throw_errno(env, e, "setsockopt", e == EPERM ? "joining ioam6_events needs CAP_NET_ADMIN" : "NETLINK_ADD_MEMBERSHIP ioam6_events");
    return NULL;
  }
  int rcvbuf = SOCKET_RCVBUF;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf); /* best effort: fewer drops under bursts */
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    e = errno;
    close(fd);
    free(s);
    throw_errno(env, e, "fcntl", "O_NONBLOCK");
    return NULL;
  }
  s->base.fd = fd;
  s->base.owns_fd = true;
  s->family_id = family_id;
  return source_start(env, &s->base, argv[0], "IoamEvents", on_ioam_readable);
}

static const char NOT_IOAM_HANDLE[] = "not an IOAM event source handle";

static napi_value ioam_events_close(napi_env env, napi_callback_info info) {
  poll_source *s = source_arg(env, info, NULL, NOT_IOAM_HANDLE);
  if (s) source_close(s, false);
  return NULL;
}

/* ref(handle, true|false): whether the open source keeps the event loop (the process) alive. */
static napi_value ioam_events_ref(napi_env env, napi_callback_info info) {
  napi_value flag;
  poll_source *s = source_arg(env, info, &flag, NOT_IOAM_HANDLE);
  if (!s || s->closing) return NULL;
  bool ref = true;
  napi_get_value_bool(env, flag, &ref);
  if (ref) uv_ref((uv_handle_t *)&s->poll);
  else uv_unref((uv_handle_t *)&s->poll);
  return NULL;
}

/* ---------------------------------------------------------------- UDP: sockets and batch receive */

/* Arguments 0..n-1 as int32 into out (false, with a TypeError thrown, when one is not a number); the first 8 into argv. */
static bool int_args(napi_env env, napi_callback_info info, size_t n, int32_t *out, napi_value *argv, const char *usage) {
  size_t argc = 8;
  napi_value all[8];
  if (napi_get_cb_info(env, info, &argc, all, NULL, NULL) != napi_ok) return false;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  for (size_t i = 0; i < 8 && argv; i++) argv[i] = i < argc ? all[i] : undefined;
  for (size_t i = 0; i < n; i++) {
    napi_valuetype t = napi_undefined;
    if (i < argc && i < 8) napi_typeof(env, all[i], &t);
    if (t != napi_number || napi_get_value_int32(env, all[i], &out[i]) != napi_ok) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
      return false;
    }
  }
  return true;
}

static bool parse_address(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return true;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return true;
  }
  return false;
}

static napi_value set_int_property(napi_env env, napi_value object, const char *name, int32_t value) {
  napi_value v;
  napi_create_int32(env, value, &v);
  napi_set_named_property(env, object, name, v);
  return object;
}

/*
 * udpOpen(host, port, receiveBufferSize) -> { fd, port, receiveBufferSize }: a non-blocking UDP
 * socket with SO_REUSEPORT (so that several, one per worker, share the port), bound. The caller
 * owns the fd (udpClose). receiveBufferSize is what the kernel granted (SO_RCVBUF as read back:
 * twice the request, capped by net.core.rmem_max).
 */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t ints[3];
  size_t argc = 3;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len = 0;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (argc < 3 || t != napi_string || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &ints[1]) != napi_ok || napi_get_value_int32(env, argv[2], &ints[2]) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "udpOpen(host: string, port: number, receiveBufferSize: number)");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t ss_len;
  if (ints[1] < 0 || ints[1] > 65535 || !parse_address(host, ints[1], &ss, &ss_len)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "udpOpen: host must be an IP address and port 0-65535");
    return NULL;
  }
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", "UDP");
    return NULL;
  }
  int one = 1;
  int rcvbuf = ints[2];
  const char *call = "setsockopt";
  const char *detail = "SO_REUSEPORT";
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0) {
    detail = "SO_RCVBUF";
    /* Like node:dgram's recvBufferSize: capped by the kernel (net.core.rmem_max), not an error. */
    if (rcvbuf <= 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0) {
      call = "bind";
      detail = host;
      if (bind(fd, (struct sockaddr *)&ss, ss_len) == 0) call = NULL;
    }
  }
  if (call) {
    int e = errno;
    close(fd);
    throw_errno(env, e, call, detail);
    return NULL;
  }
  socklen_t len = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &len);
  int granted = 0;
  socklen_t glen = sizeof granted;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &glen);
  napi_value out;
  CHECK(env, napi_create_object(env, &out));
  set_int_property(env, out, "fd", fd);
  set_int_property(env, out, "port", ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port));
  return set_int_property(env, out, "receiveBufferSize", granted);
}

/*
 * udpSteerBySource(fd, sockets): a classic BPF program on the SO_REUSEPORT group of fd that
 * picks the group's socket by a hash of the datagram's source address only (not its port), so
 * that one exporter always reaches the same socket, hence the same worker and its templates.
 * Index i is the i-th socket bound to the port.
 */
static napi_value udp_steer_by_source(napi_env env, napi_callback_info info) {
  int32_t a[2];
  if (!int_args(env, info, 2, a, NULL, "udpSteerBySource(fd: number, sockets: number)")) return NULL;
  if (a[1] < 1) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "sockets must be at least 1");
    return NULL;
  }
  const uint32_t net = (uint32_t)SKF_NET_OFF;
  struct sock_filter code[] = {
      /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, net + 0), /* IP version nibble */
      /* 1 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
      /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 2, 0),
      /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net + 12), /* IPv4 source */
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JA, 10, 0, 0),
      /* 5 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net + 8), /* IPv6 source: xor of its 4 words */
      /* 6 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net + 12),
      /* 8 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 9 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 10 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net + 16),
      /* 11 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 12 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 13 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net + 20),
      /* 14 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 15: mix (a ^= a >> 16; a *= k; a ^= a >> 16), so that neighbouring addresses spread */
      /* 15 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 16 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
      /* 17 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 18 */ BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x45d9f3b),
      /* 19 */ BPF_STMT(BPF_MISC | BPF_TAX, 0),
      /* 20 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
      /* 21 */ BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
      /* 22 */ BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (uint32_t)a[1]),
      /* 23 */ BPF_STMT(BPF_RET | BPF_A, 0),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  if (setsockopt(a[0], SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) {
    throw_errno(env, errno, "setsockopt", "SO_ATTACH_REUSEPORT_CBPF");
    return NULL;
  }
  return NULL;
}

static napi_value udp_close(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!int_args(env, info, 1, &fd, NULL, "udpClose(fd: number)")) return NULL;
  if (close(fd) != 0) throw_errno(env, errno, "close", "UDP socket");
  return NULL;
}

/* Bytes of per-datagram metadata the receiver writes (see udpReceive). */
#define UDP_META_BYTES 32
#define UDP_META_TRUNCATED 1u
/* recvmmsg calls per wakeup at most while the buffer keeps filling: the worker's other messages get their turn. */
#define UDP_ROUNDS_PER_WAKEUP 8

typedef struct udp_receiver {
  poll_source base; /* first: a poll_source pointer is a udp_receiver pointer */
  napi_ref data_ref;
  napi_ref meta_ref;
  uint8_t *data;
  uint8_t *meta;
  uint32_t slot_size;
  uint32_t slots;
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_storage *addrs;
} udp_receiver;

static void udp_receiver_closed(poll_source *base) {
  udp_receiver *r = (udp_receiver *)base;
  if (r->data_ref) napi_delete_reference(base->env, r->data_ref);
  if (r->meta_ref) napi_delete_reference(base->env, r->meta_ref);
  r->data_ref = r->meta_ref = NULL;
  r->data = r->meta = NULL;
  free(r->msgs);
  free(r->iov);
  free(r->addrs);
  r->msgs = NULL;
  r->iov = NULL;
  r->addrs = NULL;
}

/* One recvmmsg into the slots; writes each datagram's metadata; returns the count or -errno. */
static int udp_receive_round(udp_receiver *r) {
  for (uint32_t i = 0; i < r->slots; i++) {
    r->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    r->msgs[i].msg_hdr.msg_flags = 0;
  }
  int n;
  do n = recvmmsg(r->base.fd, r->msgs, r->slots, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
  for (int i = 0; i < n; i++) {
    uint32_t *m = (uint32_t *)(r->meta + (size_t)i * UDP_META_BYTES);
    memset(m, 0, UDP_META_BYTES);
    m[0] = r->msgs[i].msg_len;
    m[1] = (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? UDP_META_TRUNCATED : 0;
    const struct sockaddr_storage *ss = &r->addrs[i];
    if (ss->ss_family == AF_INET) {
      const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
      m[2] = 4u | ((uint32_t)ntohs(a4->sin_port) << 16);
      memcpy(&m[3], &a4->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
      const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
      m[2] = 6u | ((uint32_t)ntohs(a6->sin6_port) << 16);
      memcpy(&m[3], &a6->sin6_addr, 16);
    }
  }
  return n;
}

static void on_udp_readable(uv_poll_t *handle, int status, int revents) {
  udp_receiver *r = (udp_receiver *)handle->data;
  (void)revents;
  if (r->base.closing) return;
  napi_env env = r->base.env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value null_value;
  napi_get_null(env, &null_value);
  int err = status < 0 ? -status : 0;
  const char *call = "poll";
  for (int round = 0; !err && round < UDP_ROUNDS_PER_WAKEUP && !r->base.closing; round++) {
    int n = udp_receive_round(r);
    if (n < 0) {
      err = -n;
      call = "recvmmsg";
      break;
    }
    if (n == 0) break;
    napi_value argv[2] = {null_value, u32_value(env, (uint32_t)n)};
    source_call(&r->base, 2, argv);
    if ((uint32_t)n < r->slots) break;
  }
  if (err && !r->base.closing) {
    napi_value argv[2] = {errno_error(env, err, call, "UDP socket"), u32_value(env, 0)};
    source_call(&r->base, 2, argv);
  }
  napi_close_handle_scope(env, scope);
}

/* The bytes of a Uint8Array argument, or NULL with a TypeError thrown. */
static uint8_t *bytes_arg(napi_env env, napi_value value, size_t *length, const char *usage) {
  bool is_typed = false;
  napi_typedarray_type tt = napi_int8_array;
  void *data = NULL;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &tt, length, &data, NULL, NULL) != napi_ok || tt != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  return (uint8_t *)data;
}

/*
 * udpReceive(fd, data, slotSize, meta, callback) -> handle: watches fd on the calling thread's
 * loop (a worker's, when called there) and, whenever it is readable, reads up to
 * data.length / slotSize datagrams with one recvmmsg: datagram i goes to data[i * slotSize ..],
 * its metadata to meta[i * 32 ..] as uint32 (host order): length (the bytes in the slot), flags
 * (1: truncated, the datagram was larger than slotSize), family (4 or 6) | source port << 16,
 * then the source address (4 or 16 bytes, network order). Then callback(null, count); the
 * slots are overwritten by the next round, so the callback consumes them before it returns.
 * Errors other than EAGAIN come as callback(error, 0). The fd stays the caller's (udpClose).
 */
static napi_value udp_receive(napi_env env, napi_callback_info info) {
  static const char usage[] = "udpReceive(fd: number, data: Uint8Array, slotSize: number, meta: Uint8Array, callback: function)";
  napi_value argv[8];
  int32_t fd = -1;
  if (!int_args(env, info, 1, &fd, argv, usage)) return NULL;
  int32_t slot_size = 0;
  napi_valuetype t = napi_undefined;
  napi_typeof(env, argv[4], &t);
  if (napi_get_value_int32(env, argv[2], &slot_size) != napi_ok || slot_size < 1 || t != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  size_t data_len = 0, meta_len = 0;
  uint8_t *data = bytes_arg(env, argv[1], &data_len, usage);
  if (!data) return NULL;
  uint8_t *meta = bytes_arg(env, argv[3], &meta_len, usage);
  if (!meta) return NULL;
  uint32_t slots = (uint32_t)(data_len / (size_t)slot_size);
  if (slots == 0 || meta_len / UDP_META_BYTES < slots || ((uintptr_t)meta & 3) != 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "udpReceive: data must hold a slot, meta 32 bytes per slot (4-byte aligned)");
    return NULL;
  }
  udp_receiver *r = (udp_receiver *)calloc(1, sizeof *r);
  if (r) {
    r->msgs = (struct mmsghdr *)calloc(slots, sizeof *r->msgs);
    r->iov = (struct iovec *)calloc(slots, sizeof *r->iov);
    r->addrs = (struct sockaddr_storage *)calloc(slots, sizeof *r->addrs);
  }
  if (!r || !r->msgs || !r->iov || !r->addrs) {
    if (r) udp_receiver_closed(&r->base);
    free(r);
    throw_errno(env, ENOMEM, "calloc", NULL);
    return NULL;
  }
  r->data = data;
  r->meta = meta;
  r->slot_size = (uint32_t)slot_size;
  r->slots = slots;
  for (uint32_t i = 0; i < slots; i++) {
    r->iov[i].iov_base = data + (size_t)i * (size_t)slot_size;
    r->iov[i].iov_len = (size_t)slot_size;
    r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
    r->msgs[i].msg_hdr.msg_iovlen = 1;
    r->msgs[i].msg_hdr.msg_name = &r->addrs[i];
  }
  /* The typed arrays stay referenced while the receiver writes into them. */
  if (napi_create_reference(env, argv[1], 1, &r->data_ref) != napi_ok || napi_create_reference(env, argv[3], 1, &r->meta_ref) != napi_ok) {
    udp_receiver_closed(&r->base);
    free(r);
    throw_last_napi_error(env, "udpReceive");
    return NULL;
  }
  r->base.env = env;
  r->base.fd = fd;
  r->base.owns_fd = false;
  r->base.on_closed = udp_receiver_closed;
  return source_start(env, &r->base, argv[4], "UdpReceive", on_udp_readable);
}

static napi_value udp_receive_close(napi_env env, napi_callback_info info) {
  poll_source *s = source_arg(env, info, NULL, "not a UDP receiver handle");
  if (s) source_close(s, false);
  return NULL;
}

/*
 * udpConnect(fd, host, port): connect(2), so that udpSendBatch needs no address per datagram.
 */
static napi_value udp_connect(napi_env env, napi_callback_info info) {
  static const char usage[] = "udpConnect(fd: number, host: string, port: number)";
  napi_value argv[8];
  int32_t fd = -1, port = -1;
  if (!int_args(env, info, 1, &fd, argv, usage)) return NULL;
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len = 0;
  struct sockaddr_storage ss;
  socklen_t ss_len;
  if (napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len) != napi_ok ||
      napi_get_value_int32(env, argv[2], &port) != napi_ok || port < 1 || port > 65535 || !parse_address(host, port, &ss, &ss_len)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", usage);
    return NULL;
  }
  if (connect(fd, (struct sockaddr *)&ss, ss_len) != 0) throw_errno(env, errno, "connect", host);
  return NULL;
}

/* Datagrams per sendmmsg call. */
#define UDP_SEND_CHUNK 64

/*
 * udpSendBatch(fd, data, offsets, first, count) -> sent: sends datagrams first .. first+count-1 on
 * a connected socket with sendmmsg, datagram i being data[offsets[i] .. offsets[i + 1]). Returns
 * how many went, fewer than count when the socket's send buffer is full (EAGAIN, ENOBUFS); other
 * errors (ECONNREFUSED after an ICMP error) are thrown, with none of the datagrams of that call sent.
 */
static napi_value udp_send_batch(napi_env env, napi_callback_info info) {
  static const char usage[] = "udpSendBatch(fd: number, data: Uint8Array, offsets: Uint32Array, first: number, count: number)";
  napi_value argv[8];
  int32_t fd = -1, first = -1, count = -1;
  if (!int_args(env, info, 1, &fd, argv, usage)) return NULL;
  size_t data_len = 0, offsets_len = 0;
  uint8_t *data = bytes_arg(env, argv[1], &data_len, usage);
  if (!data) return NULL;
  bool is_typed = false;
  napi_typedarray_type tt = napi_int8_array;
  void *raw = NULL;
  if (napi_is_typedarray(env, argv[2], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[2], &tt, &offsets_len, &raw, NULL, NULL) != napi_ok || tt != napi_uint32_array ||
      napi_get_value_int32(env, argv[3], &first) != napi_ok || napi_get_value_int32(env, argv[4], &count) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  const uint32_t *offsets = (const uint32_t *)raw;
  if (first < 0 || count < 0 || (size_t)first + (size_t)count + 1 > offsets_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "udpSendBatch: offsets must hold first + count + 1 entries");
    return NULL;
  }
  for (int32_t i = first; i < first + count; i++)
    if (offsets[i] > offsets[i + 1] || offsets[i + 1] > data_len) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "udpSendBatch: offsets must ascend within data");
      return NULL;
    }
  struct mmsghdr msgs[UDP_SEND_CHUNK];
  struct iovec iov[UDP_SEND_CHUNK];
  int32_t sent = 0;
  while (sent < count) {
    int n = count - sent < UDP_SEND_CHUNK ? count - sent : UDP_SEND_CHUNK;
    memset(msgs, 0, sizeof msgs[0] * (size_t)n);
    for (int k = 0; k < n; k++) {
      int32_t i = first + sent + k;
      iov[k].iov_base = data + offsets[i];
      iov[k].iov_len = offsets[i + 1] - offsets[i];
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(fd, msgs, (unsigned)n, 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break;
      throw_errno(env, errno, "sendmmsg", "UDP");
      return NULL;
    }
    sent += r;
    if (r < n) break;
  }
  napi_value out;
  CHECK(env, napi_create_int32(env, sent, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setHopByHopOptions", NULL, set_hop_by_hop_options, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioamEventsOpen", NULL, ioam_events_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioamEventsClose", NULL, ioam_events_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioamEventsRef", NULL, ioam_events_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpOpen", NULL, udp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpSteerBySource", NULL, udp_steer_by_source, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpClose", NULL, udp_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpReceive", NULL, udp_receive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpReceiveClose", NULL, udp_receive_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpConnect", NULL, udp_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"udpSendBatch", NULL, udp_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
