// Warns before upload when a chosen evidence file is over the size cap (the server checks again).
(function () {
  var form = document.getElementById('report-form');
  if (!form) return;
  var limit = parseInt(form.dataset.maxBytes, 10);
  var input = form.querySelector('input[type=file]');
  var warning = document.getElementById('size-warning');
  if (!input || !warning) return;
  function check() {
    var big = Array.prototype.filter.call(input.files || [], function (f) { return f.size > limit; });
    if (big.length) {
      warning.textContent = form.dataset.tooLarge + big.map(function (f) { return f.name; }).join(', ');
      warning.classList.add('d-block'); input.classList.add('is-invalid');
      return false;
    }
    warning.classList.remove('d-block'); input.classList.remove('is-invalid');
    return true;
  }
  input.addEventListener('change', check);
  form.addEventListener('submit', function (event) { if (!check()) event.preventDefault(); });
})();
