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
});
