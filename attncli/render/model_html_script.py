"""The script of `attncli model`'s HTML page (render/model_html.py): decode, draw, hover. No URLs, no fetches.

Labels reach the page only through textContent and canvas fillText, never as markup.
"""

JS = r"""
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const $ = id => document.getElementById(id);
const L = D.layers.length, H = D.heads.length, CAP = 600;
const PAL = D.palette.map(h => [1, 3, 5].map(k => parseInt(h.slice(k, k + 2), 16)));
const GREY = [217, 217, 217];
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf", "#393b79", "#ad494a"];
const color = h => h < COLORS.length ? COLORS[h] : "hsl(" + Math.round(h * 137.508) % 360 + ", 65%, 46%)";
const FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const POP = new Uint8Array(256).map((_, b) => { let c = 0; for (let x = b; x; x >>= 1) c += x & 1; return c; });
const css = name => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const short = s => s.length > 24 ? s.slice(0, 23) + "…" : s;
const timing = {};
let T = null, cur = 0, geo = null, base = null, shared = false, view = "model", LUT = PAL;
const hv = { layer: 0, on: [], hover: null, geo: null, lines: 0 };

function bytes(s) {
  const b = atob(s), a = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) a[i] = b.charCodeAt(i);
  return a;
}

function load(t) {  // decode a text's arrays once: bytes, little-endian indices, mask row counts, pooled masks
  if (t.Q) return t;
  const n = t.n, rb = Math.ceil(n / 8), th = t.thumb, t0 = performance.now();
  t.rb = rb; t.Q = bytes(t.q); t.TH = bytes(t.thumbs); t.M = t.masks.map(bytes);
  if (t.mode === "topk") {
    const raw = bytes(t.idx), w = t.idx_bytes;
    const I = w === 2 ? new Uint16Array(raw.length / 2) : new Uint32Array(raw.length / 4);
    for (let e = 0; e < I.length; e++) {
      let v = 0;
      for (let b = w - 1; b >= 0; b--) v = v * 256 + raw[e * w + b];
      I[e] = v;
    }
    t.I = I; t.R = bytes(t.rest);
  }
  t.count = t.M.map(m => { const c = new Int32Array(n); for (let i = 0; i < n; i++) { let s = 0;
    for (let b = 0; b < rb; b++) s += POP[m[i * rb + b]]; c[i] = s; } return c; });
  t.pooled = t.M.map(m => { const p = new Uint8Array(th * th);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++)
      if ((m[i * rb + (j >> 3)] >> (7 - (j & 7))) & 1) p[Math.floor(i / t.block) * th + Math.floor(j / t.block)] = 1;
    return p; });
  t.gmax = Math.max(...t.scale);
  t.q = t.thumbs = t.idx = t.rest = t.masks = null;  // the base64 text is no longer needed
  timing.decode = Math.round(performance.now() - t0);
  return t;
}

function allowed(m, i, j) { const M = T.M[T.mask_of[m]]; return (M[i * T.rb + (j >> 3)] >> (7 - (j & 7))) & 1; }
function upper(m) { return shared ? T.gmax : T.scale[m]; }
function ci(v, m) { return Math.min(255, Math.round(v / upper(m) * 255)); }
function fmt(v) { return v.toFixed(D.precision); }
function setGamma(g) {  // colour ∝ weight^g: g < 1 brightens small weights (long texts)
  LUT = PAL.map((_, q) => PAL[Math.round(255 * Math.pow(q / 255, g))]);
  $("gamma").value = String(g);
}

function eachKey(m, i, f) {  // f(j, w) for every stored key of query i with at least one step of weight
  const n = T.n, s = T.scale[m] / 255;
  if (T.mode === "dense") {
    const o = (m * n + i) * n;
    for (let j = 0; j < n; j++) if (T.Q[o + j]) f(j, T.Q[o + j] * s);
  } else {
    const o = (m * n + i) * T.k;
    for (let e = 0; e < T.k; e++) if (T.Q[o + e]) f(T.I[o + e], T.Q[o + e] * s);
  }
}

function cell(m, i, j) {  // what is known of weight (i, j): {masked}, {w}, or {rest, others, kth} (top-k only)
  const n = T.n, s = T.scale[m] / 255;
  if (!allowed(m, i, j)) return { masked: true };
  if (T.mode === "dense") return { w: T.Q[(m * n + i) * n + j] * s };
  const o = (m * n + i) * T.k;
  for (let e = 0; e < T.k; e++) if (T.Q[o + e] && T.I[o + e] === j) return { w: T.Q[o + e] * s };
  return restOf(m, i);
}

function restOf(m, i) {  // top-k only: the row's weight outside its stored keys, how many keys share it, the k-th
  const n = T.n, o = (m * n + i) * T.k;
  let kept = 0;
  for (let e = 0; e < T.k; e++) if (T.Q[o + e]) kept++;
  return { rest: T.R[m * n + i] / 255, others: Math.max(1, T.count[T.mask_of[m]][i] - kept),
           kth: kept ? T.Q[o + kept - 1] * T.scale[m] / 255 : 0 };
}

function paint(img, p, rgb) { img[p] = rgb[0]; img[p + 1] = rgb[1]; img[p + 2] = rgb[2]; img[p + 3] = 255; }

function thumb(c, m) {
  const th = T.thumb, ctx = c.getContext("2d"), img = ctx.createImageData(th, th), pm = T.pooled[T.mask_of[m]];
  const f = T.scale[m] / upper(m), o = m * th * th;
  for (let p = 0; p < th * th; p++) paint(img.data, 4 * p, pm[p] ? LUT[Math.round(T.TH[o + p] * f)] : GREY);
  ctx.putImageData(img, 0, 0);
}

function buildGrid() {
  const g = $("grid"), px = Math.max(36, Math.min(96, Math.floor(600 / H))), t0 = performance.now();
  g.textContent = "";
  g.style.gridTemplateColumns = "auto repeat(" + H + ", " + (px + 4) + "px)";
  const lab = s => {
    const e = document.createElement("span");
    e.className = "lab"; e.textContent = s; g.appendChild(e);
  };
  lab("");
  D.heads.forEach(h => lab(String(h)));
  for (let li = 0; li < L; li++) {
    lab(String(D.layers[li]));
    for (let hi = 0; hi < H; hi++) {
      const m = li * H + hi, b = document.createElement("button"), c = document.createElement("canvas");
      b.type = "button"; b.title = "layer " + D.layers[li] + " · head " + D.heads[hi];
      c.width = c.height = T.thumb; c.style.width = c.style.height = px + "px";
      thumb(c, m); b.appendChild(c);
      b.addEventListener("click", () => { cur = m; drawBig(); });
      g.appendChild(b);
    }
  }
  timing.grid = Math.round(performance.now() - t0);
}

function labelWidth(ctx) {
  if (T.labW === undefined) {
    ctx.font = FONT;
    T.labW = Math.max(...T.tokens.map(s => ctx.measureText(short(s)).width));
  }
  return T.labW;
}

function drawBig() {
  const n = T.n, m = cur, li = Math.floor(m / H), hi = m % H, t0 = performance.now();
  const canvas = $("map"), ctx = canvas.getContext("2d"), lw = Math.ceil(Math.min(160, labelWidth(ctx) + 10));
  $("bigtitle").textContent = "layer " + D.layers[li] + " · head " + D.heads[hi] + "  (queries ↓, keys →)";
  const page = document.documentElement.clientWidth - 56, right = page - $("grid").getBoundingClientRect().right - 28;
  const tall = Math.max(320, window.innerHeight - 140 - lw);
  let cs = Math.min(36, (right - lw) / n, tall / n);
  if (cs < 1) cs = Math.min(36, (page - lw) / n, Math.max(tall, n) / n);
  if (cs >= 1) cs = Math.floor(cs);  // whole pixels: every cell can be hovered
  const vertical = lw > cs, left = lw, topm = vertical ? lw : 22, step = Math.max(1, Math.ceil(13 / cs));
  geo = { n, cs, left, top: topm };
  const w = left + n * cs + 8, h = topm + n * cs + 8, dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  canvas.style.width = w + "px"; canvas.style.height = h + "px";
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const off = document.createElement("canvas"); off.width = off.height = n;
  const octx = off.getContext("2d"), img = octx.createImageData(n, n), d = img.data;
  const masked = new Path2D(), s = T.scale[m] / 255;
  for (let i = 0; i < n; i++) {
    const c = T.mode === "topk" ? restOf(m, i) : null, fill = c ? LUT[ci(c.rest / c.others, m)] : null;
    let run = -1;
    for (let j = 0; j <= n; j++) {
      const ok = j < n && allowed(m, i, j);
      if (j < n) paint(d, 4 * (i * n + j), !ok ? GREY : fill || LUT[ci(T.Q[(m * n + i) * n + j] * s, m)]);
      if (!ok && j < n && run < 0) run = j;
      if ((ok || j === n) && run >= 0) { masked.rect(left + run * cs, topm + i * cs, (j - run) * cs, cs); run = -1; }
    }
    if (fill) eachKey(m, i, (j, v) => paint(d, 4 * (i * n + j), LUT[ci(v, m)]));
  }
  octx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, left, topm, n * cs, n * cs);
  if (cs >= 3) { ctx.fillStyle = hatch(ctx); ctx.fill(masked); }
  if (cs >= 30) {  // the values in the cells
    ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    for (let i = 0; i < n; i++) eachKey(m, i, (j, v) => {
      const rgb = LUT[ci(v, m)], dark = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] > 115;
      ctx.fillStyle = dark ? "#000" : "#fff"; ctx.fillText(v.toFixed(2), left + (j + 0.5) * cs, topm + (i + 0.5) * cs);
    });
  }
  ctx.font = FONT; ctx.fillStyle = getComputedStyle(document.body).color;
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (let i = 0; i < n; i += step) ctx.fillText(short(T.tokens[i]), left - 5, topm + (i + 0.5) * cs);
  for (let j = 0; j < n; j += step) {
    ctx.save(); ctx.translate(left + (j + 0.5) * cs, topm - 5);
    if (vertical) { ctx.rotate(-Math.PI / 2); ctx.textAlign = "left"; }
    else { ctx.textAlign = "center"; ctx.textBaseline = "bottom"; }
    ctx.fillText(short(T.tokens[j]), 0, 0); ctx.restore();
  }
  base = document.createElement("canvas"); base.width = canvas.width; base.height = canvas.height;
  base.getContext("2d").drawImage(canvas, 0, 0);
  const r = $("ramp").getContext("2d");
  for (let x = 0; x < 200; x++) { r.fillStyle = "rgb(" + LUT[Math.round(x / 199 * 255)] + ")"; r.fillRect(x, 0, 1, 9); }
  $("hi").textContent = +upper(m).toPrecision(3) + (shared ? " (largest of all maps)" : " (this map's largest)");
  [...$("grid").querySelectorAll("button")].forEach((b, k) => b.classList.toggle("on", k === m));
  $("tip").style.display = "none";
  timing.big = Math.round(performance.now() - t0);
}

function hatch(ctx) {
  const t = document.createElement("canvas"); t.width = t.height = 6;
  const c = t.getContext("2d");
  c.fillStyle = "#d9d9d9"; c.fillRect(0, 0, 6, 6); c.strokeStyle = "#9a9a9a";
  c.beginPath(); c.moveTo(0, 6); c.lineTo(6, 0); c.stroke();
  return ctx.createPattern(t, "repeat");
}

function showCell(i, j) {
  const c = cell(cur, i, j), tip = $("tip");
  const what = c.masked ? "masked" : c.w !== undefined ? fmt(c.w)
    : "not kept (below " + fmt(c.kth) + "); the other " + c.others + " keys hold " + fmt(c.rest) + " in all";
  tip.textContent = "query: " + T.tokens[i] + " (" + i + ")\nkey: " + T.tokens[j] + " (" + j + ")\nweight: " + what;
  tip.style.display = "block";
  const x = geo.left + (j + 1) * geo.cs + 8, y = geo.top + (i + 1) * geo.cs + 8, w = geo.left + geo.n * geo.cs;
  tip.style.left = (x + tip.offsetWidth > w ? Math.max(0, x - geo.cs - 16 - tip.offsetWidth) : x) + "px";
  tip.style.top = y + "px";
  const canvas = $("map"), ctx = canvas.getContext("2d"), dpr = window.devicePixelRatio || 1, cs = geo.cs;
  ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.drawImage(base, 0, 0); ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.strokeStyle = css("--ring"); ctx.lineWidth = 1;
  ctx.strokeRect(geo.left, geo.top + i * cs, geo.n * cs, cs);
  ctx.strokeRect(geo.left + j * cs, geo.top, cs, geo.n * cs);
  ctx.lineWidth = 2; ctx.strokeStyle = getComputedStyle(document.body).color;
  ctx.strokeRect(geo.left + j * cs - 1, geo.top + i * cs - 1, cs + 2, cs + 2);
}

function hideCell() {
  $("tip").style.display = "none";
  if (base) { const ctx = $("map").getContext("2d"); ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.drawImage(base, 0, 0); }
}

$("map").addEventListener("mousemove", ev => {
  const r = $("map").getBoundingClientRect();
  const j = Math.floor((ev.clientX - r.left - geo.left) / geo.cs);
  const i = Math.floor((ev.clientY - r.top - geo.top) / geo.cs);
  if (i < 0 || j < 0 || i >= geo.n || j >= geo.n) hideCell(); else showCell(i, j);
});
$("map").addEventListener("mouseleave", hideCell);

// ---- head view ------------------------------------------------------------------------------------

function headControls() {
  const sel = $("layer"), box = $("heads");
  sel.textContent = ""; box.textContent = "";
  D.layers.forEach((l, li) => {
    const o = document.createElement("option");
    o.value = String(li); o.textContent = "layer " + l; sel.appendChild(o);
  });
  sel.value = String(hv.layer);
  hv.on = D.heads.map(() => true);
  D.heads.forEach((h, hi) => {
    const lab = document.createElement("label"), c = document.createElement("input"), sw = document.createElement("i");
    c.type = "checkbox"; c.checked = true; sw.style.background = color(hi);
    c.addEventListener("change", () => { hv.on[hi] = c.checked; drawHead(); });
    lab.append(c, sw, "head " + h); box.appendChild(lab);
  });
}

function headLayout() {
  const n = T.n, ctx = $("lines").getContext("2d"), lw = Math.min(170, labelWidth(ctx) + 14);
  const W = Math.max(360, Math.min(document.documentElement.clientWidth - 56, 2 * lw + 420));
  const rowH = n <= 48 ? 22 : 17, total = n * rowH + 12;
  const viewH = Math.min(total, Math.max(280, window.innerHeight - $("scroller").getBoundingClientRect().top - 24));
  hv.geo = { W, rowH, viewH, xa: lw, xb: W - lw, pad: 6 };
  const c = $("lines"), dpr = window.devicePixelRatio || 1;
  c.width = Math.round(W * dpr); c.height = Math.round(viewH * dpr);
  c.style.width = W + "px"; c.style.height = viewH + "px";
  $("scroller").style.width = W + "px"; $("scroller").style.height = viewH + "px";
  $("captions").style.width = W + "px";
  $("spacer").style.height = (total - viewH) + "px";
}

function drawHead() {
  const n = T.n, g = hv.geo, ctx = $("lines").getContext("2d"), dpr = window.devicePixelRatio || 1;
  const t0 = performance.now();
  const st = $("scroller").scrollTop, y = i => g.pad + (i + 0.5) * g.rowH - st;
  const i0 = Math.max(0, Math.floor((st - g.pad) / g.rowH)), i1 = Math.min(n - 1, Math.ceil((st + g.viewH) / g.rowH));
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0); ctx.clearRect(0, 0, g.W, g.viewH);
  const links = [], hov = hv.hover, first = hv.layer * H;
  for (let hi = 0; hi < H; hi++) {
    if (!hv.on[hi]) continue;
    const m = first + hi;
    if (hov && hov.side === "q") eachKey(m, hov.i, (j, w) => links.push([w, hi, hov.i, j]));
    else if (hov) for (let i = 0; i < n; i++) { const k = cell(m, i, hov.i); if (k.w) links.push([k.w, hi, i, hov.i]); }
    else for (let i = i0; i <= i1; i++) eachKey(m, i, (j, w) => links.push([w, hi, i, j]));
  }
  links.sort((a, b) => a[0] - b[0]);
  const shown = hov ? links : links.slice(Math.max(0, links.length - CAP));
  ctx.lineCap = "round";
  for (const [w, hi, i, j] of shown) {
    ctx.globalAlpha = Math.min(1, Math.max(0.04, w)); ctx.strokeStyle = color(hi); ctx.lineWidth = 1 + 2 * w;
    ctx.beginPath(); ctx.moveTo(g.xa + 4, y(i)); ctx.lineTo(g.xb - 4, y(j)); ctx.stroke();
  }
  ctx.globalAlpha = 1; ctx.font = FONT; ctx.textBaseline = "middle";
  const fg = getComputedStyle(document.body).color, ring = css("--ring");
  for (let i = i0; i <= i1; i++) for (const side of ["q", "k"]) {
    const s = short(T.tokens[i]), x = side === "q" ? g.xa - 6 : g.xb + 6, wd = ctx.measureText(s).width;
    if (hov && hov.side === side && hov.i === i) {
      ctx.fillStyle = ring; ctx.fillRect(side === "q" ? x - wd - 3 : x - 3, y(i) - g.rowH / 2 + 1, wd + 6, g.rowH - 2);
      ctx.fillStyle = "#fff";
    } else ctx.fillStyle = fg;
    ctx.textAlign = side === "q" ? "right" : "left"; ctx.fillText(s, x, y(i));
  }
  hv.lines = shown.length;
  const layer = "layer " + D.layers[hv.layer], tok = i => short(T.tokens[i]) + " (" + i + ")";
  let text = layer + ": the " + shown.length + " strongest links of the queries in view"
    + (links.length > shown.length ? " (of " + links.length + ")" : "") + " · hover a token to see only its lines";
  if (hov && hov.side === "q") {
    const best = {};
    links.forEach(([w, hi, , j]) => { if (!best[hi] || w > best[hi][0]) best[hi] = [w, j]; });
    const heads = Object.keys(best).map(hi => "head " + D.heads[hi] + " → " + tok(best[hi][1]) + " "
      + fmt(best[hi][0]));
    text = layer + " · query " + tok(hov.i) + ", " + shown.length + " lines; strongest: " + heads.join(", ");
  } else if (hov) text = layer + " · key " + tok(hov.i) + ": " + shown.length + " lines from queries";
  $("status").textContent = text;
  timing.head = Math.round(performance.now() - t0);
}

let pending = false;
function redraw() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; drawHead(); });
}
$("lines").addEventListener("mousemove", ev => {
  const r = $("lines").getBoundingClientRect(), g = hv.geo, x = ev.clientX - r.left;
  const i = Math.floor((ev.clientY - r.top + $("scroller").scrollTop - g.pad) / g.rowH);
  const side = x < g.xa + 4 ? "q" : x > g.xb - 4 ? "k" : null;
  const next = side && i >= 0 && i < T.n ? { side, i } : null;
  if (JSON.stringify(next) !== JSON.stringify(hv.hover)) { hv.hover = next; redraw(); }
});
$("lines").addEventListener("mouseleave", () => { hv.hover = null; redraw(); });
$("scroller").addEventListener("scroll", redraw);
$("layer").addEventListener("change", () => { hv.layer = Number($("layer").value); drawHead(); });
function allHeads(on) {
  hv.on = hv.on.map(() => on);
  $("heads").querySelectorAll("input").forEach(c => { c.checked = on; });
  drawHead();
}
$("all").addEventListener("click", () => allHeads(true));
$("none").addEventListener("click", () => allHeads(false));

// ---- page -----------------------------------------------------------------------------------------

function show(v) {
  view = v;
  $("model-view").hidden = v !== "model"; $("head-view").hidden = v !== "head";
  $("tab-model").setAttribute("aria-selected", String(v === "model"));
  $("tab-head").setAttribute("aria-selected", String(v === "head"));
  if (v === "head") { headLayout(); drawHead(); } else drawBig();
}

function setText(k) {
  T = load(D.texts[k]); hv.hover = null;
  buildGrid(); headControls();
  show(view);
}

$("tab-model").addEventListener("click", () => show("model"));
$("tab-head").addEventListener("click", () => show("head"));
$("shared").addEventListener("change", () => { shared = $("shared").checked; buildGrid(); drawBig(); });
$("gamma").addEventListener("change", () => { setGamma(Number($("gamma").value)); buildGrid(); drawBig(); });
$("text").addEventListener("change", () => setText(Number($("text").value)));
document.addEventListener("keydown", ev => {
  if (view !== "model" || ev.target instanceof HTMLSelectElement || ev.target instanceof HTMLInputElement) return;
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: H, ArrowUp: -H }[ev.key];
  if (step) { ev.preventDefault(); cur = (cur + step + L * H) % (L * H); drawBig(); }
});
const room = () => document.documentElement.clientWidth + "x" + window.innerHeight;
let size = room();
window.addEventListener("resize", () => { if (room() !== size) { size = room(); show(view); } });
if (D.texts.length > 1) {
  D.texts.forEach((t, k) => {
    const o = document.createElement("option");
    o.value = String(k); $("text").appendChild(o);
    o.textContent = k + ": " + t.tokens.slice(0, 6).join(" ") + (t.n > 6 ? " …" : "") + " (" + t.n + " tokens)";
  });
  $("textpick").hidden = false;
}
$("note").textContent = D.note;
const hash = location.hash.slice(1).split(",");
view = hash.includes("head") ? "head" : "model";
setGamma(D.texts[0].n > 256 ? 0.5 : 1);
setText(0);
timing.ready = Math.round(performance.now());  // since the page started loading

function selftest() {  // hover the strongest key of the last query in the large map and in the head view
  const n = T.n, out = ["maps: " + $("grid").querySelectorAll("canvas").length];
  let best = null;
  eachKey(cur, n - 1, (j, w) => { if (!best || w > best.w) best = { j, w }; });
  show("model");
  const r = $("map").getBoundingClientRect();
  $("map").dispatchEvent(new MouseEvent("mousemove", { bubbles: true,
    clientX: Math.ceil(r.left + geo.left + best.j * geo.cs), clientY: Math.ceil(r.top + geo.top + (n - 1) * geo.cs) }));
  out.push("hovered: " + $("tip").textContent.replace(/\n/g, "; "));
  show("head");
  $("scroller").scrollTop = 1e9; drawHead();
  const q = $("lines").getBoundingClientRect(), g = hv.geo;
  $("lines").dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: q.left + g.xa - 8,
    clientY: q.top + g.pad + (n - 0.5) * g.rowH - $("scroller").scrollTop }));
  drawHead();
  out.push("head view: " + $("status").textContent, "lines: " + hv.lines);
  out.push("ms: " + Object.entries(timing).map(([k, v]) => k + " " + v).join(", "));
  out.push("resources loaded: " + performance.getEntriesByType("resource").length);
  if (!hash.includes("head")) { show("model"); showCell(n - 1, best.j); }
  $("selftest-result").textContent = out.join(" | ");
}
if (hash.includes("selftest")) selftest();
"""
