// Lightbox, previous/next and "more like this". Values from files are only ever set with textContent
// and attributes.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trove-data").textContent);
  var box = document.getElementById("lightbox");
  var order = data.order || [];
  function thumb(id) {
    var p = data.photos[id];
    if (p && p.thumb) return p.thumb;
    var tile = document.querySelector('#p' + id + ' img');
    return tile ? tile.getAttribute("src") : null;
  }
  function text(el, value) { el.textContent = value == null ? "" : String(value); }
  function show(id) {
    var p = data.photos[id];
    if (!p) { box.hidden = true; return; }
    var img = document.getElementById("lb-img");
    var small = thumb(id), src = p.large || small;
    // the large view may be the original itself (file:), which can have moved since, or be a page
    // served over http: then the thumbnail; a late error of an earlier photo's picture changes nothing
    img.onerror = function () {
      if (img.getAttribute("src") !== src) return;
      if (small && src !== small) { src = small; img.src = src; } else { img.hidden = true; }
    };
    if (src) { img.src = src; img.hidden = false; } else { img.removeAttribute("src"); img.hidden = true; }
    img.alt = p.name;
    text(document.getElementById("lb-name"), (p.score != null ? p.score.toFixed(3) + "  " : "") + p.name);
    text(document.getElementById("lb-folder"), p.folder || "");
    var map = document.getElementById("lb-map");
    if (p.map) { map.href = p.map; map.hidden = false; } else { map.hidden = true; }
    var at = order.indexOf(Number(id));
    [["lb-prev", at - 1], ["lb-next", at + 1]].forEach(function (nav) {
      var a = document.getElementById(nav[0]);
      var to = at >= 0 ? order[nav[1]] : undefined;
      a.hidden = to === undefined;
      if (to !== undefined) a.href = "#photo-" + to;
    });
    var table = document.getElementById("lb-meta");
    table.replaceChildren();
    p.meta.forEach(function (kv) {
      var tr = document.createElement("tr"), k = document.createElement("td"), v = document.createElement("td");
      text(k, kv[0]); text(v, kv[1]); tr.append(k, v); table.append(tr);
    });
    var paths = document.getElementById("lb-paths");
    paths.replaceChildren();
    p.paths.forEach(function (path) { var li = document.createElement("li"); text(li, path); paths.append(li); });
    var open = document.getElementById("lb-open");
    if (p.open) {
      open.href = p.open; open.hidden = false;
      text(open, p.open_copy ? "open a copy (written from its archive or cache)" : "open the original");
    } else { open.hidden = true; }
    var more = document.getElementById("lb-more");
    more.replaceChildren();
    var near = data.near[id] || [];
    document.getElementById("lb-more-title").hidden = near.length === 0;
    near.forEach(function (pair) {
      var n = data.photos[pair[0]];
      if (!n) return;
      var a = document.createElement("a"), im = document.createElement("img"), cap = document.createElement("span");
      a.href = "#photo-" + pair[0];
      a.title = n.name;
      var s = thumb(pair[0]);
      if (s) im.src = s;
      im.alt = n.name;
      text(cap, pair[1].toFixed(3) + " " + (n.date || ""));
      a.append(im, cap);
      more.append(a);
    });
    box.hidden = false;
  }
  function route() {
    var m = /^#photo-(\d+)$/.exec(location.hash);
    if (m) show(m[1]); else box.hidden = true;
  }
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", function (e) {
    if (box.hidden) return;
    if (e.key === "Escape") location.hash = "#";
    var nav = {ArrowLeft: "lb-prev", ArrowRight: "lb-next"}[e.key];
    if (nav) {
      var a = document.getElementById(nav);
      if (!a.hidden) { location.replace(a.getAttribute("href")); e.preventDefault(); }
    }
  });
  box.addEventListener("click", function (e) { if (e.target === box) location.hash = "#"; });
  route();
})();
