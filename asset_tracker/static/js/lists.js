/* Row selection on lists: "choose every row of this page" and a live count of the chosen rows. */
(function () {
  "use strict";
  document.querySelectorAll("form[data-selection]").forEach(function (form) {
    var all = form.querySelector("input[data-select-all]");
    var boxes = function () { return Array.prototype.slice.call(form.querySelectorAll("input[name=tags]")); };
    var count = form.querySelector("[data-selection-count]");
    function update() {
      var chosen = boxes().filter(function (b) { return b.checked; }).length;
      if (all) {
        all.checked = chosen > 0 && chosen === boxes().length;
        all.indeterminate = chosen > 0 && chosen < boxes().length;
      }
      if (count) {
        var text = chosen === 1 ? count.dataset.one : count.dataset.many;
        count.textContent = chosen ? text.replace("%(num)s", String(chosen)) : count.dataset.none;
      }
    }
    if (all) {
      all.hidden = false;
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    form.addEventListener("change", function (event) {
      if (event.target.name === "tags") { update(); }
    });
    update();
  });
})();
