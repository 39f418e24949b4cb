/* The scan input shared by the scanning station and batch reception: a keyboard-wedge scanner types the code
   then Enter or Tab; Tab submits instead of leaving the field. Codes garbled by an AZERTY keyboard are
   recovered on the server (devices/lookup.py), the same for every page that takes a code. */
(function () {
  "use strict";

  function bind(input, onCode) {
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Tab" || e.shiftKey || !input.value.trim()) return;
      e.preventDefault();
      if (onCode) {
        var code = input.value;
        input.value = "";
        onCode(code);
      } else if (input.form) {
        if (input.form.requestSubmit) input.form.requestSubmit(); else input.form.submit();
      }
    });
  }

  window.RebootScanInput = { bind: bind };

  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  // Pages with a plain scan form (batch reception): Tab submits the form, the focus comes back after a redirect.
  ready(function () {
    document.querySelectorAll("input[data-scan-input][data-scan-submit]").forEach(function (input) {
      bind(input, null);
      input.focus();
    });
  });
})();
