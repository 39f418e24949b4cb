/* Starts the vendored Swagger UI on /api/v1/docs from the page's data attributes (no inline script). */
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui-container");
  var config = { url: el.getAttribute("data-spec-url"), dom_id: "#swagger-ui-container" };
  var extra = JSON.parse(el.getAttribute("data-config") || "{}");
  Object.keys(extra).forEach(function (key) { config[key] = extra[key]; });
  window.ui = SwaggerUIBundle(config);
})();
