// Progressive enhancement only: every page works without this file.
// Forms marked data-busy say that work is in progress and refuse a second submit, so a long
// upload or a freeze is not sent twice. The button that was pressed is NOT disabled before
// the form is sent: a disabled button's name and value are left out of the request, which
// once made "Gegevens nu bevriezen" silently do nothing. Instead its name and value travel in
// a hidden field, and the buttons are disabled only after the browser has taken the submit.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    var sending = false;
    form.addEventListener("submit", function (event) {
      if (sending) {
        event.preventDefault();
        return;
      }
      sending = true;
      var submitter = event.submitter;
      if (submitter && submitter.name) {
        var carried = document.createElement("input");
        carried.type = "hidden";
        carried.name = submitter.name;
        carried.value = submitter.value;
        carried.setAttribute("data-carried", "");
        form.appendChild(carried);
      }
      var status = document.createElement("p");
      status.setAttribute("role", "status");
      status.className = "notice";
      status.setAttribute("data-busy-note", "");
      status.textContent = form.getAttribute("data-busy");
      form.appendChild(status);
      window.setTimeout(function () {
        form.querySelectorAll("[type=submit]").forEach(function (button) {
          button.disabled = true;
          button.setAttribute("aria-disabled", "true");
        });
      }, 0);
    });
    // Back to this page from the browser's cache (the back button): the form is usable again,
    // without the busy note or the carried button value of the earlier submit.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) {
        return;
      }
      sending = false;
      form.querySelectorAll("[data-carried], p[data-busy-note]").forEach(function (element) {
        element.remove();
      });
      form.querySelectorAll("[type=submit]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-disabled");
      });
    });
  });
  // "All on this list": one checkbox ticks the rows (the rows work without it).
  document.querySelectorAll("[data-check-all]").forEach(function (all) {
    var name = all.getAttribute("data-check-all");
    var form = all.closest("form");
    all.addEventListener("change", function () {
      form.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
        box.checked = all.checked;
      });
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
          rows.textContent = progress.getAttribute("data-label-rows").replace(
            "%(n)s", new Intl.NumberFormat(document.documentElement.lang).format(task.rows_done));
        }
        window.setTimeout(poll, 2000);
      }).catch(function () {
        window.setTimeout(poll, 5000);  // a hiccup (a restart, a lost connection): try again
      });
    };
    window.setTimeout(poll, 1000);
  }
});
