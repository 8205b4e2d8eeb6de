// Lightbox and "more like this". Values from files are only ever set with textContent / attributes.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trove-data").textContent);
  var box = document.getElementById("lightbox");
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
    var src = thumb(id);
    if (src) { img.src = src; img.hidden = false; } else { img.removeAttribute("src"); img.hidden = true; }
    img.alt = p.name;
    text(document.getElementById("lb-name"), (p.score != null ? p.score.toFixed(3) + "  " : "") + p.name);
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
    if (e.key === "Escape" && !box.hidden) location.hash = "#";
  });
  box.addEventListener("click", function (e) { if (e.target === box) location.hash = "#"; });
  route();
})();
