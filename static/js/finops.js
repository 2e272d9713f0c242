/* finops pages: render Plotly figures embedded as JSON, org switcher, file drop zone, ingest progress.
   No inline handlers: everything is wired here from data- attributes. */
(function () {
  "use strict";

  function renderCharts() {
    document.querySelectorAll(".plot[data-figure]").forEach(function (el) {
      var source = document.getElementById(el.dataset.figure);
      if (!source || !window.Plotly) { return; }
      var figure = JSON.parse(source.textContent);
      if (!figure.data || figure.data.length === 0) {
        el.classList.add("plot-empty");
        el.textContent = "No data for this chart yet.";
        return;
      }
      window.Plotly.newPlot(el, figure.data, figure.layout, {responsive: true, displaylogo: false});
    });
  }

  function wireAutosubmit() {
    document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    document.querySelectorAll(".js-hide").forEach(function (el) { el.hidden = true; });
  }

  function wireDropZone() {
    document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
      var input = zone.querySelector("input[type=file]");
      var names = zone.querySelector("[data-filenames]");
      function show() {
        if (names) {
          names.textContent = Array.prototype.map.call(input.files, function (f) { return f.name; }).join(", ");
        }
      }
      input.addEventListener("change", show);
      ["dragenter", "dragover"].forEach(function (type) {
        zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
      });
      ["dragleave", "drop"].forEach(function (type) {
        zone.addEventListener(type, function () { zone.classList.remove("dragging"); });
      });
      zone.addEventListener("drop", function (event) {
        event.preventDefault();
        if (event.dataTransfer && event.dataTransfer.files.length) {
          input.files = event.dataTransfer.files;
          show();
        }
      });
    });
  }

  function followProgress() {
    var box = document.querySelector("[data-progress-url]");
    if (!box) { return; }
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-progress-label]");
    var status = box.querySelector("[data-progress-status]");
    function update(state) {
      bar.value = state.percent;
      bar.setAttribute("aria-valuenow", state.percent);
      label.textContent = state.percent + "%";
      status.textContent = state.status + " · " + state.rows.toLocaleString("en-US") + " rows" +
        (state.error ? " · " + state.error : "");
      box.dataset.status = state.status;
      // The history row of this job says what the bar says, without waiting for the reload.
      var row = document.querySelector('#history tr[data-job="' + state.job + '"]');
      if (row) {
        var badge = row.querySelector(".status");
        if (badge) { badge.textContent = state.status; badge.className = "status status-" + state.status; }
        var rows = row.querySelector("[data-rows]");
        if (rows && state.done) {
          rows.dataset.rows = state.rows_read;
          rows.textContent = Number(state.rows_read).toLocaleString("en-US");
        }
      }
    }
    function poll() {
      fetch(box.dataset.progressUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (state) {
          update(state);
          if (state.done) {
            // The history below was rendered before the job finished: show its final row.
            window.setTimeout(function () { window.location.reload(); }, 400);
          } else {
            window.setTimeout(poll, 500);
          }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    if (box.dataset.done !== "true") { poll(); }
  }

  function followRun() {
    var box = document.querySelector("[data-run-status-url]");
    if (!box) { return; }
    var label = box.querySelector("[data-run-status]");
    function poll() {
      fetch(box.dataset.runStatusUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (state) {
          label.textContent = state.status;
          box.dataset.status = state.status;
          if (state.done) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    poll();
  }

  // A table wider than its card scrolls in its .table-scroll wrapper; keyboard users scroll it once it is
  // focusable, and a screen reader names it after the table's caption or the card's heading.
  function keyboardScrollers() {
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute("tabindex")) {
          var card = box.closest(".card");
          var heading = box.querySelector("caption") || (card && card.querySelector("h1, h2, h3"));
          box.setAttribute("tabindex", "0");
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", (heading ? heading.textContent.trim() : "Table") + " (scrolls sideways)");
        }
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    keyboardScrollers();
    window.addEventListener("resize", keyboardScrollers);
    followRun();
    wireAutosubmit();
    wireDropZone();
    followProgress();
    renderCharts();
  });
})();
