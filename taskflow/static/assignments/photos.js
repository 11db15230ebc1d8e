// Photo evidence on phones (issue #14): the report form's 「拍照」 input (accept="image/*"
// capture="environment") and any other input[type=file][data-downscale].
//
// Where the browser can (canvas.toBlob and the DataTransfer constructor: Chrome/Android WebView
// 60+, iOS 14.1+), a JPEG or PNG photo larger than MAX_SIDE pixels on its longer side - or any
// other image the browser can decode, such as an iPhone's HEIC - is redrawn on a canvas at most
// MAX_SIDE px and saved as JPEG (quality QUALITY, name ending .jpg), and the input's files are
// replaced with the result. The server sniffs every upload (core/uploads.py accepts JPEG and PNG
// content), so whatever this script cannot improve is sent as it is: no support, a decode error
// or a result no smaller than the original all fall back to the original file.
//
// The camera input collects photos: each shot is added to the ones taken before (each can be
// removed again), so a reporter can take several photos one after the other.
//
// Plain ES5 in a function: no modules, no await, nothing the DingTalk-family webviews lack.
(function () {
  'use strict';
  var MAX_SIDE = 2000;
  var QUALITY = 0.85;
  var KEEP_BELOW_BYTES = 600 * 1024; // a small JPEG/PNG within MAX_SIDE is sent untouched

  var canReplaceFiles = (function () {
    try { return typeof DataTransfer === 'function' && !!new DataTransfer().items; }
    catch (e) { return false; }
  })();
  var canvasProto = window.HTMLCanvasElement && HTMLCanvasElement.prototype;
  // The image is read as a data: URL - the Content-Security-Policy allows data: images, not blob:.
  var canEncode = !!(canvasProto && canvasProto.toBlob && window.FileReader);

  function jpegName(name) {
    var stem = (name || '').replace(/\.[^.\/\\]*$/, '') || 'photo';
    return stem + '.jpg';
  }

  function isImage(file) { return /^image\//.test(file.type || ''); }

  // callback(file): the downscaled JPEG, or the original file when that is not better.
  function shrink(file, callback) {
    if (!canEncode || !isImage(file)) { callback(file); return; }
    var img = new Image();
    var done = false;
    function finish(result) {
      if (done) return;
      done = true;
      img.src = '';
      callback(result);
    }
    img.onerror = function () { finish(file); };
    img.onload = function () {
      try {
        var w = img.naturalWidth, h = img.naturalHeight;
        var plain = /^image\/(jpeg|png)$/.test(file.type);
        if (!w || !h) { finish(file); return; }
        if (plain && Math.max(w, h) <= MAX_SIDE && file.size <= KEEP_BELOW_BYTES) { finish(file); return; }
        var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
        var canvas = document.createElement('canvas');
        canvas.width = Math.max(1, Math.round(w * scale));
        canvas.height = Math.max(1, Math.round(h * scale));
        var ctx = canvas.getContext('2d');
        ctx.fillStyle = '#fff'; // JPEG has no transparency: a PNG's clear parts turn white
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) {
          if (!blob || blob.type !== 'image/jpeg' || (plain && blob.size >= file.size)) { finish(file); return; }
          try {
            finish(new File([blob], jpegName(file.name), { type: 'image/jpeg', lastModified: Date.now() }));
          } catch (e) { finish(file); } // no File constructor: send the original
        }, 'image/jpeg', QUALITY);
      } catch (e) { finish(file); }
    };
    var reader = new FileReader();
    reader.onerror = function () { finish(file); };
    reader.onload = function () { img.src = reader.result; };
    reader.readAsDataURL(file);
  }

  function shrinkAll(files, callback) {
    var out = new Array(files.length);
    var left = files.length;
    if (!left) { callback(out); return; }
    Array.prototype.forEach.call(files, function (file, i) {
      shrink(file, function (result) {
        out[i] = result;
        left -= 1;
        if (!left) callback(out);
      });
    });
  }

  function setFiles(input, files) {
    var dt = new DataTransfer();
    files.forEach(function (f) { dt.items.add(f); });
    input.files = dt.files;
  }

  function sizeText(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(n / 1024)) + ' KB';
  }

  var pending = 0;
  var forms = [];

  function busy(form, on) {
    var buttons = form.querySelectorAll('[type=submit]');
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = on; });
    form.setAttribute('data-preparing-photos', on ? '1' : '0');
  }

  function track(form, delta) {
    pending += delta;
    busy(form, pending > 0);
  }

  function setUp(input) {
    var form = input.form;
    if (!form) return;
    if (forms.indexOf(form) < 0) forms.push(form);
    var collect = input.hasAttribute('capture');
    var list = collect ? document.getElementById(input.id + '-list') : null;
    var kept = []; // the camera input's photos so far

    function render() {
      if (!list) return;
      list.innerHTML = '';
      kept.forEach(function (file, i) {
        var li = document.createElement('li');
        li.setAttribute('data-photo', String(i));
        var icon = document.createElement('i');
        icon.className = 'bi bi-image';
        var text = document.createElement('span');
        text.textContent = file.name + ' · ' + sizeText(file.size);
        var remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'btn btn-sm btn-outline-danger';
        remove.setAttribute('aria-label', (input.getAttribute('data-remove-label') || 'Remove') + ' ' + file.name);
        remove.innerHTML = '<i class="bi bi-x-lg"></i>';
        remove.addEventListener('click', function () {
          kept.splice(i, 1);
          setFiles(input, kept);
          render();
          input.dispatchEvent(new Event('tf-files-changed', { bubbles: true }));
        });
        li.appendChild(icon); li.appendChild(text); li.appendChild(remove);
        list.appendChild(li);
      });
    }

    input.addEventListener('change', function () {
      var chosen = Array.prototype.slice.call(input.files || []);
      if (!canReplaceFiles) {
        // Nothing can be replaced: the browser sends what it holds; just show it.
        if (collect) { kept = chosen; render(); }
        return;
      }
      if (!chosen.length && !collect) return;
      track(form, 1);
      shrinkAll(chosen, function (result) {
        if (collect) {
          kept = kept.concat(result);
          setFiles(input, kept);
          render();
        } else {
          setFiles(input, result);
        }
        track(form, -1);
        input.dispatchEvent(new Event('tf-files-changed', { bubbles: true }));
      });
    });
  }

  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (forms.indexOf(form) >= 0 && pending > 0) event.preventDefault(); // photos still shrinking
  }, true);

  Array.prototype.forEach.call(document.querySelectorAll('input[type=file][data-downscale]'), setUp);
})();
