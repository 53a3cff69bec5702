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
 * Errors are Error objects with `code` (the errno name, as Node's own), `errno` (negative, as
 * Node's) and `syscall`.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
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

/* ---------------------------------------------------------------- IOAM event source */

typedef struct ioam_source {
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  napi_async_cleanup_hook_handle cleanup;
  uv_poll_t poll;
  int fd;
  uint16_t family_id;
  /* Messages the kernel dropped (ENOBUFS) since the last callback. */
  uint32_t lost;
  bool closing;
  bool handle_closed;
  bool external_alive;
  char buffer[RECV_BUFFER];
} ioam_source;

static void maybe_free(ioam_source *s) {
  if (s->handle_closed && !s->external_alive) free(s);
}

static void on_poll_closed(uv_handle_t *h) {
  ioam_source *s = (ioam_source *)h->data;
  if (s->fd >= 0) close(s->fd);
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
static void source_close(ioam_source *s, bool from_cleanup_hook) {
  if (s->closing) return;
  s->closing = true;
  uv_poll_stop(&s->poll);
  if (s->callback) napi_delete_reference(s->env, s->callback);
  s->callback = NULL;
  if (s->async_context) napi_async_destroy(s->env, s->async_context);
  s->async_context = NULL;
  if (!from_cleanup_hook && s->cleanup) {
    napi_remove_async_cleanup_hook(s->cleanup);
    s->cleanup = NULL;
  }
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
}

static void on_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  ioam_source *s = (ioam_source *)arg;
  (void)handle;
  source_close(s, true);
}

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
  napi_env env = s->env;
  napi_value cb, recv, argv[3], result;
  if (!s->callback || napi_get_reference_value(env, s->callback, &cb) != napi_ok || !cb) return;
  /* make_callback converts the receiver to an object: undefined would throw. */
  napi_get_global(env, &recv);
  argv[0] = err;
  argv[1] = events;
  argv[2] = u32_value(env, s->lost);
  s->lost = 0;
  /* make_callback: async context for async_hooks, and the nextTick/microtask queues run after it. */
  if (napi_make_callback(env, s->async_context, recv, cb, 3, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

static void on_readable(uv_poll_t *handle, int status, int revents) {
  ioam_source *s = (ioam_source *)handle->data;
  (void)revents;
  if (s->closing) return;
  napi_env env = s->env;
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
      ssize_t n = recv(s->fd, buf, RECV_BUFFER, MSG_DONTWAIT);
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
  if (fatal && !s->closing) {
    napi_value err = errno_error(env, fatal, fatal_call, "IOAM6 event socket");
    napi_create_array(env, &events);
    deliver(s, err, events);
    source_close(s, false);
  }
  napi_close_handle_scope(env, scope);
}

static void external_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ioam_source *s = (ioam_source *)data;
  s->external_alive = false;
  /* Collected while still open: nothing in JS can close it any more, so close it here. */
  if (!s->closing) source_close(s, false);
  maybe_free(s);
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

  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) {
    close(fd);
    free(s);
    throw_last_napi_error(env, "napi_get_uv_event_loop");
    return NULL;
  }
  s->env = env;
  s->fd = fd;
  s->family_id = family_id;
  int r = uv_poll_init(loop, &s->poll, fd);
  if (r != 0) {
    close(fd);
    free(s);
    throw_errno(env, -r, "uv_poll_init", NULL);
    return NULL;
  }
  s->poll.data = s;
  s->external_alive = true;
  napi_value resource_name, external;
  napi_create_string_utf8(env, "IoamEvents", NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_reference(env, argv[0], 1, &s->callback) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &s->async_context) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_cleanup, s, &s->cleanup) != napi_ok ||
      napi_create_external(env, s, external_finalize, NULL, &external) != napi_ok) {
    s->external_alive = false;
    source_close(s, false);
    throw_last_napi_error(env, "ioamEventsOpen");
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

static ioam_source *source_arg(napi_env env, napi_callback_info info, napi_value *rest) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  void *data = NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_external || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not an IOAM event source handle");
    return NULL;
  }
  if (rest) {
    if (argc >= 2) *rest = argv[1];
    else napi_get_undefined(env, rest);
  }
  return (ioam_source *)data;
}

static napi_value ioam_events_close(napi_env env, napi_callback_info info) {
  ioam_source *s = source_arg(env, info, NULL);
  if (s) source_close(s, false);
  return NULL;
}

/* ref(handle, true|false): whether the open source keeps the event loop (the process) alive. */
static napi_value ioam_events_ref(napi_env env, napi_callback_info info) {
  napi_value flag;
  ioam_source *s = source_arg(env, info, &flag);
  if (!s || s->closing) return NULL;
  bool ref = true;
  napi_get_value_bool(env, flag, &ref);
  if (ref) uv_ref((uv_handle_t *)&s->poll);
  else uv_unref((uv_handle_t *)&s->poll);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"setHopByHopOptions", NULL, set_hop_by_hop_options, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioamEventsOpen", NULL, ioam_events_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioamEventsClose", NULL, ioam_events_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioamEventsRef", NULL, ioam_events_ref, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
