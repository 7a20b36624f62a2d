// Feed pages (see feedsmith.pages): copy buttons. The page is complete without this file; it
// only shows the buttons where the browser lets a page write to the clipboard.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.dataset.copy).then(
        function () { button.textContent = "Copied"; },
        function () { button.textContent = "Copy failed"; }
      );
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    });
  });
});
