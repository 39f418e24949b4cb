/* Small progressive enhancements; every page works without them. No inline scripts (CSP). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  // Disclosure menus (menu groups, account): a button with aria-expanded opens its list; Escape, a click
  // elsewhere or the focus leaving closes it. One group is open at a time.
  function setOpen(group, open) {
    var button = group.querySelector("[data-disclosure]");
    group.classList.toggle("nav-group--open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  function openGroups() { return Array.prototype.slice.call(document.querySelectorAll(".nav-group--open")); }
  function setupMenus() {
    document.querySelectorAll("[data-disclosure]").forEach(function (button) {
      var group = button.closest(".nav-group");
      button.addEventListener("click", function () {
        var open = !group.classList.contains("nav-group--open");
        openGroups().forEach(function (g) { if (g !== group) setOpen(g, false); });
        setOpen(group, open);
      });
      group.addEventListener("keydown", function (e) {
        if (e.key === "Escape" && group.classList.contains("nav-group--open")) {
          setOpen(group, false);
          button.focus();
          e.stopPropagation();
        } else if ((e.key === "ArrowDown" || e.key === "ArrowUp") && group.classList.contains("nav-group--open")) {
          var links = Array.prototype.slice.call(group.querySelectorAll(".nav-group__list a, .nav-group__list button"));
          if (!links.length) return;
          var i = links.indexOf(document.activeElement);
          var next = e.key === "ArrowDown" ? (i + 1) % links.length : (i <= 0 ? links.length - 1 : i - 1);
          links[next].focus();
          e.preventDefault();
        }
      });
      group.addEventListener("focusout", function (e) {
        if (e.relatedTarget && !group.contains(e.relatedTarget)) setOpen(group, false);
      });
    });
    document.addEventListener("click", function (e) {
      openGroups().forEach(function (g) { if (!g.contains(e.target)) setOpen(g, false); });
    });
    var header = document.getElementById("site-header");
    var toggle = document.getElementById("menu-toggle");
    if (header && toggle) {
      toggle.addEventListener("click", function () {
        var open = !header.classList.contains("site-header--open");
        header.classList.toggle("site-header--open", open);
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
      header.addEventListener("keydown", function (e) {
        if (e.key === "Escape" && header.classList.contains("site-header--open") && !openGroups().length) {
          header.classList.remove("site-header--open");
          toggle.setAttribute("aria-expanded", "false");
          toggle.focus();
        }
      });
    }
  }
  ready(function () {
    setupMenus();
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
