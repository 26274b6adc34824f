// libcurl's multi-socket interface on the libuv loop, as in curl's docs/examples/multi-uv.c:
// curl says which sockets to watch and when to wake it; uv tells curl what happened.
#include "runtime/curl_multi.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <unordered_map>
#include <unordered_set>

namespace setpoint {

namespace {

// Every uv handle of one CurlMulti holds this; `closed` runs when the last of them is closed,
// which may be after the CurlMulti itself is gone.
struct CurlMultiCloser {
  std::function<void()> closed;
};

void release_closer(std::shared_ptr<CurlMultiCloser> closer) {
  if (closer && closer.use_count() == 1 && closer->closed) {
    auto closed = std::move(closer->closed);
    closed();
  }
}

// A uv handle on the heap (`box->handle`, whose data is the box) that frees itself once
// closed, so that no close callback ever needs the CurlMulti.
template <typename Box>
void close_box(Box* box) {
  uv_close(reinterpret_cast<uv_handle_t*>(&box->handle), [](uv_handle_t* handle) {
    auto* b = static_cast<Box*>(handle->data);
    std::shared_ptr<CurlMultiCloser> closer = std::move(b->closer);
    delete b;
    release_closer(std::move(closer));
  });
}

// A response delivered on the next loop iteration: `done` never runs inside request().
struct CurlMultiDeferred {
  uv_timer_t handle;
  std::shared_ptr<CurlMultiCloser> closer;
  HttpClientResponse response;
  HttpClientCallback done;
};

// "2s", "0.2s", "1.5s": the shortest text that reads back as the same number.
std::string seconds_text(double seconds) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, seconds);
  return std::string(buf, r.ptr) + "s";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

bool valid_method(std::string_view m) {
  if (m.empty() || m.size() > 16) return false;
  for (char c : m) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

// RFC 9110 token characters.
bool valid_header_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// A value may not end the header early: a substituted value with a newline would otherwise
// inject headers of its own.
bool valid_header_value(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace

struct CurlMulti::State {
  struct Transfer {
    uint64_t id = 0;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    HttpClientRequest request;  // owns the body that CURLOPT_POSTFIELDS points into
    HttpClientResponse response;
    HttpClientCallback done;
    uint64_t start_ns = 0;
    bool too_big = false;
    char error[CURL_ERROR_SIZE] = {};
    Transfer() = default;
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;
    ~Transfer() {
      if (easy) curl_easy_cleanup(easy);
      curl_slist_free_all(headers);
    }
  };

  // A socket curl asked us to watch. Its poll callback only runs while the handle is open,
  // and every one is closed before the State goes, so `state` is valid whenever it is read.
  struct Socket {
    uv_poll_t handle;
    curl_socket_t fd;
    State* state;
    std::shared_ptr<CurlMultiCloser> closer;
  };

  struct Timer {
    uv_timer_t handle;
    State* state;
    std::shared_ptr<CurlMultiCloser> closer;
  };

  uv_loop_t* loop;
  CURLM* multi = nullptr;  // null once closed
  Timer* timer = nullptr;  // curl's timeout
  std::shared_ptr<CurlMultiCloser> closer = std::make_shared<CurlMultiCloser>();
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> transfers;
  std::unordered_set<Socket*> sockets;
  uint64_t next_id = 1;
  bool closed = false;

  explicit State(uv_loop_t* l);
  uint64_t request(HttpClientRequest request, HttpClientCallback done);
  bool configure(Transfer& t, std::string& error);
  void cancel(uint64_t id);
  void close(std::function<void()> on_closed);
  void finish(Transfer& t, CURLcode code);
  void check_done();
  void defer(HttpClientResponse response, HttpClientCallback done);
  void socket_action(curl_socket_t fd, int flags);

  static int on_socket(CURL*, curl_socket_t fd, int action, void* self, void* socketp);
  static int on_timer(CURLM*, long timeout_ms, void* self);
  static size_t on_body(char* data, size_t size, size_t n, void* self);
};

CurlMulti::State::State(uv_loop_t* l) : loop(l) {
  // curl_global_init must not race another call, and once per process is enough.
  static const bool initialized = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!initialized) spdlog::warn("curl_global_init failed: HTTP transfers will fail");
  timer = new Timer{};
  uv_timer_init(loop, &timer->handle);
  timer->handle.data = timer;
  timer->state = this;
  timer->closer = closer;
  multi = curl_multi_init();
  if (!multi) return;
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &State::on_socket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &State::on_timer);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  // A bound on open sockets: transfers beyond it wait in curl's own queue.
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 64L);
}

int CurlMulti::State::on_socket(CURL*, curl_socket_t fd, int action, void* self, void* socketp) {
  auto* state = static_cast<State*>(self);
  auto* socket = static_cast<Socket*>(socketp);
  if (action == CURL_POLL_REMOVE) {
    if (socket) {
      curl_multi_assign(state->multi, fd, nullptr);
      state->sockets.erase(socket);
      uv_poll_stop(&socket->handle);
      close_box(socket);
    }
    return 0;
  }
  if (!socket) {
    socket = new Socket{};
    socket->fd = fd;
    socket->state = state;
    if (uv_poll_init_socket(state->loop, &socket->handle, fd) != 0) {
      delete socket;
      return -1;  // curl fails the transfers that use this socket
    }
    socket->handle.data = socket;
    socket->closer = state->closer;
    state->sockets.insert(socket);
    curl_multi_assign(state->multi, fd, socket);
  }
  int events = 0;
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT) events |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(&socket->handle, events, [](uv_poll_t* poll, int status, int revents) {
    auto* s = static_cast<Socket*>(poll->data);
    int flags = 0;
    if (status < 0) {
      flags = CURL_CSELECT_ERR;
    } else {
      if (revents & UV_READABLE) flags |= CURL_CSELECT_IN;
      if (revents & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    s->state->socket_action(s->fd, flags);
  });
  return 0;
}

// curl must not be called back from inside this function: the uv timer does it, even for 0.
int CurlMulti::State::on_timer(CURLM*, long timeout_ms, void* self) {
  auto* state = static_cast<State*>(self);
  if (timeout_ms < 0) {
    uv_timer_stop(&state->timer->handle);
    return 0;
  }
  uv_timer_start(
      &state->timer->handle,
      [](uv_timer_t* t) {
        static_cast<Timer*>(t->data)->state->socket_action(CURL_SOCKET_TIMEOUT, 0);
      },
      static_cast<uint64_t>(timeout_ms), 0);
  return 0;
}

size_t CurlMulti::State::on_body(char* data, size_t size, size_t n, void* self) {
  auto* t = static_cast<Transfer*>(self);
  size_t bytes = size * n;
  std::string& body = t->response.body;
  size_t room = t->request.max_body_bytes - body.size();
  if (bytes <= room) {
    body.append(data, bytes);
    return bytes;
  }
  if (!t->request.truncate_body) {
    t->too_big = true;
    return 0;  // anything but `bytes` aborts the transfer (CURLE_WRITE_ERROR)
  }
  body.append(data, room);
  t->response.truncated = true;
  return bytes;
}

void CurlMulti::State::socket_action(curl_socket_t fd, int flags) {
  if (!multi) return;
  int running = 0;
  curl_multi_socket_action(multi, fd, flags, &running);
  check_done();
}

void CurlMulti::State::check_done() {
  int left = 0;
  // A `done` may close() the multi: the loop reads no message after that.
  while (multi) {
    CURLMsg* msg = curl_multi_info_read(multi, &left);
    if (!msg) break;
    if (msg->msg != CURLMSG_DONE) continue;
    CURLcode code = msg->data.result;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    if (t) finish(*t, code);
  }
}

bool CurlMulti::State::configure(Transfer& t, std::string& error) {
  const HttpClientRequest& r = t.request;
  if (r.url.empty()) return error = "no URL", false;
  if (!valid_method(r.method)) return error = "invalid HTTP method \"" + r.method + "\"", false;
  bool has_content_type = false;
  for (const auto& [name, value] : r.headers) {
    if (!valid_header_name(name)) return error = "invalid header name \"" + name + "\"", false;
    if (!valid_header_value(value)) {
      return error = "the value of header " + name + " holds a line break", false;
    }
    has_content_type = has_content_type || iequals(name, "Content-Type");
    // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* next = curl_slist_append(t.headers, line.c_str());
    if (!next) return error = "out of memory", false;
    t.headers = next;
  }
  bool sends_body = r.method != "GET" && r.method != "HEAD";
  // No "Expect: 100-continue" round trip for larger bodies, and no form content type that the
  // caller did not ask for.
  std::vector<const char*> extra = {"Expect:"};
  if (sends_body && !has_content_type) extra.push_back("Content-Type:");
  for (const char* line : extra) {
    curl_slist* next = curl_slist_append(t.headers, line);
    if (!next) return error = "out of memory", false;
    t.headers = next;
  }

  CURL* e = t.easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_setopt(e, CURLOPT_URL, r.url.c_str()) != CURLE_OK) {
    return error = "invalid URL \"" + r.url + "\"", false;
  }
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max(1.0, r.timeout_seconds * 1000.0 + 0.5)));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "setpoint/0.1");
  // As Prometheus does by default, no proxy from the environment (http_proxy): a daemon's
  // targets are named in its config, and loopback traffic must never leave through a proxy.
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  // Any encoding curl can decode; the body bound applies to the decoded bytes.
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &State::on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
  if (r.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (r.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    // Always a body, even an empty one, so that Content-Length is sent.
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
    if (r.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  return true;
}

uint64_t CurlMulti::State::request(HttpClientRequest request, HttpClientCallback done) {
  uint64_t id = next_id++;
  auto t = std::make_unique<Transfer>();
  t->id = id;
  t->request = std::move(request);
  t->start_ns = uv_hrtime();
  std::string error;
  if (closed || !multi) {
    error = "closed";
  } else if (!(t->easy = curl_easy_init())) {
    error = "out of memory";
  } else if (configure(*t, error) && curl_multi_add_handle(multi, t->easy) != CURLM_OK) {
    error = "cannot start the transfer";
  }
  if (!error.empty()) {
    HttpClientResponse response;
    response.error = std::move(error);
    defer(std::move(response), std::move(done));
    return id;
  }
  t->done = std::move(done);
  transfers.emplace(id, std::move(t));
  return id;
}

void CurlMulti::State::defer(HttpClientResponse response, HttpClientCallback done) {
  auto* d = new CurlMultiDeferred{};
  d->response = std::move(response);
  d->done = std::move(done);
  d->closer = closed ? nullptr : closer;
  uv_timer_init(loop, &d->handle);
  d->handle.data = d;
  uv_timer_start(
      &d->handle,
      [](uv_timer_t* timer) {
        auto* box = static_cast<CurlMultiDeferred*>(timer->data);
        HttpClientCallback callback = std::move(box->done);
        HttpClientResponse response = std::move(box->response);
        close_box(box);
        if (callback) callback(response);
      },
      0, 0);
}

void CurlMulti::State::finish(Transfer& t, CURLcode code) {
  HttpClientResponse& r = t.response;
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  r.status = status;
  char* content_type = nullptr;
  if (curl_easy_getinfo(t.easy, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type) {
    r.content_type = content_type;
  }
  r.ok = code == CURLE_OK;
  if (!r.ok) {
    long os_errno = 0;
    curl_easy_getinfo(t.easy, CURLINFO_OS_ERRNO, &os_errno);
    if (t.too_big) {
      r.error = "body larger than " + std::to_string(t.request.max_body_bytes) + " bytes";
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
      r.error = "timed out after " + seconds_text(t.request.timeout_seconds);
    } else if (code == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED) {
      r.error = "connection refused";
    } else if (code == CURLE_TOO_MANY_REDIRECTS) {
      r.error = "more than 3 redirects";
    } else if (code == CURLE_UNSUPPORTED_PROTOCOL) {
      r.error = "unsupported protocol: only http and https URLs are fetched";
    } else {
      r.error = t.error[0] ? std::string(t.error) : std::string(curl_easy_strerror(code));
    }
    r.body.clear();
  }
  r.seconds = static_cast<double>(uv_hrtime() - t.start_ns) / 1e9;
  spdlog::debug("http {} {}: {} in {:.3f}s", t.request.method, t.request.url,
                r.ok ? std::to_string(r.status) : r.error, r.seconds);
  curl_multi_remove_handle(multi, t.easy);
  HttpClientCallback done = std::move(t.done);
  HttpClientResponse response = std::move(r);
  transfers.erase(t.id);  // `t` is gone from here on
  if (done) done(response);
}

void CurlMulti::State::cancel(uint64_t id) {
  auto it = transfers.find(id);
  if (it == transfers.end()) return;
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers.erase(it);
  if (multi) curl_multi_remove_handle(multi, t->easy);
  HttpClientResponse response;
  response.error = "cancelled";
  response.seconds = static_cast<double>(uv_hrtime() - t->start_ns) / 1e9;
  HttpClientCallback done = std::move(t->done);
  t.reset();
  if (done) done(response);
}

void CurlMulti::State::close(std::function<void()> on_closed) {
  if (closed) return;
  closed = true;  // from here, a `done` that asks for a new transfer gets "closed"
  std::vector<uint64_t> ids;
  ids.reserve(transfers.size());
  for (const auto& entry : transfers) ids.push_back(entry.first);
  for (uint64_t id : ids) cancel(id);
  if (multi) {
    // May report sockets of cached connections as removed: on_socket closes their polls.
    curl_multi_cleanup(multi);
    multi = nullptr;
  }
  for (Socket* socket : sockets) {
    uv_poll_stop(&socket->handle);
    close_box(socket);
  }
  sockets.clear();
  uv_timer_stop(&timer->handle);
  close_box(timer);
  timer = nullptr;
  closer->closed = std::move(on_closed);
  closer.reset();
}

CurlMulti::CurlMulti(uv_loop_t* loop) : state_(std::make_unique<State>(loop)) {}

CurlMulti::~CurlMulti() { state_->close(nullptr); }

uint64_t CurlMulti::request(HttpClientRequest request, HttpClientCallback done) {
  return state_->request(std::move(request), std::move(done));
}

void CurlMulti::cancel(uint64_t id) { state_->cancel(id); }

void CurlMulti::close(std::function<void()> closed) { state_->close(std::move(closed)); }

size_t CurlMulti::in_flight() const { return state_->transfers.size(); }

}  // namespace setpoint
