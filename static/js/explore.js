/* Explore: a search box over each multi-select filter (progressive enhancement: without this script the plain
   <select multiple> works as before). Typing hides the options that do not match; selected ones stay visible. */
(function () {
  "use strict";

  function enhance(picker) {
    var select = picker.querySelector("select[multiple]");
    if (!select || picker.querySelector(".picker-search")) { return; }
    var label = picker.querySelector("label");
    var search = document.createElement("input");
    search.type = "search";
    search.className = "picker-search";
    search.placeholder = "Search " + select.options.length + " values";
    search.setAttribute("aria-label", "Search " + (label ? label.textContent : "values"));
    search.setAttribute("aria-controls", select.id);
    var count = document.createElement("span");
    count.className = "picker-count";
    count.setAttribute("aria-live", "polite");
    function showCount() {
      var n = select.selectedOptions.length;
      count.textContent = n ? n + " selected" : "";
    }
    search.addEventListener("input", function () {
      var needle = search.value.trim().toLowerCase();
      Array.prototype.forEach.call(select.options, function (option) {
        option.hidden = needle !== "" && !option.selected && option.text.toLowerCase().indexOf(needle) === -1;
      });
    });
    // Enter in the search box filters; it must not submit the form.
    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); select.focus(); }
    });
    select.addEventListener("change", showCount);
    select.parentNode.insertBefore(search, select);
    picker.appendChild(count);
    showCount();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-picker]").forEach(enhance);
  });
})();
