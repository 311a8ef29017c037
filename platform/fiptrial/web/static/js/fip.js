// Progressive enhancement only: every page works without this file.
// Forms marked data-busy disable their button and say that work is in progress, so a long
// upload is not submitted twice and the user sees that something is happening.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("[type=submit]");
      if (button) {
        button.disabled = true;
        var status = document.createElement("p");
        status.setAttribute("role", "status");
        status.className = "notice";
        status.textContent = form.getAttribute("data-busy");
        form.appendChild(status);
      }
    });
  });
  // Mark the current page in the main menu for screen readers and the eye.
  document.querySelectorAll(".main-nav a").forEach(function (link) {
    if (link.pathname === window.location.pathname) {
      link.setAttribute("aria-current", "page");
    }
  });
  // An import running in the background: ask for its status every two seconds, show the rows
  // read so far, and once it has finished load the status page again, which then leads on to
  // the report (or shows why the file was not read). Without this, the page's link does it.
  var progress = document.querySelector("[data-import-status]");
  if (progress) {
    var state = progress.querySelector("[data-import-state]");
    var rows = progress.querySelector("[data-import-rows]");
    var poll = function () {
      fetch(progress.getAttribute("data-import-status"), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      }).then(function (task) {
        if (task.finished) {
          window.location.assign(progress.getAttribute("data-import-page"));
          return;
        }
        state.textContent = progress.getAttribute(
          task.status === "queued" ? "data-label-queued" : "data-label-running");
        if (task.rows_done > 0) {
          rows.textContent = String(task.rows_done) + " " +
            progress.getAttribute("data-label-rows");
        }
        window.setTimeout(poll, 2000);
      }).catch(function () {
        window.setTimeout(poll, 5000);  // a hiccup (a restart, a lost connection): try again
      });
    };
    window.setTimeout(poll, 1000);
  }
});
