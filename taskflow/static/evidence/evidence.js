// Kept files on the report form: a file ticked "Remove" is shown struck through.
(function () {
  Array.prototype.forEach.call(document.querySelectorAll('.tf-evidence-remove input'), function (box) {
    var item = box.closest ? box.closest('.tf-evidence-item') : box.parentNode.parentNode;
    function mark() { item.classList.toggle('tf-evidence-removed', box.checked); }
    box.addEventListener('change', mark);
    mark();
  });
})();

// Evidence thumbnails: a tap opens the image full size over the page (fitted to the screen; a
// tap on the image shows it at its real size to read small print, scrolling); the close button,
// a tap beside the image or Escape closes it. Without this script the link opens the image.
(function () {
  var links = document.querySelectorAll('[data-evidence-full]');
  if (!links.length) return;
  var list = document.querySelector('[data-close-label]');
  var box = document.createElement('div');
  box.className = 'tf-lightbox';
  box.setAttribute('role', 'dialog');
  box.setAttribute('aria-modal', 'true');
  box.setAttribute('data-evidence-lightbox', '');
  box.hidden = true;
  var close = document.createElement('button');
  close.type = 'button';
  close.className = 'btn-close btn-close-white tf-lightbox-close';
  close.setAttribute('aria-label', list ? list.getAttribute('data-close-label') : 'Close');
  var image = document.createElement('img');
  image.className = 'tf-lightbox-image';
  var caption = document.createElement('div');
  caption.className = 'tf-lightbox-caption';
  box.appendChild(close);
  box.appendChild(image);
  box.appendChild(caption);
  document.body.appendChild(box);
  var opener = null;

  function open(link) {
    opener = link;
    image.src = link.getAttribute('href');
    image.alt = link.getAttribute('data-name') || '';
    caption.textContent = link.getAttribute('data-name') || '';
    box.classList.remove('tf-lightbox-actual');
    box.hidden = false;
    document.documentElement.classList.add('tf-lightbox-open');
    close.focus();
  }
  function shut() {
    if (box.hidden) return;
    box.hidden = true;
    image.removeAttribute('src');
    document.documentElement.classList.remove('tf-lightbox-open');
    if (opener) opener.focus();
  }
  Array.prototype.forEach.call(links, function (link) {
    link.addEventListener('click', function (event) {
      if (event.ctrlKey || event.metaKey || event.shiftKey) return; // a new tab, as asked
      event.preventDefault();
      open(link);
    });
  });
  close.addEventListener('click', shut);
  image.addEventListener('click', function (event) {
    event.stopPropagation();
    box.classList.toggle('tf-lightbox-actual');
  });
  box.addEventListener('click', function (event) { if (event.target === box) shut(); });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' || event.key === 'Esc') shut();
  });
})();
