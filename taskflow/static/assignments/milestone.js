// Warns before upload when a chosen evidence file is over the size cap (the server checks again).
// Looks at every file input of the form (the files and the camera's photos, see photos.js).
(function () {
  var form = document.getElementById('report-form');
  if (!form) return;
  var limit = parseInt(form.dataset.maxBytes, 10);
  var inputs = form.querySelectorAll('input[type=file]');
  var warning = document.getElementById('size-warning');
  if (!inputs.length || !warning) return;
  function check() {
    var big = [];
    Array.prototype.forEach.call(inputs, function (input) {
      var own = Array.prototype.filter.call(input.files || [], function (f) { return f.size > limit; });
      input.classList.toggle('is-invalid', own.length > 0);
      big = big.concat(own);
    });
    if (big.length) {
      warning.textContent = form.dataset.tooLarge + big.map(function (f) { return f.name; }).join(', ');
      warning.classList.add('d-block');
      return false;
    }
    warning.classList.remove('d-block');
    return true;
  }
  form.addEventListener('change', check);
  form.addEventListener('tf-files-changed', check);
  form.addEventListener('submit', function (event) { if (!check()) event.preventDefault(); });
})();
