// HttpActuator against a canned server (what the request carries, failures, timeouts, reading
// the value back), and the CurlMulti under it (callbacks from the loop, cancel, close, bounds).
#include "runtime/http_actuator.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>

#include "runtime/curl_multi.h"
#include "support/canned_http_server.h"

namespace setpoint {
namespace {

using test::CannedHttpServer;
using test::CannedRequest;
using test::CannedResponse;

struct LoopFixture {
  uv_loop_t loop;
  std::unique_ptr<CurlMulti> http;
  bool finished = false;
  LoopFixture() {
    uv_loop_init(&loop);
    http = std::make_unique<CurlMulti>(&loop);
  }
  ~LoopFixture() {
    if (!finished) finish();
  }
  int finish() {
    finished = true;
    http->close();
    return test::finish_loop(&loop);
  }
};

ActuatorConfig http_config(const std::string& url) {
  ActuatorConfig c;
  c.knob = "cache_ttl";
  c.kind = ActuatorConfig::Kind::Http;
  c.timeout_seconds = 5;
  c.http.url = url;
  return c;
}

// Runs one apply() or read() to its result.
std::optional<ActuatorResult> run(LoopFixture& f, const std::function<void(ActuatorCallback)>& op) {
  std::optional<ActuatorResult> result;
  int calls = 0;
  op([&](const ActuatorResult& r) {
    result = r;
    ++calls;
  });
  if (!test::run_loop_until(&f.loop, [&] { return calls > 0; })) return std::nullopt;
  return result;
}

TEST_CASE("an http actuator sends its method with the value in the url, body and headers",
          "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, "stored\n"}; });
  LoopFixture f;
  ActuatorConfig c = http_config(server.url("/knobs/cache_ttl?value={value}"));
  c.http.body = R"({"ttl": {value}})";
  c.http.headers = {{"X-Knob-Value", "{value}"}, {"Authorization", "Bearer abc"}};
  HttpActuator actuator(*f.http, c);
  CHECK_FALSE(actuator.can_read());
  std::optional<ActuatorResult> r =
      run(f, [&](ActuatorCallback done) { actuator.apply(60, std::move(done)); });
  REQUIRE(r);
  CHECK(r->ok);
  CHECK(r->error == "");
  CHECK(r->attempts == 1);
  CHECK(r->output == "stored\n");
  CHECK_FALSE(r->value);
  std::vector<CannedRequest> requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "PUT");
  CHECK(requests[0].target == "/knobs/cache_ttl?value=60");
  CHECK(requests[0].body == R"({"ttl": 60})");
  CHECK(requests[0].header("x-knob-value") == "60");
  CHECK(requests[0].header("authorization") == "Bearer abc");
  CHECK(requests[0].header("content-type") == "application/json");
  CHECK(requests[0].header("content-length") == "11");
  CHECK(f.finish() == 0);
}

TEST_CASE("an http actuator POSTs a plain body as text and writes fractions exactly",
          "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{204, ""}; });
  LoopFixture f;
  ActuatorConfig c = http_config(server.url("/ratio"));
  c.http.method = "post";
  HttpActuator actuator(*f.http, c);
  std::optional<ActuatorResult> r =
      run(f, [&](ActuatorCallback done) { actuator.apply(0.25, std::move(done)); });
  REQUIRE(r);
  CHECK(r->ok);
  std::vector<CannedRequest> requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].method == "POST");
  CHECK(requests[0].body == "0.25");
  CHECK(requests[0].header("content-type") == "text/plain; charset=utf-8");
  CHECK(f.finish() == 0);
}

TEST_CASE("an http actuator answered with 500 fails with the status and the body as output",
          "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{500, "backend exploded"};
  });
  LoopFixture f;
  HttpActuator actuator(*f.http, http_config(server.url("/knob")));
  std::optional<ActuatorResult> r =
      run(f, [&](ActuatorCallback done) { actuator.apply(8, std::move(done)); });
  REQUIRE(r);
  CHECK_FALSE(r->ok);
  CHECK(r->error == "HTTP 500");
  CHECK(r->output == "backend exploded");
  CHECK(r->attempts == 1);
  CHECK(f.finish() == 0);
}

TEST_CASE("an http actuator keeps only the first kMaxActuatorOutput bytes of an answer",
          "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{503, std::string(kMaxActuatorOutput + 1000, 'e')};
  });
  LoopFixture f;
  HttpActuator actuator(*f.http, http_config(server.url("/knob")));
  std::optional<ActuatorResult> r =
      run(f, [&](ActuatorCallback done) { actuator.apply(8, std::move(done)); });
  REQUIRE(r);
  CHECK(r->error == "HTTP 503");
  CHECK(r->output == std::string(kMaxActuatorOutput, 'e'));
  CHECK(f.finish() == 0);
}

TEST_CASE("an http actuator that gets no answer in time fails with timed out", "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, "ok", 3000}; });
  LoopFixture f;
  ActuatorConfig c = http_config(server.url("/knob"));
  c.timeout_seconds = 0.2;
  HttpActuator actuator(*f.http, c);
  std::optional<ActuatorResult> r =
      run(f, [&](ActuatorCallback done) { actuator.apply(8, std::move(done)); });
  REQUIRE(r);
  CHECK_FALSE(r->ok);
  CHECK(r->error == "timed out after 0.2s");
  CHECK(f.finish() == 0);
}

TEST_CASE("an http actuator reads a plain number back", "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, "42\n"}; });
  LoopFixture f;
  ActuatorConfig c = http_config(server.url("/knob"));
  c.http.read_url = server.url("/knob/current");
  HttpActuator actuator(*f.http, c);
  CHECK(actuator.can_read());
  std::optional<ActuatorResult> r =
      run(f, [&](ActuatorCallback done) { actuator.read(std::move(done)); });
  REQUIRE(r);
  CHECK(r->ok);
  REQUIRE(r->value);
  CHECK(*r->value == 42);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].method == "GET");
  CHECK(server.requests()[0].target == "/knob/current");
  CHECK(f.finish() == 0);
}

TEST_CASE("an http actuator reads the number at a JSON pointer", "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200, R"({"a":{"ttl":30}})"};
  });
  LoopFixture f;
  ActuatorConfig c = http_config(server.url("/knob"));
  c.http.read_url = server.url("/config");
  c.http.read_json_pointer = "/a/ttl";
  HttpActuator actuator(*f.http, c);
  std::optional<ActuatorResult> r =
      run(f, [&](ActuatorCallback done) { actuator.read(std::move(done)); });
  REQUIRE(r);
  CHECK(r->ok);
  REQUIRE(r->value);
  CHECK(*r->value == 30);
  CHECK(f.finish() == 0);
}

TEST_CASE("an http actuator read that is not a number fails and says so", "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, "not a number"}; });
  LoopFixture f;
  ActuatorConfig c = http_config(server.url("/knob"));
  c.http.read_url = server.url("/knob");
  HttpActuator actuator(*f.http, c);
  std::optional<ActuatorResult> r =
      run(f, [&](ActuatorCallback done) { actuator.read(std::move(done)); });
  REQUIRE(r);
  CHECK_FALSE(r->ok);
  CHECK(r->error == "the response is not a number: \"not a number\"");
  CHECK_FALSE(r->value);
  CHECK(r->output == "not a number");
  CHECK(f.finish() == 0);
}

TEST_CASE("reading a value at a JSON pointer reports what is missing or wrong", "[http_actuator]") {
  double v = 0;
  std::string error;
  CHECK(http_actuator_read_value(R"({"a":{"ttl":"30"}})", "/a/ttl", v, error));
  CHECK(v == 30);
  CHECK(http_actuator_read_value(" 1.5e3\r\n", "", v, error));
  CHECK(v == 1500);
  CHECK_FALSE(http_actuator_read_value(R"({"a":{}})", "/a/ttl", v, error));
  CHECK(error == "no value at /a/ttl in the response");
  CHECK_FALSE(http_actuator_read_value(R"({"a":{"ttl":true}})", "/a/ttl", v, error));
  CHECK(error == "the value at /a/ttl is not a number: \"true\"");
  CHECK_FALSE(http_actuator_read_value(R"({"a":[1]})", "/a/x", v, error));
  CHECK(error == "no value at /a/x in the response");
  CHECK_FALSE(http_actuator_read_value("{oops", "/a", v, error));
  CHECK(error == "the response is not JSON: \"{oops\"");
  CHECK_FALSE(http_actuator_read_value("{}", "a", v, error));
  CHECK(error == "invalid JSON pointer \"a\": it must start with '/'");
  CHECK_FALSE(http_actuator_read_value("NaN", "", v, error));
  CHECK(error == "the response is not a number: \"NaN\"");
}

TEST_CASE("cancel aborts an http actuator's request and its callback says cancelled",
          "[http_actuator]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, "ok", 3000}; });
  LoopFixture f;
  HttpActuator actuator(*f.http, http_config(server.url("/knob")));
  int calls = 0;
  ActuatorResult result;
  actuator.apply(8, [&](const ActuatorResult& r) {
    result = r;
    ++calls;
  });
  REQUIRE(test::run_loop_until(&f.loop, [&] { return server.requests().size() == 1; }));
  actuator.cancel();
  CHECK(calls == 1);
  CHECK_FALSE(result.ok);
  CHECK(result.error == "cancelled");
  actuator.cancel();
  CHECK(calls == 1);
  CHECK(f.finish() == 0);
  CHECK(calls == 1);
}

TEST_CASE("a transfer's callback runs from the loop and never inside request", "[curl]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, "hello"}; });
  LoopFixture f;
  int calls = 0;
  HttpClientResponse response;
  HttpClientRequest request;
  request.url = server.url("/hello");
  uint64_t id = f.http->request(request, [&](const HttpClientResponse& r) {
    response = r;
    ++calls;
  });
  CHECK(id != 0);
  CHECK(calls == 0);
  CHECK(f.http->in_flight() == 1);
  REQUIRE(test::run_loop_until(&f.loop, [&] { return calls > 0; }));
  CHECK(calls == 1);
  CHECK(response.ok);
  CHECK(response.status == 200);
  CHECK(response.body == "hello");
  CHECK(response.content_type == "text/plain; version=0.0.4");
  CHECK(response.error == "");
  CHECK(f.http->in_flight() == 0);
  CHECK(f.finish() == 0);
}

TEST_CASE("a request refused at once still reports through the loop", "[curl]") {
  LoopFixture f;
  std::vector<std::string> errors;
  auto record = [&](const HttpClientResponse& r) { errors.push_back(r.error); };
  HttpClientRequest bad_header;
  bad_header.url = "http://127.0.0.1:1/";
  bad_header.headers = {{"X-Value", "1\r\nInjected: yes"}};
  f.http->request(bad_header, record);
  HttpClientRequest file;
  file.url = "file:///etc/passwd";
  f.http->request(file, record);
  CHECK(errors.empty());
  REQUIRE(test::run_loop_until(&f.loop, [&] { return errors.size() == 2; }));
  std::sort(errors.begin(), errors.end());
  CHECK(errors ==
        std::vector<std::string>{"the value of header X-Value holds a line break",
                                 "unsupported protocol: only http and https URLs are fetched"});
  CHECK(f.finish() == 0);
}

TEST_CASE("a body over the bound fails the transfer unless truncation is asked for", "[curl]") {
  CannedHttpServer server([](const CannedRequest&) {
    return CannedResponse{200, std::string(100, 'x')};
  });
  LoopFixture f;
  std::vector<HttpClientResponse> responses;
  HttpClientRequest request;
  request.url = server.url("/big");
  request.max_body_bytes = 10;
  f.http->request(request, [&](const HttpClientResponse& r) { responses.push_back(r); });
  REQUIRE(test::run_loop_until(&f.loop, [&] { return responses.size() == 1; }));
  request.truncate_body = true;
  f.http->request(request, [&](const HttpClientResponse& r) { responses.push_back(r); });
  REQUIRE(test::run_loop_until(&f.loop, [&] { return responses.size() == 2; }));
  CHECK_FALSE(responses[0].ok);
  CHECK(responses[0].error == "body larger than 10 bytes");
  CHECK(responses[0].body == "");
  CHECK(responses[1].ok);
  CHECK(responses[1].body == std::string(10, 'x'));
  CHECK(responses[1].truncated);
  CHECK(f.finish() == 0);
}

TEST_CASE("a transfer follows up to 3 redirects and fails on the fourth", "[curl]") {
  // /hop/N redirects to /hop/N-1; /hop/0 answers.
  CannedHttpServer server([](const CannedRequest& r) {
    int n = std::stoi(r.target.substr(5));
    if (n == 0) return CannedResponse{200, "arrived"};
    CannedResponse redirect{302, ""};
    redirect.headers = {{"Location", "/hop/" + std::to_string(n - 1)}};
    return redirect;
  });
  LoopFixture f;
  std::vector<HttpClientResponse> responses;
  const char* paths[] = {"/hop/3", "/hop/4"};
  for (size_t i = 0; i < 2; ++i) {
    HttpClientRequest request;
    request.url = server.url(paths[i]);
    f.http->request(request, [&](const HttpClientResponse& r) { responses.push_back(r); });
    REQUIRE(test::run_loop_until(&f.loop, [&] { return responses.size() == i + 1; }));
  }
  CHECK(responses[0].ok);
  CHECK(responses[0].status == 200);
  CHECK(responses[0].body == "arrived");
  CHECK_FALSE(responses[1].ok);
  CHECK(responses[1].error == "more than 3 redirects");
  CHECK(server.requests().size() == 8);
  CHECK(f.finish() == 0);
}

TEST_CASE("cancel runs a transfer's callback once with cancelled", "[curl]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, "ok", 3000}; });
  LoopFixture f;
  int calls = 0;
  std::string error;
  HttpClientRequest request;
  request.url = server.url("/slow");
  uint64_t id = f.http->request(request, [&](const HttpClientResponse& r) {
    error = r.error;
    ++calls;
  });
  REQUIRE(test::run_loop_until(&f.loop, [&] { return server.requests().size() == 1; }));
  f.http->cancel(id);
  CHECK(calls == 1);
  CHECK(error == "cancelled");
  f.http->cancel(id);
  f.http->cancel(12345);
  CHECK(calls == 1);
  CHECK(f.http->in_flight() == 0);
  CHECK(f.finish() == 0);
}

TEST_CASE("close cancels every transfer, closes every handle and refuses new requests", "[curl]") {
  CannedHttpServer server([](const CannedRequest&) { return CannedResponse{200, "ok", 3000}; });
  LoopFixture f;
  std::vector<std::string> errors;
  HttpClientRequest request;
  request.url = server.url("/slow");
  for (int i = 0; i < 2; ++i) {
    f.http->request(request, [&](const HttpClientResponse& r) { errors.push_back(r.error); });
  }
  REQUIRE(test::run_loop_until(&f.loop, [&] { return server.requests().size() == 1; }));
  bool closed = false;
  f.http->close([&] { closed = true; });
  CHECK(errors == std::vector<std::string>{"cancelled", "cancelled"});
  CHECK_FALSE(closed);
  f.http->request(request, [&](const HttpClientResponse& r) { errors.push_back(r.error); });
  REQUIRE(test::run_loop_until(&f.loop, [&] { return closed && errors.size() == 3; }));
  CHECK(errors.back() == "closed");
  f.finished = true;
  CHECK(test::finish_loop(&f.loop) == 0);
}

}  // namespace
}  // namespace setpoint
