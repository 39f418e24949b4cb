/* Small progressive enhancements; every page works without them. No inline scripts (CSP). */
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    // A loan needs an expected return date: mark the date required when "loan" is ticked.
    document.querySelectorAll("form.step").forEach(function (form) {
      var loan = form.querySelector("input[name=loan]");
      var date = form.querySelector("input[name=expected_return_on]");
      if (!loan || !date) return;
      var sync = function () { date.required = loan.checked; };
      loan.addEventListener("change", sync);
      sync();
    });
    // Move focus to the first message after a redirect so screen readers and keyboards land on it.
    var flash = document.querySelector(".flash[role=alert]");
    if (flash) { flash.setAttribute("tabindex", "-1"); flash.focus(); }
  });
})();
