// The PDF evidence viewer: pdf.js (legacy build, served from node_modules) draws one page at a
// time on a canvas; previous/next page, zoom in/out and fit-to-width, sized for a phone. The
// PDF's bytes come from the inline route (same permission as the download). pdf.js runs with
// isEvalSupported off (no code built from the PDF's fonts; the page's CSP forbids eval anyway)
// and no annotation or script layer: nothing in the PDF runs. ES5 for older in-app browsers.
(function () {
  var root = document.getElementById('pdf-viewer');
  if (!root) return;
  var status = root.querySelector('[data-pdf-status]');
  var lib = window.pdfjsLib;
  function fail(error) {
    root.setAttribute('data-state', 'error');
    status.textContent = root.getAttribute('data-error');
    status.classList.remove('text-muted');
    status.classList.add('text-danger');
    if (window.console && error) console.warn('PDF viewer:', error && error.message);
  }
  if (!lib) { fail(); return; }
  lib.GlobalWorkerOptions.workerSrc = root.getAttribute('data-worker');

  var stage = root.querySelector('[data-pdf-stage]');
  var canvas = root.querySelector('[data-pdf-canvas]');
  var prev = root.querySelector('[data-pdf-prev]');
  var next = root.querySelector('[data-pdf-next]');
  var pageLabel = root.querySelector('[data-pdf-page-label]');
  var zoomLabel = root.querySelector('[data-pdf-zoom-label]');
  var MIN_SCALE = 0.25, MAX_SCALE = 5, STEP = 1.25;
  var MAX_PIXELS = 16 * 1024 * 1024; // a canvas larger than this fails on many phones
  var doc = null, pageNumber = 1, fit = true, scale = 1, busy = false, queued = false;

  function label() {
    pageLabel.textContent = root.getAttribute('data-page-label')
      .replace('{page}', pageNumber).replace('{count}', doc.numPages);
    zoomLabel.textContent = Math.round(scale * 100) + '%';
    prev.disabled = pageNumber <= 1;
    next.disabled = pageNumber >= doc.numPages;
  }

  function render() {
    if (busy) { queued = true; return; }
    busy = true;
    root.setAttribute('data-state', 'rendering');
    doc.getPage(pageNumber).then(function (page) {
      var natural = page.getViewport({ scale: 1 });
      if (fit) {
        var room = stage.clientWidth || natural.width;
        scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, room / natural.width));
      }
      var viewport = page.getViewport({ scale: scale });
      var ratio = window.devicePixelRatio || 1;
      var pixels = viewport.width * viewport.height * ratio * ratio;
      if (pixels > MAX_PIXELS) ratio = ratio * Math.sqrt(MAX_PIXELS / pixels);
      canvas.width = Math.floor(viewport.width * ratio);
      canvas.height = Math.floor(viewport.height * ratio);
      canvas.style.width = Math.floor(viewport.width) + 'px';
      canvas.style.height = Math.floor(viewport.height) + 'px';
      label();
      return page.render({
        canvasContext: canvas.getContext('2d'),
        viewport: viewport,
        transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null
      }).promise;
    }).then(function () {
      busy = false;
      root.setAttribute('data-state', 'ready');
      root.setAttribute('data-page', pageNumber);
      status.textContent = '';
      if (queued) { queued = false; render(); }
    }, function (error) { busy = false; fail(error); });
  }

  function go(delta) {
    var target = pageNumber + delta;
    if (!doc || target < 1 || target > doc.numPages) return;
    pageNumber = target;
    stage.scrollTop = 0;
    render();
  }

  function zoom(factor) {
    if (!doc) return;
    fit = false;
    scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, scale * factor));
    render();
  }

  prev.addEventListener('click', function () { go(-1); });
  next.addEventListener('click', function () { go(1); });
  root.querySelector('[data-pdf-zoom-in]').addEventListener('click', function () { zoom(STEP); });
  root.querySelector('[data-pdf-zoom-out]').addEventListener('click', function () { zoom(1 / STEP); });
  root.querySelector('[data-pdf-fit]').addEventListener('click', function () {
    if (!doc) return;
    fit = true;
    render();
  });
  document.addEventListener('keydown', function (event) {
    if (event.target && /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName)) return;
    if (event.key === 'ArrowLeft' || event.key === 'PageUp') go(-1);
    if (event.key === 'ArrowRight' || event.key === 'PageDown') go(1);
  });
  var resizing = null;
  window.addEventListener('resize', function () { // a phone turned sideways
    if (!doc || !fit) return;
    clearTimeout(resizing);
    resizing = setTimeout(render, 150);
  });

  lib.getDocument({
    url: root.getAttribute('data-src'),
    withCredentials: true,
    isEvalSupported: false,
    enableXfa: false,
    disableRange: true,
    disableStream: true,
    disableAutoFetch: true,
    cMapUrl: root.getAttribute('data-cmaps'),
    cMapPacked: true,
    standardFontDataUrl: root.getAttribute('data-fonts')
  }).promise.then(function (pdf) {
    doc = pdf;
    render();
  }, fail);
})();
