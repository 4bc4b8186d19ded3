(function () {
  'use strict';
  // The top users' order switch: both orders are in the page, one tbody (and hint) each.
  var buttons = Array.prototype.slice.call(document.querySelectorAll('.order-switch button'));
  if (buttons.length) {
    buttons[0].parentNode.hidden = false;
    var order = function (key) {
      buttons.forEach(function (b) { b.setAttribute('aria-pressed', b.getAttribute('data-order') === key ? 'true' : 'false'); });
      document.querySelectorAll('tbody[data-order], p.hint[data-order]').forEach(function (e) {
        e.hidden = e.getAttribute('data-order') !== key;
      });
    };
    buttons.forEach(function (b) {
      b.addEventListener('click', function () { order(b.getAttribute('data-order')); });
    });
  }
  var panel = document.getElementById('bucket');
  var bars = Array.prototype.slice.call(document.querySelectorAll('.chart .bar'));
  if (!panel || !bars.length) return;
  var data = JSON.parse(document.getElementById('data').textContent);

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function row(cells, cellTag) {
    var tr = el('tr');
    cells.forEach(function (c) { tr.appendChild(el(cellTag, c[0], c[1])); });
    return tr;
  }
  function show(i) {
    var b = data.buckets[i];
    if (!b) return;
    bars.forEach(function (g) {
      var on = Number(g.getAttribute('data-i')) === i;
      g.classList.toggle('active', on);
      g.setAttribute('aria-pressed', on ? 'true' : 'false');
    });
    var nodes = [];
    var h = el('h3', 'Failure rate ' + b.label + ' ');
    h.appendChild(el('span', '· ' + b.count + (b.count === 1 ? ' user' : ' users'), 'count'));
    nodes.push(h);
    if (!b.users.length) {
      nodes.push(el('p', 'No users in this range.', 'muted'));
    } else {
      var table = el('table');
      var thead = el('thead');
      thead.appendChild(row([['User'], ['Failure rate', 'num'], ['Failed / total', 'num']], 'th'));
      var tbody = el('tbody');
      b.users.forEach(function (u) {
        tbody.appendChild(row([[u.name, 'name'], [u.rate, 'num'], [u.failed + ' / ' + u.total, 'num']], 'td'));
      });
      table.appendChild(thead);
      table.appendChild(tbody);
      var wrap = el('div', null, 'scroll');
      wrap.appendChild(table);
      nodes.push(wrap);
    }
    var more = b.count - b.users.length;
    if (more > 0) nodes.push(el('p', 'and ' + more + ' more (all users are in the CSV export)', 'more'));
    while (panel.firstChild) panel.removeChild(panel.firstChild);
    nodes.forEach(function (n) { panel.appendChild(n); });
  }
  bars.forEach(function (g, k) {
    var i = Number(g.getAttribute('data-i'));
    g.addEventListener('mouseenter', function () { show(i); });
    g.addEventListener('focus', function () { show(i); });
    g.addEventListener('click', function () { show(i); });
    g.addEventListener('keydown', function (e) {
      var next = e.key === 'ArrowRight' ? k + 1 : e.key === 'ArrowLeft' ? k - 1 : -1;
      if (next >= 0 && next < bars.length) { e.preventDefault(); bars[next].focus(); }
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); show(i); }
    });
  });
  var m = /bucket=(\d+)/.exec(location.hash);
  if (m) show(Number(m[1]));
})();
