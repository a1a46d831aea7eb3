// The console's one script for every page: print buttons (the notice, the receipt, a
// permit). Bound here rather than in an onclick attribute, so the pages can forbid inline
// script (Content-Security-Policy). Everything else works without script.
(function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
