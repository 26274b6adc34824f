// Tests of the HTTP server: the loop runs in the test thread, a client drives it from a thread of
// its own with plain blocking sockets, and every response is compared byte for byte.
#include "runtime/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "support/fixtures.h"
#include "support/http_loopback.h"

using namespace setpoint;
using namespace setpoint::test;
using namespace setpoint::test::loopback;

namespace {

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n";

HttpResponse json_response(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("a GET with query parameters and headers reaches the handler decoded", "[http_server]") {
  HttpRequest seen;
  TestServer t({}, [&](const HttpRequest& request) {
    seen = request;
    HttpReply reply = json("{\"ok\":true}");
    reply.response.headers = {{"X-Request", "1"}, {"Bad", "a\r\nInjected: yes"}};
    return reply;
  });
  REQUIRE(t.started());
  int port = t.port();
  Received r;
  t.run([&] {
    r = ask(port,
            "GET /api/v1/st%61tus?name=a%20b&flag&x=1+2 HTTP/1.1\r\nHost: localhost\r\n"
            "X-Custom:  Some Value \r\nConnection: close\r\n\r\n");
  });
  CHECK(r.closed);
  CHECK(r.data ==
        kOk + "Content-Length: 11\r\nX-Request: 1\r\nConnection: close\r\n\r\n{\"ok\":true}");
  CHECK(seen.method == "GET");
  CHECK(seen.path == "/api/v1/status");
  CHECK(seen.query == "name=a%20b&flag&x=1+2");
  CHECK(seen.query_param("name") == "a b");
  CHECK(seen.query_param("flag") == "");
  CHECK(seen.query_param("x") == "1 2");
  CHECK(seen.query_param("missing") == std::nullopt);
  REQUIRE(seen.header("x-custom") != nullptr);
  CHECK(*seen.header("x-custom") == "Some Value");
  REQUIRE(seen.header("host") != nullptr);
  CHECK(*seen.header("host") == "localhost");
  CHECK(seen.header("X-Custom") == nullptr);  // names are lower-cased
  CHECK(seen.peer.rfind("127.0.0.1:", 0) == 0);
  CHECK(seen.body.empty());
  CHECK(t.server().address() == "127.0.0.1:" + std::to_string(port));
}

TEST_CASE("a path with a broken percent escape gets 400", "[http_server]") {
  int calls = 0;
  TestServer t({}, [&](const HttpRequest&) {
    ++calls;
    return json("{}");
  });
  REQUIRE(t.started());
  int port = t.port();
  Received r;
  t.run([&] { r = ask(port, "GET /a%zz HTTP/1.1\r\nConnection: close\r\n\r\n"); });
  CHECK(
      r.data ==
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 42\r\nConnection: close\r\n\r\nbad request: bad percent-encoding in path\n");
  CHECK(calls == 0);
}

TEST_CASE("a POST body of 10 bytes reaches the handler", "[http_server]") {
  HttpRequest seen;
  TestServer t({}, [&](const HttpRequest& request) {
    seen = request;
    return json("{\"got\":" + std::to_string(request.body.size()) + "}");
  });
  REQUIRE(t.started());
  int port = t.port();
  Received r;
  t.run([&] {
    r = ask(port,
            "POST /api/v1/push HTTP/1.1\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
            "0123456789");
  });
  CHECK(r.data == kOk + "Content-Length: 10\r\nConnection: close\r\n\r\n{\"got\":10}");
  CHECK(seen.method == "POST");
  CHECK(seen.path == "/api/v1/push");
  CHECK(seen.body == "0123456789");
}

TEST_CASE("a chunked request body is put back together", "[http_server]") {
  std::string body;
  TestServer t({}, [&](const HttpRequest& request) {
    body = request.body;
    return json("{}");
  });
  REQUIRE(t.started());
  int port = t.port();
  Received r;
  t.run([&] {
    r = ask(port,
            "POST /push HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            "4\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n");
  });
  CHECK(r.data == kOk + "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  CHECK(body == "Wikipedia in \r\n\r\nchunks.");
}

TEST_CASE("a body over the limit gets 413 and never reaches the handler", "[http_server]") {
  int calls = 0;
  HttpServerOptions options;
  options.max_body_bytes = 100;
  TestServer t(options, [&](const HttpRequest&) {
    ++calls;
    return json("{}");
  });
  REQUIRE(t.started());
  int port = t.port();
  Received declared, chunked, at_limit;
  t.run([&] {
    // Only the head is sent: the answer must not wait for a body it refuses.
    declared = ask(port, "POST /push HTTP/1.1\r\nContent-Length: 101\r\n\r\n");
    chunked = ask(port, "POST /push HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n" +
                            std::string(50, 'a') + "\r\n33\r\n" + std::string(51, 'b') + "\r\n");
    at_limit = ask(port, "POST /push HTTP/1.1\r\nContent-Length: 100\r\nConnection: close\r\n\r\n" +
                             std::string(100, 'c'));
  });
  std::string too_large =
      "HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 35\r\nConnection: close\r\n\r\nrequest body larger than 100 bytes\n";
  CHECK(declared.closed);
  CHECK(declared.data == too_large);
  CHECK(chunked.closed);
  CHECK(chunked.data == too_large);
  CHECK(at_limit.data == kOk + "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  CHECK(calls == 1);
}

TEST_CASE("headers over the limit get 431", "[http_server]") {
  int calls = 0;
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  TestServer t(options, [&](const HttpRequest&) {
    ++calls;
    return json("{}");
  });
  REQUIRE(t.started());
  int port = t.port();
  Received big, many;
  t.run([&] {
    big = ask(port, "GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
    std::string headers;
    for (int i = 0; i < 300; ++i) headers += "a:\r\n";
    many = ask(port, "GET / HTTP/1.1\r\n" + headers + "\r\n");
  });
  std::string too_large =
      "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 39\r\nConnection: close\r\n\r\nrequest headers larger than 1024 bytes\n";
  CHECK(big.closed);
  CHECK(big.data == too_large);
  CHECK(many.data == too_large);
  CHECK(calls == 0);
}

TEST_CASE("garbage gets 400 with the parser's reason", "[http_server]") {
  int calls = 0;
  TestServer t({}, [&](const HttpRequest&) {
    ++calls;
    return json("{}");
  });
  REQUIRE(t.started());
  int port = t.port();
  Received method, version;
  t.run([&] {
    method = ask(port, "\x01\x02hello\r\n\r\n");
    version = ask(port, "GET / HTTP/9x\r\n\r\n");
  });
  CHECK(method.closed);
  CHECK(method.data ==
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 32\r\nConnection: close\r\n\r\nbad request: HPE_INVALID_METHOD\n");
  CHECK(version.data ==
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 33\r\nConnection: close\r\n\r\nbad request: HPE_INVALID_VERSION\n");
  CHECK(calls == 0);
}

TEST_CASE("keep-alive serves three requests on one connection, pipelined ones in order",
          "[http_server]") {
  std::vector<std::string> peers;
  TestServer t({}, [&](const HttpRequest& request) {
    peers.push_back(request.peer);
    return json("\"" + request.path + "\"");
  });
  REQUIRE(t.started());
  int port = t.port();
  std::vector<std::string> one_by_one;
  Received pipelined;
  t.run([&] {
    int fd = connect_tcp(port);
    for (const char* path : {"/a", "/b", "/c"}) {
      send_all(fd, "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n");
      one_by_one.push_back(read_response(fd));
    }
    close(fd);
    fd = connect_tcp(port);
    send_all(fd,
             "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
             "GET /3 HTTP/1.1\r\nConnection: close\r\n\r\n");
    pipelined = receive(fd);
    close(fd);
  });
  REQUIRE(one_by_one.size() == 3);
  CHECK(one_by_one[0] == kOk + "Content-Length: 4\r\n\r\n\"/a\"");
  CHECK(one_by_one[1] == kOk + "Content-Length: 4\r\n\r\n\"/b\"");
  CHECK(one_by_one[2] == kOk + "Content-Length: 4\r\n\r\n\"/c\"");
  CHECK(pipelined.closed);
  CHECK(pipelined.data == kOk + "Content-Length: 4\r\n\r\n\"/1\"" + kOk +
                              "Content-Length: 4\r\n\r\n\"/2\"" + kOk +
                              "Content-Length: 4\r\nConnection: close\r\n\r\n\"/3\"");
  REQUIRE(peers.size() == 6);
  CHECK(peers[0] == peers[1]);
  CHECK(peers[1] == peers[2]);
  CHECK(peers[3] == peers[5]);
  CHECK(peers[0] != peers[3]);
}

TEST_CASE("HTTP/1.0 requests are answered and closed unless they ask for keep-alive",
          "[http_server]") {
  TestServer t({}, [&](const HttpRequest& request) { return json("{}"); });
  REQUIRE(t.started());
  int port = t.port();
  Received plain;
  std::string kept;
  t.run([&] {
    plain = ask(port, "GET / HTTP/1.0\r\n\r\n");
    int fd = connect_tcp(port);
    send_all(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    kept = read_response(fd);
    close(fd);
  });
  CHECK(plain.closed);
  CHECK(plain.data == kOk + "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  CHECK(kept == kOk + "Content-Length: 2\r\nConnection: keep-alive\r\n\r\n{}");
}

TEST_CASE("Expect: 100-continue is answered before the body is sent", "[http_server]") {
  std::string body;
  TestServer t({}, [&](const HttpRequest& request) {
    body = request.body;
    return json("{}");
  });
  REQUIRE(t.started());
  int port = t.port();
  Received interim, final_response;
  t.run([&] {
    int fd = connect_tcp(port);
    send_all(fd,
             "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
             "Connection: close\r\n\r\n");
    interim = receive(fd, 25);
    send_all(fd, "hello");
    final_response = receive(fd);
    close(fd);
  });
  CHECK(interim.data == "HTTP/1.1 100 Continue\r\n\r\n");
  CHECK(final_response.data == kOk + "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  CHECK(body == "hello");
}

TEST_CASE("beyond max_connections a connection gets 503", "[http_server]") {
  HttpServerOptions options;
  options.max_connections = 2;
  TestServer t(options, [&](const HttpRequest&) { return json("{}"); });
  REQUIRE(t.started());
  int port = t.port();
  std::string first, second;
  Received third;
  t.run([&] {
    int a = connect_tcp(port), b = connect_tcp(port);
    // Both are served (so both are counted) before the third one arrives.
    send_all(a, "GET / HTTP/1.1\r\n\r\n");
    first = read_response(a);
    send_all(b, "GET / HTTP/1.1\r\n\r\n");
    second = read_response(b);
    int c = connect_tcp(port);
    send_all(c, "GET / HTTP/1.1\r\n\r\n");
    third = receive(c);
    close(c);
    close(a);
    close(b);
  });
  CHECK(first == kOk + "Content-Length: 2\r\n\r\n{}");
  CHECK(second == kOk + "Content-Length: 2\r\n\r\n{}");
  CHECK(third.closed);
  CHECK(third.data ==
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n");
}

TEST_CASE("a stream delivers events until the client leaves, then send fails", "[http_server]") {
  std::shared_ptr<HttpStream> stream;
  std::vector<bool> sent;
  TestServer t({}, [&](const HttpRequest&) {
    HttpReply reply;
    reply.response.content_type = "text/event-stream";
    reply.response.headers = {{"Cache-Control", "no-cache"}};
    reply.stream = [&](std::shared_ptr<HttpStream> s) {
      stream = s;
      for (int i = 1; i <= 3; ++i)
        sent.push_back(s->send("data: event " + std::to_string(i) + "\n\n"));
    };
    return reply;
  });
  REQUIRE(t.started());
  int port = t.port();
  std::string expected =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
      "Cache-Control: no-cache\r\nConnection: close\r\n\r\n" +
      chunk("data: event 1\n\n") + chunk("data: event 2\n\n") + chunk("data: event 3\n\n");
  std::atomic<bool> noticed{false};
  bool noticed_before_stop = false;
  bool late_send = true;
  Poller poller(t.loop(), [&] {
    if (!stream || stream->open()) return false;
    late_send = stream->send("data: late\n\n");
    noticed = true;
    return true;
  });
  Received r;
  t.run([&] {
    int fd = connect_tcp(port);
    send_all(fd, "GET /api/v1/events HTTP/1.1\r\n\r\n");
    r = receive(fd, expected.size());
    close(fd);
    for (int i = 0; i < 1000 && !noticed; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    noticed_before_stop = noticed.load();  // so that it was the leaving, not the stop
  });
  CHECK(r.data == expected);
  CHECK(sent == std::vector<bool>{true, true, true});
  CHECK(noticed_before_stop);
  CHECK_FALSE(late_send);
}

TEST_CASE("a stream to a client that never reads is closed once its buffer is full",
          "[http_server]") {
  HttpServerOptions options;
  options.max_stream_buffer = 64 * 1024;
  std::shared_ptr<HttpStream> stream;
  TestServer t(options, [&](const HttpRequest&) {
    HttpReply reply;
    reply.response.content_type = "text/event-stream";
    reply.stream = [&](std::shared_ptr<HttpStream> s) { stream = s; };
    return reply;
  });
  REQUIRE(t.started());
  int port = t.port();
  size_t sent_bytes = 0;
  bool refused = false;
  std::atomic<bool> done{false}, client_left{false};
  bool refused_while_connected = false;
  const std::string event = "data: " + std::string(16 * 1024, 'x') + "\n\n";
  Poller poller(t.loop(), [&] {
    if (!stream) return false;
    for (int i = 0; i < 64 && sent_bytes < (size_t{256} << 20); ++i) {
      if (!stream->send(event)) {
        refused = true;
        refused_while_connected = !client_left;
        break;
      }
      sent_bytes += event.size();
    }
    done = refused || sent_bytes >= (size_t{256} << 20);
    return done.load();
  });
  t.run([&] {
    int fd = connect_tcp(port);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    send_all(fd, "GET /api/v1/events HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 2000 && !done; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    client_left = true;
    close(fd);
  });
  CHECK(refused_while_connected);
  REQUIRE(stream);
  CHECK_FALSE(stream->open());
  CHECK(sent_bytes > 0);
}

TEST_CASE("a handler that throws gives 500", "[http_server]") {
  TestServer t({}, [&](const HttpRequest& request) -> HttpReply {
    if (request.path == "/boom") throw std::runtime_error("boom");
    throw 42;
  });
  REQUIRE(t.started());
  int port = t.port();
  Received std_error, other;
  t.run([&] {
    std_error = ask(port, "GET /boom HTTP/1.1\r\nConnection: close\r\n\r\n");
    other = ask(port, "GET /other HTTP/1.1\r\nConnection: close\r\n\r\n");
  });
  std::string expected =
      "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: 22\r\nConnection: close\r\n\r\ninternal server error\n";
  CHECK(std_error.data == expected);
  CHECK(other.data == expected);
}

TEST_CASE("a unix socket has mode 0600, serves requests and is removed on stop", "[http_server]") {
  TempDir dir;
  std::string path = dir.file("control.sock");
  HttpServerOptions options;
  options.listen = "unix:" + path;
  std::string peer;
  TestServer t(options, [&](const HttpRequest& request) {
    peer = request.peer;
    return json("{}");
  });
  REQUIRE(t.started());
  CHECK(t.server().address() == "unix:" + path);
  CHECK(t.port() == 0);
  struct stat st;
  REQUIRE(lstat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  Received r;
  t.run([&] {
    int fd = connect_unix(path);
    send_all(fd, "GET /api/v1/status HTTP/1.1\r\nConnection: close\r\n\r\n");
    r = receive(fd);
    close(fd);
  });
  CHECK(r.data == kOk + "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  CHECK(peer == "unix");
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a stale unix socket is replaced, a live one or a non-socket is refused",
          "[http_server]") {
  TempDir dir;
  std::string stale = dir.file("stale.sock");
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, stale.data(), stale.size());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    close(fd);  // the file stays behind, with nobody listening
  }
  std::string regular = dir.file("notes.txt");
  write_text(regular, "keep me\n");
  auto handler = [](const HttpRequest&) { return json("{}"); };
  HttpServerOptions options;
  options.listen = "unix:" + stale;
  TestServer t(options, handler);
  CHECK(t.start_error() == "");
  REQUIRE(t.started());

  uv_loop_t other_loop;
  uv_loop_init(&other_loop);
  std::string live_error, file_error;
  {
    HttpServer live(&other_loop, options, handler);
    CHECK_FALSE(live.start(live_error));
    HttpServerOptions on_file;
    on_file.listen = "unix:" + regular;
    HttpServer file(&other_loop, on_file, handler);
    CHECK_FALSE(file.start(file_error));
  }
  CHECK(uv_loop_close(&other_loop) == 0);  // a failed start leaves no handle behind
  CHECK(live_error == "unix:" + stale + ": another server is listening on it");
  CHECK(file_error == "unix:" + regular + ": exists and is not a socket");
  CHECK(read_text(regular) == "keep me\n");

  Received r;
  t.run([&] {
    int fd = connect_unix(stale);
    send_all(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    r = receive(fd);
    close(fd);
  });
  CHECK(r.data == kOk + "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
}

TEST_CASE("a listen address that cannot be used says why", "[http_server]") {
  TestServer t({}, [](const HttpRequest&) { return json("{}"); });
  REQUIRE(t.started());
  std::string taken = "127.0.0.1:" + std::to_string(t.port());
  uv_loop_t other_loop;
  uv_loop_init(&other_loop);
  std::string in_use, nonsense, bad_port;
  {
    HttpServerOptions options;
    options.listen = taken;
    HttpServer a(&other_loop, options, {});
    CHECK_FALSE(a.start(in_use));
    options.listen = "nonsense";
    HttpServer b(&other_loop, options, {});
    CHECK_FALSE(b.start(nonsense));
    options.listen = "127.0.0.1:99999";
    HttpServer c(&other_loop, options, {});
    CHECK_FALSE(c.start(bad_port));
  }
  CHECK(uv_loop_close(&other_loop) == 0);
  CHECK(in_use == taken + ": address already in use");
  CHECK(nonsense == "nonsense: bad listen address: want host:port, [ipv6]:port or unix:/path");
  CHECK(bad_port ==
        "127.0.0.1:99999: bad listen address: want host:port, [ipv6]:port or unix:/path");
  t.run([] {});
}

TEST_CASE("an idle connection and a half-sent request are closed after the idle timeout",
          "[http_server]") {
  int calls = 0;
  HttpServerOptions options;
  options.idle_timeout_seconds = 0.2;
  TestServer t(options, [&](const HttpRequest&) {
    ++calls;
    return json("{}");
  });
  REQUIRE(t.started());
  int port = t.port();
  Received idle, half;
  t.run([&] {
    int a = connect_tcp(port), b = connect_tcp(port);
    send_all(b, "GET / HTTP/1.1\r\nHost:");
    idle = receive(a);
    half = receive(b);
    close(a);
    close(b);
  });
  CHECK(idle.closed);
  CHECK(idle.data == "");
  CHECK(half.closed);
  CHECK(half.data == "");
  CHECK(calls == 0);
}

TEST_CASE("random bytes and cut-off requests never crash the server", "[http_server]") {
  int calls = 0;
  TestServer t({}, [&](const HttpRequest&) {
    ++calls;
    return json("{}");
  });
  REQUIRE(t.started());
  int port = t.port();
  const std::string full = "POST /push HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  std::vector<Received> random_answers, cut_answers;
  Received after;
  t.run([&] {
    std::mt19937 random(42);
    for (int i = 0; i < 200; ++i) {
      std::string bytes(1 + random() % 3000, '\0');
      for (char& ch : bytes) ch = static_cast<char>(random());
      if (i % 4 == 0) bytes = full.substr(0, random() % full.size()) + bytes;  // valid, then not
      int fd = connect_tcp(port);
      send_all(fd, bytes);
      shutdown(fd, SHUT_WR);
      random_answers.push_back(receive(fd));
      close(fd);
    }
    for (size_t cut = 0; cut <= full.size(); ++cut) {
      int fd = connect_tcp(port);
      send_all(fd, full.substr(0, cut));
      shutdown(fd, SHUT_WR);  // the client is done: a whole request is still answered
      cut_answers.push_back(receive(fd));
      close(fd);
    }
    after = ask(port, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  });
  // A valid start may happen to be completed by the random bytes that follow: such requests are
  // answered (and counted), and whatever follows them is refused or left unanswered.
  const std::string ok = kOk + "Content-Length: 2\r\n\r\n{}";
  int answered = 0;
  for (const Received& r : random_answers) {
    CHECK(r.closed);
    std::string_view rest = r.data;
    while (rest.substr(0, ok.size()) == ok) {
      rest.remove_prefix(ok.size());
      ++answered;
    }
    bool refused = rest.empty() || rest.substr(0, 10) == "HTTP/1.1 4";
    CHECK(refused);
  }
  REQUIRE(cut_answers.size() == full.size() + 1);
  for (size_t cut = 0; cut < full.size(); ++cut) {
    CHECK(cut_answers[cut].closed);
    CHECK(cut_answers[cut].data == "");
  }
  CHECK(cut_answers.back().data == kOk + "Content-Length: 2\r\n\r\n{}");
  CHECK(after.data == kOk + "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  CHECK(calls == 2 + answered);
}

TEST_CASE("stop closes every connection and stream, and the loop ends with no handle left",
          "[http_server]") {
  std::shared_ptr<HttpStream> stream;
  TestServer t({}, [&](const HttpRequest& request) {
    if (request.path != "/events") return json("{}");
    HttpReply reply;
    reply.response.content_type = "text/event-stream";
    reply.stream = [&](std::shared_ptr<HttpStream> s) { stream = s; };
    return reply;
  });
  REQUIRE(t.started());
  int port = t.port();
  std::string answer, head;
  Received idle_after, stream_after;
  int refused_fd = 0;
  t.run([&] {
    int idle = connect_tcp(port), events = connect_tcp(port);
    send_all(idle, "GET / HTTP/1.1\r\n\r\n");
    answer = read_response(idle);
    send_all(events, "GET /events HTTP/1.1\r\n\r\n");
    head = read_response(events);
    t.request_stop();
    idle_after = receive(idle);
    stream_after = receive(events);
    close(idle);
    close(events);
    refused_fd = connect_tcp(port);  // nobody listens any more
    if (refused_fd >= 0) close(refused_fd);
  });
  CHECK(answer == kOk + "Content-Length: 2\r\n\r\n{}");
  CHECK(head ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n");
  CHECK(idle_after.closed);
  CHECK(idle_after.data == "");
  CHECK(stream_after.closed);
  CHECK(stream_after.data == "");
  CHECK(refused_fd == -1);
  REQUIRE(stream);
  CHECK_FALSE(stream->open());
  CHECK_FALSE(stream->send("data: after stop\n\n"));
  CHECK(t.stop_callbacks() == 1);
  CHECK(t.close_loop() == 0);
}

TEST_CASE("a deferred reply keeps the connection and the order of pipelined answers",
          "[http_server]") {
  // /slow answers from a timer 30 ms later, /now at once; /sync defers and answers at once.
  // The timers are freed by their close callbacks.
  uv_loop_t* loop = nullptr;
  std::vector<std::string> peers;
  TestServer t({}, [&](const HttpRequest& request) {
    peers.push_back(request.peer);
    HttpReply reply;
    if (request.path == "/now") {
      reply.response.body = "\"now\"";
      return reply;
    }
    if (request.path == "/sync") {
      reply.deferred = [](HttpResponder respond) { respond(json_response("\"sync\"")); };
      return reply;
    }
    reply.deferred = [loop](HttpResponder respond) {
      auto* timer = new uv_timer_t;
      uv_timer_init(loop, timer);
      timer->data = new HttpResponder(std::move(respond));
      uv_timer_start(
          timer,
          [](uv_timer_t* h) {
            auto* r = static_cast<HttpResponder*>(h->data);
            (*r)(json_response("\"slow\""));
            (*r)(json_response("\"a second call does nothing\""));
            delete r;
            uv_close(reinterpret_cast<uv_handle_t*>(h),
                     [](uv_handle_t* c) { delete reinterpret_cast<uv_timer_t*>(c); });
          },
          30, 0);
    };
    return reply;
  });
  loop = t.loop();
  REQUIRE(t.started());
  int port = t.port();
  Received pipelined;
  std::string second;
  t.run([&] {
    int fd = connect_tcp(port);
    send_all(fd,
             "GET /slow HTTP/1.1\r\n\r\nGET /now HTTP/1.1\r\n\r\nGET /sync HTTP/1.1\r\n\r\n"
             "GET /slow HTTP/1.1\r\nConnection: close\r\n\r\n");
    pipelined = receive(fd);
    close(fd);
  });
  CHECK(pipelined.closed);
  CHECK(pipelined.data == kOk + "Content-Length: 6\r\n\r\n\"slow\"" + kOk +
                              "Content-Length: 5\r\n\r\n\"now\"" + kOk +
                              "Content-Length: 6\r\n\r\n\"sync\"" + kOk +
                              "Content-Length: 6\r\nConnection: close\r\n\r\n\"slow\"");
  REQUIRE(peers.size() == 4);
  CHECK(peers[0] == peers[3]);  // one connection for all four
}
