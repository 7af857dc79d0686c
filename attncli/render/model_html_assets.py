"""The markup, stylesheet and script of `attncli model`'s HTML page (render/model_html.py). No URLs, no fetches.

The script reads the JSON in <script id="data"> (its format is in render/model_html.py's docstring),
decodes a text's arrays when the text is shown, and draws everything on canvases: the thumbnails and the
large map as images (one pixel a cell, scaled), the head view's lines only for the rows in view.
"""

BODY = r"""<div id="bar">
<div role="tablist"><button type="button" role="tab" id="tab-model" aria-selected="true">Model view</button
><button type="button" role="tab" id="tab-head" aria-selected="false">Head view</button></div>
<label id="textpick" hidden>text <select id="text"></select></label>
</div>
<section id="model-view">
<div><p class="hint">layers ↓ · heads → · click a map to open it · ← → ↑ ↓ move</p><div id="grid"></div></div>
<div id="big">
<p id="bigtitle"></p>
<div id="stage"><canvas id="map" aria-label="attention map"></canvas><div id="tip" role="status"></div></div>
<div class="legend"><span>0</span><canvas id="ramp" width="200" height="9"></canvas><span id="hi"></span>
<span><i class="swatch"></i> masked</span>
<label>colour <select id="gamma"><option value="1">∝ weight</option><option value="0.5">∝ √weight</option>
<option value="0.25">∝ ⁴√weight</option></select></label>
<label><input type="checkbox" id="shared"> one scale for all maps</label></div>
</div>
</section>
<section id="head-view" hidden>
<div class="controls"><label>layer <select id="layer"></select></label><span id="heads"></span>
<button type="button" id="all">all heads</button><button type="button" id="none">none</button></div>
<p id="status" class="hint"></p>
<div id="captions"><span>queries</span><span>keys</span></div>
<div id="scroller"><canvas id="lines" aria-label="attention lines"></canvas><div id="spacer"></div></div>
</section>
<p id="note"></p>
<output id="selftest-result"></output>"""

CSS = r"""
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1d1d1f; --muted: #6b6b70; --ring: #2f6fde;
        --line: #d4d4d8; --tipbg: rgba(24, 24, 27, 0.94); --tipfg: #ffffff; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #151517; --fg: #e9e9ec; --muted: #9b9ba3; --ring: #6ea2ff; --line: #3a3a40;
          --tipbg: rgba(246, 246, 248, 0.96); --tipfg: #111113; }
}
[hidden] { display: none !important; }
body { margin: 0; padding: 16px 24px; background: var(--bg); color: var(--fg);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 17px; font-weight: 600; margin: 0 0 8px; }
#bar { display: flex; flex-wrap: wrap; gap: 18px; align-items: center; margin-bottom: 12px; }
[role=tab] { font: inherit; padding: 5px 14px; background: none; color: inherit; cursor: pointer;
             border: 1px solid var(--line); }
[role=tab]:first-child { border-radius: 6px 0 0 6px; }
[role=tab]:last-child { border-radius: 0 6px 6px 0; border-left: none; }
[role=tab][aria-selected=true] { background: var(--ring); border-color: var(--ring); color: #fff; }
select, button { font: inherit; }
.hint { color: var(--muted); font-size: 12px; margin: 0 0 6px; }
#model-view { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
#grid { display: grid; gap: 3px; align-items: center; justify-items: center; }
#grid .lab { font-size: 11px; color: var(--muted); padding: 0 4px; }
#grid button { padding: 0; margin: 0; border: 2px solid transparent; border-radius: 4px; background: none;
               cursor: pointer; line-height: 0; }
#grid button:hover { border-color: var(--muted); }
#grid button.on { border-color: var(--ring); }
#grid canvas { image-rendering: pixelated; display: block; }
#bigtitle { margin: 0 0 6px; font-weight: 600; }
#stage { position: relative; display: inline-block; }
#map { display: block; }
#tip { position: absolute; display: none; pointer-events: none; z-index: 2; white-space: pre;
       padding: 6px 9px; border-radius: 6px; background: var(--tipbg); color: var(--tipfg);
       font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-top: 10px; font-size: 12px;
          color: var(--muted); }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -2px;
          background: repeating-linear-gradient(45deg, #d9d9d9 0 3px, #9a9a9a 3px 4px); }
.controls { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: center; margin-bottom: 8px; }
#heads { display: flex; flex-wrap: wrap; gap: 4px 10px; }
#heads label { white-space: nowrap; font-size: 13px; }
#heads i { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin: 0 3px 0 2px;
           vertical-align: -1px; }
#status { min-height: 1.45em; white-space: pre-wrap; }
#captions { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); }
#scroller { overflow-y: auto; overflow-x: hidden; border-top: 1px solid var(--line);
            border-bottom: 1px solid var(--line); }
#lines { position: sticky; top: 0; display: block; }
#note { color: var(--muted); font-size: 12px; max-width: 72em; }
output#selftest-result:empty { display: none; }
"""
