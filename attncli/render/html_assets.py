"""The stylesheet and script inlined into every HTML page (render/html.py). No URLs, no fetches.

The script reads the JSON in <script id="data">: {title, precision, groups: [{name, row_axis, col_axis,
lo, hi, palette: [256 "#rrggbb"], panels: [{title, rows, cols, note, values: [[number|null]]}]}]},
where null marks a masked cell.
"""

CSS = r"""
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1d1d1f; --muted: #6b6b70; --ring: #2f6fde;
        --tipbg: rgba(24, 24, 27, 0.94); --tipfg: #ffffff; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #151517; --fg: #e9e9ec; --muted: #9b9ba3; --ring: #6ea2ff;
          --tipbg: rgba(246, 246, 248, 0.96); --tipfg: #111113; }
}
body { margin: 0; padding: 18px 24px; background: var(--bg); color: var(--fg);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 17px; font-weight: 600; margin: 0 0 10px; }
nav { display: flex; flex-wrap: wrap; gap: 16px; align-items: center; }
select { font: inherit; padding: 2px 6px; }
.hint { color: var(--muted); font-size: 12px; }
#thumbs { display: flex; flex-wrap: wrap; gap: 6px; margin: 10px 0 14px; }
#thumbs button { display: flex; flex-direction: column; align-items: center; gap: 3px; padding: 4px;
                 background: none; color: inherit; border: 2px solid transparent; border-radius: 7px;
                 font: 11px system-ui, sans-serif; cursor: pointer; }
#thumbs button:hover { border-color: var(--muted); }
#thumbs button.on { border-color: var(--ring); }
#thumbs canvas { image-rendering: pixelated; }
#stage { position: relative; display: inline-block; }
#map { display: block; }
#tip { position: absolute; display: none; pointer-events: none; z-index: 2; white-space: pre;
       padding: 6px 9px; border-radius: 6px; background: var(--tipbg); color: var(--tipfg);
       font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
#legend { display: flex; align-items: center; gap: 8px; margin-top: 12px; font-size: 12px; color: var(--muted); }
#bar { border-radius: 2px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -2px;
          background: repeating-linear-gradient(45deg, #d9d9d9 0 3px, #9a9a9a 3px 4px); }
#note { color: var(--muted); font-size: 12px; }
#axes { margin-left: 12px; }
output#selftest:empty { display: none; }
"""

JS = r"""
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const entries = [];
D.groups.forEach(g => g.panels.forEach(p => entries.push({ g, p, name: g.name + (p.title ? " · " + p.title : "") })));
const sel = document.getElementById("panel"), canvas = document.getElementById("map");
const tip = document.getElementById("tip"), thumbs = document.getElementById("thumbs");
const FONT = "13px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
let cur = 0, geo = null, base = null, hovered = null;

function colorOf(g, v) {
  const t = Math.min(Math.max((v - g.lo) / ((g.hi - g.lo) || 1), 0), 1);
  return g.palette[Math.round(t * (g.palette.length - 1))];
}
function ink(hex) {
  const c = [1, 3, 5].map(k => parseInt(hex.slice(k, k + 2), 16) / 255);
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2] > 0.45 ? "#000000" : "#ffffff";
}
function hatch(ctx) {
  const t = document.createElement("canvas");
  t.width = t.height = 6;
  const c = t.getContext("2d");
  c.fillStyle = "#d9d9d9"; c.fillRect(0, 0, 6, 6);
  c.strokeStyle = "#9a9a9a"; c.lineWidth = 1;
  c.beginPath(); c.moveTo(0, 6); c.lineTo(6, 0); c.stroke();
  return ctx.createPattern(t, "repeat");
}
function fmt(v) { return v === null ? "masked" : v.toFixed(D.precision); }

function layout(p) {
  const ctx = canvas.getContext("2d");
  ctx.font = FONT;
  const nr = p.rows.length, nc = p.cols.length;
  const rowW = Math.max(...p.rows.map(s => ctx.measureText(s).width)) + 12;
  const colW = Math.max(...p.cols.map(s => ctx.measureText(s).width)) + 12;
  const availW = Math.max(240, document.documentElement.clientWidth - rowW - 64);
  const availH = Math.max(360, window.innerHeight - 240);
  const cs = Math.max(2, Math.floor(Math.min(availW / nc, availH / nr, 56)));
  const vertical = colW > cs;
  const top = vertical ? Math.min(colW, 150) : 24;
  const step = Math.max(1, Math.ceil(14 / cs));  // label every step-th row/column when cells are tiny
  return { nr, nc, cs, left: rowW, top, vertical, step };
}

function draw() {
  const e = entries[cur], p = e.p, g = e.g;
  geo = layout(p);
  const dpr = window.devicePixelRatio || 1;
  const w = geo.left + geo.nc * geo.cs + 8, h = geo.top + geo.nr * geo.cs + 8;
  canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
  canvas.style.width = w + "px"; canvas.style.height = h + "px";
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const fg = getComputedStyle(document.body).color;
  const masked = hatch(ctx);
  for (let i = 0; i < geo.nr; i++) {
    for (let j = 0; j < geo.nc; j++) {
      const v = p.values[i][j], x = geo.left + j * geo.cs, y = geo.top + i * geo.cs;
      ctx.fillStyle = v === null ? masked : colorOf(g, v);
      ctx.fillRect(x, y, geo.cs + 0.5, geo.cs + 0.5);
    }
  }
  ctx.font = FONT;
  if (geo.cs >= 30) {  // values in the cells
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.font = Math.min(13, Math.floor(geo.cs / 3.2)) + "px system-ui, sans-serif";
    const d = Math.min(D.precision, 2);
    for (let i = 0; i < geo.nr; i++) {
      for (let j = 0; j < geo.nc; j++) {
        const v = p.values[i][j];
        if (v === null) continue;
        const s = v.toFixed(d);
        if (ctx.measureText(s).width > geo.cs - 4) continue;
        ctx.fillStyle = ink(colorOf(g, v));
        ctx.fillText(s, geo.left + (j + 0.5) * geo.cs, geo.top + (i + 0.5) * geo.cs);
      }
    }
    ctx.font = FONT;
  }
  ctx.fillStyle = fg;
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (let i = 0; i < geo.nr; i += geo.step) ctx.fillText(p.rows[i], geo.left - 6, geo.top + (i + 0.5) * geo.cs);
  for (let j = 0; j < geo.nc; j += geo.step) {
    const xc = geo.left + (j + 0.5) * geo.cs;
    ctx.save();
    if (geo.vertical) {
      ctx.translate(xc, geo.top - 6); ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left"; ctx.textBaseline = "middle"; ctx.fillText(p.cols[j], 0, 0);
    } else {
      ctx.textAlign = "center"; ctx.textBaseline = "bottom"; ctx.fillText(p.cols[j], xc, geo.top - 5);
    }
    ctx.restore();
  }
  ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--muted").trim();
  ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "left"; ctx.textBaseline = "bottom";
  const corner = g.row_axis + " ↓  " + g.col_axis + " →";
  if (ctx.measureText(corner).width < geo.left - 8) ctx.fillText(corner, 2, geo.top - 5);
  base = document.createElement("canvas");
  base.width = canvas.width; base.height = canvas.height;
  base.getContext("2d").drawImage(canvas, 0, 0);
  legend(g);
  document.getElementById("note").textContent = p.note ? "note: " + p.note : "";
  [...thumbs.children].forEach((b, k) => b.classList.toggle("on", k === cur));
  sel.value = String(cur);
  if (hovered && hovered.i < geo.nr && hovered.j < geo.nc) showCell(hovered.i, hovered.j); else hide();
}

function legend(g) {
  const bar = document.getElementById("bar"), c = bar.getContext("2d");
  for (let x = 0; x < bar.width; x++) {
    c.fillStyle = g.palette[Math.round(x / (bar.width - 1) * (g.palette.length - 1))];
    c.fillRect(x, 0, 1, bar.height);
  }
  document.getElementById("lo").textContent = g.name + "  " + +g.lo.toPrecision(3);
  document.getElementById("hi").textContent = String(+g.hi.toPrecision(3));
  const any = g.panels.some(p => p.values.some(r => r.some(v => v === null)));
  document.getElementById("masked").style.display = any ? "" : "none";
  document.getElementById("axes").textContent = "rows: " + g.row_axis + " · columns: " + g.col_axis;
}

function hide() {
  hovered = null;
  tip.style.display = "none";
  if (base) { const ctx = canvas.getContext("2d"); ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.drawImage(base, 0, 0); }
}

function hover(ev) {
  const r = canvas.getBoundingClientRect();
  const j = Math.floor((ev.clientX - r.left - geo.left) / geo.cs);
  const i = Math.floor((ev.clientY - r.top - geo.top) / geo.cs);
  if (i < 0 || j < 0 || i >= geo.nr || j >= geo.nc) { hide(); return; }
  showCell(i, j);
}

function showCell(i, j) {  // the tooltip beside cell (i, j), its row and column outlined
  hovered = { i, j };
  const e = entries[cur], p = e.p, g = e.g, v = p.values[i][j];
  tip.textContent = g.row_axis + ": " + p.rows[i] + " (" + i + ")\n" + g.col_axis + ": " + p.cols[j] + " (" + j + ")\n"
    + g.name + ": " + fmt(v);
  tip.style.display = "block";
  const x = geo.left + (j + 1) * geo.cs + 6, y = geo.top + (i + 1) * geo.cs + 6;
  const w = geo.left + geo.nc * geo.cs;
  tip.style.left = (x + tip.offsetWidth > w ? Math.max(0, x - geo.cs - 12 - tip.offsetWidth) : x) + "px";
  tip.style.top = y + "px";
  const ctx = canvas.getContext("2d"), dpr = window.devicePixelRatio || 1;
  ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.drawImage(base, 0, 0); ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue("--ring").trim(); ctx.lineWidth = 1;
  ctx.strokeRect(geo.left + 0.5, geo.top + i * geo.cs + 0.5, geo.nc * geo.cs - 1, geo.cs - 1);
  ctx.strokeRect(geo.left + j * geo.cs + 0.5, geo.top + 0.5, geo.cs - 1, geo.nr * geo.cs - 1);
  ctx.lineWidth = 2; ctx.strokeStyle = getComputedStyle(document.body).color;
  ctx.strokeRect(geo.left + j * geo.cs + 1, geo.top + i * geo.cs + 1, geo.cs - 2, geo.cs - 2);
}

function thumbnail(e) {
  const p = e.p, nr = p.rows.length, nc = p.cols.length;
  const c = document.createElement("canvas");
  c.width = nc; c.height = nr;
  const k = 64 / Math.max(nr, nc);
  c.style.width = Math.round(nc * k) + "px"; c.style.height = Math.round(nr * k) + "px";
  const ctx = c.getContext("2d"), img = ctx.createImageData(nc, nr);
  for (let i = 0; i < nr; i++) {
    for (let j = 0; j < nc; j++) {
      const v = p.values[i][j], hex = v === null ? "#d9d9d9" : colorOf(e.g, v), o = 4 * (i * nc + j);
      for (let q = 0; q < 3; q++) img.data[o + q] = parseInt(hex.slice(1 + 2 * q, 3 + 2 * q), 16);
      img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

function selftest() {
  const p = entries[cur].p;
  let best = null;
  p.values.forEach((row, i) => row.forEach((v, j) => {
    if (v !== null && (best === null || v > best.v)) best = { i, j, v };
  }));
  if (best !== null) {
    const r = canvas.getBoundingClientRect();
    canvas.dispatchEvent(new MouseEvent("mousemove", { bubbles: true,
      clientX: r.left + geo.left + (best.j + 0.5) * geo.cs, clientY: r.top + geo.top + (best.i + 0.5) * geo.cs }));
  }
  const loaded = performance.getEntriesByType("resource").length;
  document.getElementById("selftest").textContent =
    "hovered: " + tip.textContent.replace(/\n/g, "; ") + " | resources loaded: " + loaded;
}

entries.forEach((e, k) => {
  const o = document.createElement("option");
  o.value = String(k); o.textContent = e.name; sel.appendChild(o);
  const b = document.createElement("button");
  b.type = "button"; b.title = e.name; b.setAttribute("role", "listitem");
  b.appendChild(thumbnail(e));
  const s = document.createElement("span");
  s.textContent = D.groups.length > 1 || !e.p.title ? e.name : e.p.title;
  b.appendChild(s);
  b.addEventListener("click", () => { cur = k; draw(); });
  thumbs.appendChild(b);
});
if (entries.length < 2) thumbs.style.display = "none";
sel.addEventListener("change", () => { cur = Number(sel.value); draw(); });
canvas.addEventListener("mousemove", hover);
canvas.addEventListener("mouseleave", hide);
document.addEventListener("keydown", ev => {
  if (ev.target === sel) return;
  if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
    cur = (cur + (ev.key === "ArrowRight" ? 1 : entries.length - 1)) % entries.length; draw();
  }
});
let size = "";
window.addEventListener("resize", () => {  // redraw only when the room for the map changed
  const now = document.documentElement.clientWidth + "x" + window.innerHeight;
  if (now !== size) { size = now; draw(); }
});
size = document.documentElement.clientWidth + "x" + window.innerHeight;
draw();
if (location.hash === "#selftest") selftest();
"""
