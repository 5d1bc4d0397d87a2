// Starts Swagger UI on the element that names the OpenAPI document (no inline script: see the CSP).
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.dataset.openapiUrl, domNode: root, deepLinking: true, validatorUrl: null });
});
