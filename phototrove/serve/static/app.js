// phototrove's web app: the grid, search, the full view and "more like this", all from the local
// server. Everything from the library (names, paths, keywords) is put on the page as text
// (textContent, attributes), never as markup.
"use strict";

const PAGE = 120;
const FILTERS = ["from", "to", "album", "source", "camera", "keyword", "tag", "min_rating", "media", "near",
                 "favorite", "include_trashed"];
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
};

const state = {list: [], next: null, total: 0, mode: "grid", key: "", loading: false, image: null, limit: PAGE,
               info: null, current: null, lastMonth: null};

// -- the URL is the state: ?q=..&plus=..&minus=..&album=..&like=ID&view=ID ---------------------------
function params() { return new URLSearchParams(location.search); }

function listKey(p) {
  const q = new URLSearchParams(p);
  q.delete("view");
  return q.toString();
}

function go(p, replace) {
  const url = "/" + (p.toString() ? "?" + p.toString() : "");
  if (replace) history.replaceState(null, "", url); else history.pushState(null, "", url);
  render();
}

// "beach -people +2:sunset": the words, and the terms added or taken away
function parseQuery(text) {
  const plus = [], minus = [], words = [];
  const re = /([+-])?("([^"]*)"|(\S+))/g;
  let m;
  while ((m = re.exec(text)) !== null) {
    const term = m[3] !== undefined ? m[3] : m[4];
    if (m[1] === "+" && term) plus.push(term);
    else if (m[1] === "-" && term) minus.push(term);
    else words.push(m[0]);
  }
  return {q: words.join(" "), plus, minus};
}

function queryText(p) {
  const quote = (t) => (/\s/.test(t) ? '"' + t + '"' : t);
  return [p.get("q") || ""].concat(p.getAll("plus").map((t) => "+" + quote(t)),
                                   p.getAll("minus").map((t) => "-" + quote(t))).join(" ").trim();
}

function filterParams(p) {
  const out = new URLSearchParams();
  for (const k of FILTERS) for (const v of p.getAll(k)) if (v) out.append(k, v);
  return out;
}

// -- talking to the server --------------------------------------------------------------------------
async function getJSON(url, options) {
  const r = await fetch(url, options);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || r.status + " " + r.statusText);
  return body;
}

function say(text, isError) {
  const s = $("status");
  s.textContent = text || "";
  s.classList.toggle("error", !!isError);
}

// -- the grid ---------------------------------------------------------------------------------------
function monthOf(date) {
  if (!date) return "No date";
  const [y, m] = date.split("-");
  const d = new Date(Date.UTC(+y, +m - 1, 1));
  return d.toLocaleDateString(undefined, {year: "numeric", month: "long", timeZone: "UTC"});
}

function tile(photo, index) {
  const fig = el("figure", "tile");
  fig.dataset.id = photo.id;
  fig.dataset.index = index;
  const a = el("a");
  a.href = "?" + withView(photo.id).toString();
  a.title = photo.name + (photo.folder ? " — " + photo.folder : "");
  const img = el("img");
  img.loading = "lazy";
  img.decoding = "async";
  img.alt = photo.name;
  img.src = "/img/" + photo.id + "/thumb";
  img.addEventListener("error", () => { fig.classList.add("broken"); img.alt = photo.name + " (no preview)"; });
  a.append(img);
  a.addEventListener("click", (ev) => { ev.preventDefault(); openPhoto(photo.id); });
  fig.append(a);
  const cap = el("figcaption");
  if (photo.score !== undefined) cap.append(el("span", "score", photo.score.toFixed(3)));
  if (photo.match && photo.match.text) {   // found by its words: say which field
    cap.append(el("span", "badge", (photo.match.fields || ["text"]).join(", ")));
  }
  cap.append(el("span", "name", photo.name));
  if (photo.media === "video") cap.append(el("span", "badge", "▶ " + (photo.duration || "video")));
  if (photo.stack && photo.stack > 1) cap.append(el("span", "badge", photo.stack + " in stack"));
  for (const f of photo.flags || []) cap.append(el("span", "badge flag", f));
  fig.append(cap);
  return fig;
}

function withView(id) {
  const p = params();
  p.set("view", id);
  return p;
}

function append(photos) {
  const grid = $("grid");
  const dated = state.mode === "grid";
  for (const photo of photos) {
    const index = state.list.length;
    state.list.push(photo);
    if (dated) {
      const month = monthOf(photo.date);
      if (month !== state.lastMonth) {
        grid.append(el("h2", "month", month));
        state.lastMonth = month;
      }
    }
    grid.append(tile(photo, index));
  }
}

function endpoint(p, offset) {
  const f = filterParams(p);
  if (p.get("like")) {
    f.set("limit", state.limit);
    return "/api/similar/" + encodeURIComponent(p.get("like")) + "?" + f.toString();
  }
  if (p.get("q") || p.getAll("plus").length || p.getAll("minus").length) {
    f.set("q", p.get("q") || "");
    for (const t of p.getAll("plus")) f.append("plus", t);
    for (const t of p.getAll("minus")) f.append("minus", t);
    f.set("limit", state.limit);
    return "/api/search?" + f.toString();
  }
  if (p.get("random")) {
    f.set("random", "1");
    return "/api/grid?" + f.toString();
  }
  f.set("offset", offset);
  return "/api/grid?" + f.toString();
}

function modeOf(p) {
  if (p.get("like")) return "similar";
  if (p.get("q") || p.getAll("plus").length || p.getAll("minus").length) return "search";
  if (p.get("image")) return "image";
  return p.get("random") ? "random" : "grid";
}

async function loadList(reset) {
  const p = params();
  if (state.loading) return;
  state.loading = true;
  try {
    if (reset) {
      state.list = []; state.next = null; state.total = 0; state.lastMonth = null; state.limit = PAGE;
      $("grid").replaceChildren();
      state.mode = modeOf(p);
    }
    let answer;
    if (state.mode === "image") {
      if (!state.image) { say("Choose or drop a photo to search with it."); return; }
      answer = await getJSON("/api/search?" + filterParams(p).toString() + "&limit=" + state.limit,
                             {method: "POST", body: state.image, headers: {"content-type": "application/octet-stream"}});
    } else {
      answer = await getJSON(endpoint(p, state.next || 0));
    }
    const photos = answer.photos || [];
    if (state.mode === "grid" || state.mode === "random") {
      append(photos);
      state.next = answer.next;
      state.total = answer.total;
    } else {   // ranked lists grow by asking for more: keep what is shown, add the rest
      append(photos.slice(state.list.length));
      state.next = photos.length >= state.limit && state.limit < 1000 ? state.limit : null;
      state.total = state.list.length;
    }
    describe(p);
  } catch (e) {
    say(e.message, true);
  } finally {
    state.loading = false;
  }
}

function describe(p) {
  const n = state.mode === "grid" ? state.total : state.list.length;
  const what = {grid: "photos", random: "random photos", search: "matches for " + queryText(p),
                similar: "photos like photo " + p.get("like"), image: "photos like the one you gave"}[state.mode];
  say(n === 0 ? "Nothing found." : n.toLocaleString() + " " + what + (state.mode === "grid" && state.list.length < n
      ? " (scroll for more)" : ""));
}

async function more() {
  if (state.next === null || state.loading) return;
  if (state.mode !== "grid") state.limit = Math.min(1000, state.limit + PAGE);
  await loadList(false);
}

// -- the full view ----------------------------------------------------------------------------------
function openPhoto(id) { go(withView(id)); }

function closePhoto() {
  const p = params();
  p.delete("view");
  go(p);
}

function step(delta) {
  if (state.current === null) return;
  const i = state.list.findIndex((x) => x.id === state.current);
  const j = i + delta;
  if (i < 0 || j < 0) return;
  if (j >= state.list.length) { if (state.next !== null) more(); return; }
  go(withView(state.list[j].id), true);
}

async function showPhoto(id) {
  const viewer = $("viewer");
  state.current = id;
  viewer.hidden = false;
  document.body.classList.add("viewing");
  if (document.activeElement && document.activeElement.closest("#bar, #filters")) document.activeElement.blur();
  const side = Math.round(Math.max(window.innerWidth, window.innerHeight) * (window.devicePixelRatio || 1));
  const img = $("v-img");
  img.src = "/img/" + id + "/view?w=" + side;
  img.alt = "";
  $("v-download").href = "/original/" + id;
  $("v-near").replaceChildren();
  delete viewer.dataset.shown;
  try {
    const photo = await getJSON("/api/photo/" + id);
    if (state.current !== id) return;
    $("v-name").textContent = photo.name;
    img.alt = photo.name;
    $("v-folder").textContent = photo.folder || "";
    const rows = photo.meta.map(([k, v]) => {
      const tr = el("tr");
      tr.append(el("th", null, k), el("td", null, v));
      return tr;
    });
    $("v-meta").replaceChildren(...rows);
    $("v-places").replaceChildren(...photo.places.map((pl) => {
      const li = el("li", pl.present ? "" : "gone", pl.where);
      if (pl.original) li.append(el("span", "original", " as " + pl.original));
      if (!pl.present) li.append(el("span", "original", " (not there at the last scan)"));
      return li;
    }));
    const map = $("v-map");
    map.hidden = !photo.map;
    if (photo.map) map.href = photo.map;
    $("v-copy").dataset.path = (photo.paths && photo.paths[0]) || "";
    const i = state.list.findIndex((x) => x.id === id);
    $("v-prev").disabled = i <= 0;
    $("v-next").disabled = i < 0 || (i >= state.list.length - 1 && state.next === null);
    if (photo.embedded) {
      const near = await getJSON("/api/similar/" + id + "?limit=18&" + filterParams(params()).toString());
      if (state.current !== id) return;
      $("v-near").replaceChildren(...near.photos.map((n) => {
        const a = el("a", "near");
        a.href = "?" + withView(n.id).toString();
        a.title = n.name + " (" + n.score.toFixed(3) + ")";
        const t = el("img");
        t.src = "/img/" + n.id + "/thumb";
        t.alt = n.name;
        t.loading = "lazy";
        a.append(t);
        a.addEventListener("click", (ev) => { ev.preventDefault(); openPhoto(n.id); });
        return a;
      }));
    } else {
      $("v-near").replaceChildren(el("p", "note", "Not embedded yet: no neighbours to show."));
    }
    viewer.dataset.shown = id;   // everything of this photo is on the page
  } catch (e) {
    $("v-name").textContent = e.message;
  }
}

function hidePhoto() {
  state.current = null;
  $("viewer").hidden = true;
  $("v-img").removeAttribute("src");
  document.body.classList.remove("viewing");
}

// -- filters and chips ------------------------------------------------------------------------------
const FIELDS = {from: "f-from", to: "f-to", album: "f-album", source: "f-source", camera: "f-camera",
                keyword: "f-keyword", tag: "f-tag", min_rating: "f-rating", media: "f-media", near: "f-near"};

function fillFilters(info) {
  const add = (id, items, value, label) => {
    const select = $(id);
    for (const item of items) {
      const o = el("option", null, label(item));
      o.value = value(item);
      select.append(o);
    }
  };
  add("f-album", info.albums, (a) => a[1], (a) => a[1] + " (" + a[2] + ")");
  add("f-source", info.sources, (s) => String(s[0]), (s) => s[1] + ": " + s[2] + " (" + s[3] + ")");
  add("f-camera", info.cameras, (c) => c[0], (c) => c[0] + " (" + c[1] + ")");
  add("f-keyword", info.keywords, (k) => k[0], (k) => k[0] + " (" + k[1] + ")");
  add("f-tag", info.tags, (t) => t[0], (t) => t[0] + " (" + t[1] + ")");
}

function syncFilters(p) {
  for (const [k, id] of Object.entries(FIELDS)) {
    const v = p.get(k) || (k === "media" ? "all" : "");
    const input = $(id);
    if (input.tagName === "SELECT" && v && ![...input.options].some((o) => o.value === v)) {
      const o = el("option", null, v);
      o.value = v;
      input.append(o);
    }
    input.value = v;
  }
  $("f-favorite").checked = p.get("favorite") === "1";
  $("f-trashed").checked = p.get("include_trashed") === "1";
  const chips = $("chips");
  chips.replaceChildren();
  for (const k of FILTERS) {
    for (const v of p.getAll(k)) {
      if (!v || (k === "media" && v === "all")) continue;
      const chip = el("button", "chip", k.replace("_", " ") + (v === "1" && (k === "favorite" || k === "include_trashed")
                                                                ? "" : ": " + v) + " ×");
      chip.type = "button";
      chip.title = "Remove this filter";
      chip.addEventListener("click", () => {
        const q = params();
        const rest = q.getAll(k).filter((x) => x !== v);
        q.delete(k);
        for (const x of rest) q.append(k, x);
        q.delete("view");
        go(q);
      });
      chips.append(chip);
    }
  }
}

function applyFilters() {
  const p = params();
  for (const [k, id] of Object.entries(FIELDS)) {
    p.delete(k);
    const v = $(id).value.trim();
    if (v && !(k === "media" && v === "all")) p.set(k, v);
  }
  for (const [k, id] of [["favorite", "f-favorite"], ["include_trashed", "f-trashed"]]) {
    p.delete(k);
    if ($(id).checked) p.set(k, "1");
  }
  p.delete("view");
  go(p);
}

// -- export and copy --------------------------------------------------------------------------------
function openExport() {
  const p = params();
  const what = state.mode === "grid" ? (state.total + " photos (everything the filters select)")
                                     : (state.list.length + " photos shown");
  $("export-what").textContent = "Writes " + what + " as real files, named after their originals, with their dates.";
  $("export-result").textContent = "";
  $("export-dialog").showModal();
  $("export-folder").focus();
  $("export-go").onclick = async () => {
    const folder = $("export-folder").value.trim();
    if (!folder) return;
    const body = {folder, layout: $("export-layout").value};
    if (state.mode === "grid") body.filters = filterParams(p).toString();
    else body.ids = state.list.map((x) => x.id);
    $("export-result").textContent = "Exporting…";
    try {
      const r = await getJSON("/api/export", {method: "POST", headers: {"content-type": "application/json"},
                                              body: JSON.stringify(body)});
      $("export-result").textContent = "Done: " + (r.written || 0) + " written, " + (r.already_there || 0) +
        " already there, " + (r.errors || 0) + " errors, into " + r.out;
    } catch (e) {
      $("export-result").textContent = e.message;
    }
  };
}

async function copyPath() {
  const path = $("v-copy").dataset.path || "";
  try {
    await navigator.clipboard.writeText(path);
    say("Copied: " + path);
  } catch (e) {   // no clipboard access: show it to copy by hand
    window.prompt("The photo's path:", path);
  }
}

// -- images given to search with ----------------------------------------------------------------------
function searchImage(file) {
  if (!file) return;
  state.image = file;
  const p = filterParams(params());
  p.set("image", "1");
  go(p);
}

// -- putting it together ----------------------------------------------------------------------------
let shownKey = null;

function render() {
  const p = params();
  $("q").value = queryText(p);
  syncFilters(p);
  const key = listKey(p);
  if (key !== shownKey || (modeOf(p) === "image")) {
    if (key !== shownKey) {
      shownKey = key;
      loadList(true);
    }
  }
  const view = p.get("view");
  if (view) showPhoto(+view); else hidePhoto();
}

function keys(ev) {
  if (ev.target.closest("input, select, textarea, dialog")) return;
  if ($("viewer").hidden) return;
  if (ev.key === "ArrowRight") { step(1); ev.preventDefault(); }
  else if (ev.key === "ArrowLeft") { step(-1); ev.preventDefault(); }
  else if (ev.key === "Escape") { closePhoto(); ev.preventDefault(); }
  else if (ev.key === "s" && state.current !== null) { go(new URLSearchParams({like: state.current})); }
}

function start() {
  $("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const parsed = parseQuery($("q").value);
    const p = filterParams(params());
    if (parsed.q) p.set("q", parsed.q);
    for (const t of parsed.plus) p.append("plus", t);
    for (const t of parsed.minus) p.append("minus", t);
    go(p);
  });
  $("random").addEventListener("click", () => {
    const p = filterParams(params());
    p.set("random", String(Date.now() % 100000));
    go(p);
  });
  $("filters-toggle").addEventListener("click", () => {
    const panel = $("filters");
    panel.hidden = !panel.hidden;
    $("filters-toggle").setAttribute("aria-expanded", String(!panel.hidden));
  });
  $("f-apply").addEventListener("click", applyFilters);
  $("image").addEventListener("change", (ev) => searchImage(ev.target.files[0]));
  document.addEventListener("dragover", (ev) => ev.preventDefault());
  document.addEventListener("drop", (ev) => {
    ev.preventDefault();
    searchImage(ev.dataTransfer && ev.dataTransfer.files[0]);
  });
  $("v-close").addEventListener("click", closePhoto);
  $("v-prev").addEventListener("click", () => step(-1));
  $("v-next").addEventListener("click", () => step(1));
  $("v-similar").addEventListener("click", () => go(new URLSearchParams({like: state.current})));
  $("v-copy").addEventListener("click", copyPath);
  $("export-open").addEventListener("click", openExport);
  $("home").addEventListener("click", (ev) => { ev.preventDefault(); state.image = null; go(new URLSearchParams()); });
  document.addEventListener("keydown", keys);
  window.addEventListener("popstate", render);
  new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) more(); },
                           {rootMargin: "1200px"}).observe($("sentinel"));
  getJSON("/api/info").then((info) => {
    state.info = info;
    fillFilters(info);
    syncFilters(params());
    if (!info.searchable) {
      $("q").disabled = true;
      $("q").placeholder = "Nothing is embedded yet: browsing only";
    }
  }).catch((e) => say(e.message, true));
  render();
}

start();
