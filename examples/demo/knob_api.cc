// The admin endpoints of the demo service: knob values as JSON, and changes checked against each
// knob's range before the model applies them.
#include "examples/demo/knob_api.h"

#include <nlohmann/json.hpp>

namespace setpoint {

namespace {

constexpr std::string_view kKnobsPath = "/admin/knobs";

HttpResponse json_response(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = body.dump() + "\n";
  return response;
}

HttpResponse error_response(int status, const std::string& message) {
  return json_response(status, nlohmann::json{{"error", message}});
}

HttpResponse method_not_allowed(std::string_view allow) {
  HttpResponse response = error_response(405, "method not allowed; use " + std::string(allow));
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

nlohmann::json knob_json(const DemoServiceModel& model, const DemoKnobSpec& spec) {
  return nlohmann::json{{"name", spec.name}, {"value", model.knob(spec.knob)}};
}

}  // namespace

bool demo_parse_knob_body(std::string_view body, double& value, std::string& error) {
  // Never throws: a body that is not JSON is a null value here.
  nlohmann::json json = nlohmann::json::parse(body, nullptr, false);
  const nlohmann::json* number = &json;
  if (json.is_object() && json.size() == 1 && json.contains("value")) number = &json["value"];
  if (json.is_discarded() || !number->is_number()) {
    error = R"(the body must be {"value": N} or a number N)";
    return false;
  }
  value = number->get<double>();
  return true;
}

HttpResponse demo_knob_request(DemoServiceModel& model, const HttpRequest& request, double now_ms,
                               std::optional<DemoKnobChange>* change) {
  std::string_view path = request.path;
  if (path == kKnobsPath || path == "/admin/knobs/") {
    if (request.method != "GET" && request.method != "HEAD") return method_not_allowed("GET");
    nlohmann::json all = nlohmann::json::object();
    for (const auto& spec : demo_knob_specs()) all[std::string(spec.name)] = model.knob(spec.knob);
    return json_response(200, all);
  }
  if (path.substr(0, kKnobsPath.size() + 1) != "/admin/knobs/") {
    return error_response(404, "no such endpoint");
  }
  std::string name(path.substr(kKnobsPath.size() + 1));
  const DemoKnobSpec* spec = demo_knob_spec(name);
  if (!spec) {
    // The name is the client's text: json::dump escapes it, and it is cut to a bounded length.
    if (name.size() > 64) name = name.substr(0, 64) + "...";
    std::string known;
    for (const auto& s : demo_knob_specs())
      known += (known.empty() ? "" : ", ") + std::string(s.name);
    return error_response(404, "unknown knob \"" + name + "\"; knobs are " + known);
  }
  if (request.method == "GET" || request.method == "HEAD") {
    return json_response(200, knob_json(model, *spec));
  }
  if (request.method != "PUT") return method_not_allowed("GET, PUT");
  double value = 0;
  std::string error;
  if (!demo_parse_knob_body(request.body, value, error)) return error_response(400, error);
  int64_t before = model.knob(spec->knob);
  error = model.set_knob(spec->knob, value, now_ms);
  if (!error.empty()) return error_response(400, error);
  if (change) *change = DemoKnobChange{name, before, model.knob(spec->knob)};
  return json_response(200, knob_json(model, *spec));
}

}  // namespace setpoint
