// Behaviour shared by every page; no inline scripts (the CSP allows scripts from this site only).
(function () {
  // <form data-confirm="…">: ask before submitting a destructive action.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
})();
