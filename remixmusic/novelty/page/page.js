/* report.html: remix maps drawn from the embedded note data, players (Web Audio, no network), sortable
   tables. Data: #remix-globals (label names, colours, hatching), #data-K per query piece (notes in steps,
   spb steps per beat; bar starts; passages [anchor, start beat, end beat, label code, source number,
   caption]), .pair-data per passage (query and source notes in beats from the passage start). */
(function () {
  "use strict";
  var G = JSON.parse(document.getElementById("remix-globals").textContent);
  var COPIED = G.labels.indexOf("copied"), VARIED = G.labels.indexOf("varied");
  var LIGHT = [G.labels.indexOf("novel"), G.labels.indexOf("not-analysed")];
  var EDGE = {};
  EDGE[LIGHT[0]] = "#8C7E1E";
  EDGE[LIGHT[1]] = "#777777";
  var SOURCE_COLOR = "#444444";
  var MAX_WIDTH = 8000;  /* widest remix map, px (a canvas holds 4 bytes per pixel) */

  /* ---- sortable tables ------------------------------------------------------------------------ */
  function sortKey(td) {
    if (!td) return { n: NaN, s: "" };
    var s = td.hasAttribute("data-sort") ? td.getAttribute("data-sort") : td.textContent.trim();
    return { n: s === "" ? NaN : Number(s), s: s.toLowerCase() };
  }
  function compareKeys(a, b) {
    var an = !isNaN(a.n), bn = !isNaN(b.n);
    if (an && bn) return a.n - b.n;
    if (an !== bn) return an ? -1 : 1;
    if (a.s === b.s) return 0;
    if (a.s === "" || b.s === "") return a.s === "" ? 1 : -1;
    return a.s < b.s ? -1 : 1;
  }
  function initTables() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (t) {
      var heads = t.tHead.rows[0].cells;
      Array.prototype.forEach.call(heads, function (th, i) {
        th.addEventListener("click", function () {
          var asc = !th.classList.contains("asc");
          Array.prototype.forEach.call(heads, function (h) { h.classList.remove("asc", "desc"); });
          th.classList.add(asc ? "asc" : "desc");
          var body = t.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) { return compareKeys(sortKey(a.cells[i]), sortKey(b.cells[i])) * (asc ? 1 : -1); });
          rows.forEach(function (r) { body.appendChild(r); });
        });
      });
    });
  }

  /* A table wider than its box (the page is at most 1180 px wide) scrolls inside it: say so above it,
     and shade its right edge. Checked again when the window changes or a folded section opens. */
  function markWide() {
    Array.prototype.forEach.call(document.querySelectorAll("div.scroll"), function (box) {
      if (!box.clientWidth) return;  /* folded away: checked when opened */
      var wide = box.scrollWidth > box.clientWidth + 1, cue = box.previousElementSibling;
      var has = cue && cue.classList.contains("scroll-cue");
      box.classList.toggle("wide", wide);
      if (wide && !has) {
        cue = document.createElement("p");
        cue.className = "scroll-cue";
        cue.textContent = "\u2194 This table is wider than the page: scroll it sideways for more columns " +
          "(the bar below it, or shift + mouse wheel).";
        box.parentNode.insertBefore(cue, box);
      } else if (!wide && has) {
        cue.remove();
      }
    });
  }
  window.addEventListener("resize", markWide);
  document.addEventListener("toggle", markWide, true);

  /* ---- sound ------------------------------------------------------------------------------------ */
  var ctx = null, master = null, current = null;
  function status(text) {
    var el = document.getElementById("audio-status");
    if (el) el.textContent = text;
  }
  function audio() {
    if (!ctx) {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) { status("This browser has no Web Audio: the players cannot sound."); return null; }
      ctx = new AC();
      master = ctx.createDynamicsCompressor();
      master.connect(ctx.destination);
    }
    if (ctx.state === "suspended") ctx.resume();
    return ctx;
  }
  function tempo() {
    var el = document.getElementById("tempo");
    var q = el ? Number(el.value) : 100;
    return q >= 20 && q <= 400 ? q : 100;
  }
  function tone(bus, t, dur, pitch, loud) {
    var o = ctx.createOscillator(), g = ctx.createGain();
    var end = t + Math.max(dur * 0.92, 0.06);
    o.type = "triangle";
    o.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
    g.gain.setValueAtTime(0, t);
    g.gain.linearRampToValueAtTime(loud, t + 0.01);
    g.gain.setTargetAtTime(loud * 0.4, t + 0.01, 0.3);
    g.gain.setTargetAtTime(0, end, 0.03);
    o.connect(g);
    g.connect(bus);
    o.start(t);
    o.stop(end + 0.25);
  }
  function stopAll() {
    if (!current) return;
    var h = current;
    current = null;
    clearInterval(h.timer);
    h.bus.gain.setTargetAtTime(0, ctx.currentTime, 0.02);
    setTimeout(function () { h.bus.disconnect(); }, 400);
    if (h.hooks.end) h.hooks.end();
  }
  /* events: [onset beat, duration beat, pitch, loudness (0 = silent)], sorted by onset; plays those
     starting in [from, to) at the page's tempo, calling hooks.tick(beat) on every frame. */
  function play(events, from, to, hooks) {
    stopAll();
    var c = audio();
    if (!c) return;
    var spb = 60 / tempo(), t0 = c.currentTime + 0.12, i = 0, last = from;
    while (i < events.length && events[i][0] < from) i++;
    for (var j = i; j < events.length && events[j][0] < to; j++) last = Math.max(last, events[j][0] + events[j][1]);
    var end = Math.min(to, last);
    var h = { hooks: hooks, bus: c.createGain(), timer: 0 };
    h.bus.connect(master);
    function pump() {
      var horizon = c.currentTime + 0.3;
      while (i < events.length && events[i][0] < to) {
        var e = events[i], t = t0 + (e[0] - from) * spb;
        if (t > horizon) break;
        if (e[3] > 0) tone(h.bus, Math.max(t, c.currentTime), e[1] * spb, e[2], e[3]);
        i++;
      }
      if (current === h && from + (c.currentTime - t0) / spb >= end) stopAll();
    }
    function frame() {
      if (current !== h) return;
      if (hooks.tick) hooks.tick(Math.max(from, from + (c.currentTime - t0) / spb));
      requestAnimationFrame(frame);
    }
    current = h;
    h.timer = setInterval(pump, 40);
    pump();
    requestAnimationFrame(frame);
  }

  /* ---- drawing ---------------------------------------------------------------------------------- */
  var patterns = {};
  function fillFor(g, code) {
    if (!G.hatch[code]) return G.colors[code];
    if (!patterns[code]) {
      var p = document.createElement("canvas");
      p.width = p.height = 6;
      var q = p.getContext("2d");
      q.fillStyle = G.colors[code];
      q.fillRect(0, 0, 6, 6);
      q.strokeStyle = "rgba(0,0,0,0.6)";
      q.lineWidth = 1.2;
      q.beginPath();
      q.moveTo(-1, 7); q.lineTo(7, -1); q.moveTo(-1, 1); q.lineTo(1, -1); q.moveTo(5, 7); q.lineTo(7, 5);
      q.stroke();
      patterns[code] = p;
    }
    return g.createPattern(patterns[code], "repeat");
  }
  function sized(canvas, w, h) {
    var r = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * r);
    canvas.height = Math.round(h * r);
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    var g = canvas.getContext("2d");
    g.setTransform(r, 0, 0, r, 0, 0);
    return g;
  }
  function drawNote(g, x, y, w, h, code) {
    g.fillStyle = code === undefined ? SOURCE_COLOR : fillFor(g, code);
    g.fillRect(x, y, Math.max(w, 1.5), h);
    if (code !== undefined && EDGE[code]) {
      g.strokeStyle = EDGE[code];
      g.lineWidth = 0.8;
      g.strokeRect(x + 0.4, y + 0.4, Math.max(w, 1.5) - 0.8, h - 0.8);
    }
  }
  function upperBound(arr, x) { /* first index with arr[i] > x */
    var lo = 0, hi = arr.length;
    while (lo < hi) { var m = (lo + hi) >> 1; if (arr[m] <= x) lo = m + 1; else hi = m; }
    return lo;
  }

  /* Canvases are drawn when they come near the screen and emptied when far from it, so a page of many
     long pieces holds a few canvases' pixels at a time, not all of them. */
  var watched = [], printing = false;
  var near = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (e) {
      var w = watched[Number(e.target.getAttribute("data-watch"))];
      if (e.isIntersecting) w.show(); else if (!printing) w.hide();
    });
  }, { rootMargin: "1500px 0px" }) : null;
  function lazy(canvas, show, hide) {
    if (!near) { show(); return; }
    canvas.setAttribute("data-watch", String(watched.length));
    watched.push({ show: show, hide: hide });
    near.observe(canvas);
  }
  function release(canvas) { canvas.width = 0; canvas.height = 0; }
  window.addEventListener("beforeprint", function () { printing = true; watched.forEach(function (w) { w.show(); }); });
  window.addEventListener("afterprint", function () { printing = false; });

  /* ---- a piece: remix map and player -------------------------------------------------------- */
  function Piece(canvas, d) {
    var n = d.o.length, spb = d.spb, i;
    var on = new Array(n), du = new Array(n);
    var pmin = 127, pmax = 0, endBeat = 0;
    for (i = 0; i < n; i++) {
      on[i] = d.o[i] / spb;
      du[i] = Math.max(d.d[i], 1) / spb;
      pmin = Math.min(pmin, d.p[i]);
      pmax = Math.max(pmax, d.p[i]);
      endBeat = Math.max(endBeat, on[i] + du[i]);
    }
    if (!n) { pmin = 60; pmax = 72; }
    var nRows = 1, rowOf = [];  /* passage bands: a row each (p[6]), overlapping bands never share one */
    d.pas.forEach(function (p, k) { rowOf[k] = p[6] || 0; nRows = Math.max(nRows, rowOf[k] + 1); });
    var band = nRows > 4 ? Math.max(8, Math.floor(52 / nRows)) : 13, top = nRows * band + 4;
    var span = pmax - pmin + 3, nh = Math.max(2, Math.min(7, Math.floor(300 / span)));
    var wrapW = canvas.parentNode.clientWidth || 1100;
    var ppb = Math.max(wrapW / Math.max(endBeat, 1), 4);
    ppb = Math.min(ppb, MAX_WIDTH / Math.max(endBeat, 1));  /* long pieces scroll, up to MAX_WIDTH px */
    var gx = 30;  /* left gutter: pitch names */
    var W = Math.max(Math.ceil(endBeat * ppb) + gx + 10, 200), H = top + span * nh + 18;
    var y = function (p) { return top + (pmax + 1 - p) * nh; };
    var X = function (beat) { return gx + beat * ppb; };
    var g = null, overlay = null;
    canvas.style.width = W + "px";  /* its place in the page before it is drawn */
    canvas.style.height = H + "px";
    function draw() {  /* once, when the map comes near the screen */
      if (g) return;
      g = sized(canvas, W, H);
      g.fillStyle = "#fff";
      g.fillRect(0, 0, W, H);
      /* bar lines and bar numbers */
      g.font = "10px sans-serif";
      g.fillStyle = "#666";
      var lastLabel = -1e9;
      for (var c = Math.ceil((pmin - 1) / 12) * 12; c <= pmax + 1; c += 12) {  /* C of each octave */
        g.strokeStyle = "#f0f0f0";
        g.beginPath(); g.moveTo(gx, y(c) + nh - 0.5); g.lineTo(W, y(c) + nh - 0.5); g.stroke();
        g.fillText("C" + (c / 12 - 1), 2, y(c) + nh);
      }
      d.b.forEach(function (step, k) {
        var x = X(step / spb);
        g.strokeStyle = "#e4e4e4";
        g.beginPath(); g.moveTo(x + 0.5, top); g.lineTo(x + 0.5, H - 16); g.stroke();
        if (x - lastLabel >= 28) { g.fillText(String(d.bn ? d.bn[k] : k + 1), x + 2, H - 4); lastLabel = x; }
      });
      if (d.b.length) g.fillText("bar", 2, H - 4);
      for (i = 0; i < n; i++) drawNote(g, X(on[i]), y(d.p[i]) + 0.5, du[i] * ppb - 0.5, nh - 1, d.l[i]);
      d.pas.forEach(function (p, k) {
        var x = X(p[1]), w = Math.max((p[2] - p[1]) * ppb, 2), yy = rowOf[k] * band + 1;
        g.fillStyle = fillFor(g, p[3]);
        g.fillRect(x, yy, w, band - 2);
        g.strokeStyle = "#333";
        g.lineWidth = 0.6;
        g.strokeRect(x + 0.3, yy + 0.3, w - 0.6, band - 2.6);
        if (p[4] && w > 18 && band >= 11) {
          g.fillStyle = p[3] === COPIED ? "#fff" : "#000";
          g.font = "bold 9px sans-serif";
          g.fillText("S" + p[4], x + 3, yy + band - 4);
        }
      });
      canvas.setAttribute("data-drawn", String(n));
    }
    lazy(canvas, draw, function () { if (!overlay) { release(canvas); g = null; } });
    var now = canvas.closest(".piece").querySelector(".now");
    var solo = canvas.closest(".piece").querySelector(".solo");
    var none = canvas.closest(".piece").querySelector(".solo-none");
    if (solo && none) solo.addEventListener("change", function () { none.hidden = !solo.checked; });

    function caption(beat) {
      var bar = d.b.length ? upperBound(d.b, beat * spb + 1e-6) : 0;
      if (bar && d.bn) bar = d.bn[bar - 1];
      var here = [];
      d.pas.forEach(function (p) { if (p[1] <= beat && beat < p[2] && here.indexOf(p[5]) < 0) here.push(p[5]); });
      return (bar ? "bar " + bar + ": " : "beat " + beat.toFixed(1) + ": ") + (here.length ? here.join("; ") : "no passage from the reference");
    }
    function drawAt(beat) {  /* the cursor, the notes sounding and the passages under it, on an overlay */
      draw();
      if (!overlay) {
        overlay = document.createElement("canvas");
        overlay.className = "cursor-layer";
        canvas.parentNode.appendChild(overlay);
      }
      var out = sized(overlay, W, H);
      var x = X(beat);
      var k = upperBound(on, beat);
      out.strokeStyle = "#000";
      out.lineWidth = 1.5;
      for (var j = k - 1; j >= 0 && j >= k - 256; j--) {
        if (on[j] + du[j] > beat) out.strokeRect(X(on[j]), y(d.p[j]) + 0.5, Math.max(du[j] * ppb - 0.5, 1.5), nh - 1);
      }
      d.pas.forEach(function (p, q) {
        if (p[1] <= beat && beat < p[2]) {
          out.strokeStyle = "#000";
          out.lineWidth = 2;
          out.strokeRect(X(p[1]), rowOf[q] * band + 1, (p[2] - p[1]) * ppb, band - 2);
        }
      });
      out.fillStyle = "rgba(0,0,0,0.75)";
      out.fillRect(x - 1, 0, 2, H);
      canvas.setAttribute("data-cursor", beat.toFixed(3));
      if (now) now.textContent = caption(beat);
      var wrap = canvas.parentNode;
      if (x < wrap.scrollLeft || x > wrap.scrollLeft + wrap.clientWidth - 40) wrap.scrollLeft = Math.max(0, x - 60);
    }
    function events() {
      var only = solo && solo.checked, ev = new Array(n);
      for (var j = 0; j < n; j++) {
        var rec = d.l[j] === COPIED || d.l[j] === VARIED;
        ev[j] = [on[j], du[j], d.p[j], only && !rec ? 0 : 0.16];
      }
      return ev;
    }
    function start(from, to) {
      var player = canvas.closest(".piece").querySelector(".player");
      play(events(), from, to, {
        tick: drawAt,
        end: function () {
          if (overlay) { overlay.remove(); overlay = null; }
          player.removeAttribute("data-state");
          if (now) now.textContent = "";
        },
      });
      if (current) player.setAttribute("data-state", "playing");
    }
    canvas.addEventListener("click", function (ev) {
      var r = canvas.getBoundingClientRect();
      start(Math.max(0, (ev.clientX - r.left - gx) / ppb), Infinity);
    });
    return { start: start };
  }

  /* ---- a passage beside its source ---------------------------------------------------------- */
  /* d: q, s (the matched lines: [onset, duration, pitch(, label)] in beats from each passage's start),
     qt, st (the other voices of those bars), qb, sb (bars: [number, beat], the first may start before). */
  function Pair(box, d) {
    var canvas = box.querySelector("canvas.pair-roll");
    var all = box.querySelector("input.all-voices");
    var label = 62, W = canvas.clientWidth || 340;
    var len = function (ns) { return ns.reduce(function (m, x) { return Math.max(m, x[0] + x[1]); }, 0); };
    var ql = len(d.q), sl = len(d.s);
    var names = [["this piece", canvas.getAttribute("data-query") || ""], ["source", canvas.getAttribute("data-source") || ""]];
    function fit(g, text, width) {  /* text cut with an ellipsis to fit width px */
      if (g.measureText(text).width <= width) return text;
      while (text.length > 1 && g.measureText(text + "…").width > width) text = text.slice(0, -1);
      return text + "…";
    }
    function full() { return !!(all && all.checked); }
    function span() { return Math.max(ql, sl, full() ? Math.max(len(d.qt), len(d.st)) : 0, 1); }
    var MARK = { change: "\u2260", insertion: "+", passing: "+", ornament: "+", deletion: "\u2212" };
    function lane(g, ns, tex, bars, y0, h, ppb, name, color, marks) {
      var shown = full() ? tex : [], lo = 127, hi = 0;
      ns.concat(shown).forEach(function (x) { lo = Math.min(lo, x[2]); hi = Math.max(hi, x[2]); });
      var top = y0 + 16, nh = Math.max(2, Math.min(8, Math.floor((h - 20) / Math.max(hi - lo + 1, 1))));
      g.fillStyle = "#333";
      g.font = "11px sans-serif";
      g.fillText(name[0], 4, y0 + 12);
      g.fillStyle = "#666";
      g.fillText(fit(g, name[1], label - 8), 4, y0 + 26);
      /* Bar lines, and each bar's number where there is room: a bar begun before the passage gives way
         to the next one when they would overlap (a pickup of a beat). */
      var kept = [];
      g.font = "10px sans-serif";
      bars.forEach(function (b, k) {
        if (b[1] < 0 && k + 1 < bars.length && bars[k + 1][1] <= 0) return;  /* an earlier bar, not shown */
        var x = label + Math.max(b[1], 0) * ppb;
        if (b[1] > 0) {
          g.strokeStyle = "#999";
          g.setLineDash([3, 3]);
          g.beginPath(); g.moveTo(x + 0.5, y0 + 14); g.lineTo(x + 0.5, y0 + h); g.stroke();
          g.setLineDash([]);
        }
        var last = kept[kept.length - 1], text = (kept.length ? "" : "bar ") + b[0];
        if (last && x + 2 < last.right + 4) {
          if (kept.length > 1 || last.x > label) return;  /* no room beside the number before */
          kept.pop();
          text = "bar " + b[0];
        }
        kept.push({ bar: b[0], text: text, x: x, right: x + 2 + g.measureText(text).width });
      });
      g.fillStyle = "#555";
      kept.forEach(function (k) { g.fillText(k.text, k.x + 2, y0 + 12); });
      var numbers = kept.map(function (k) { return k.bar; });
      shown.forEach(function (x) {
        g.fillStyle = "#c9c9c9";
        g.fillRect(label + x[0] * ppb, top + (hi - x[2]) * nh, Math.max(x[1] * ppb - 1, 1.5), nh - 1);
      });
      /* The query line in its passage's own label (colour and pattern), whatever its notes' labels. */
      ns.forEach(function (x) {
        var code = color ? (d.lab >= 0 ? d.lab : x[3]) : undefined;
        drawNote(g, label + x[0] * ppb, top + (hi - x[2]) * nh, x[1] * ppb - 1, nh - 1, code);
      });
      /* The edits the card names: changed and added notes of this piece, left-out notes of the source. */
      g.font = "bold 11px sans-serif";
      marks.forEach(function (m) {
        var x = ns[m[0]];
        if (!x) return;
        var xx = label + x[0] * ppb, yy = top + (hi - x[2]) * nh;
        g.strokeStyle = "#c2185b";
        g.lineWidth = 2;
        if (m[1] === "deletion") g.setLineDash([2, 2]);
        g.strokeRect(xx - 1.5, yy - 1.5, Math.max(x[1] * ppb - 1, 1.5) + 3, nh + 2);
        g.setLineDash([]);
        g.fillStyle = "#c2185b";
        g.fillText(MARK[m[1]] || "*", xx, Math.max(yy - 3, y0 + 24));
      });
      return numbers;
    }
    var drawn = false, geometry = null;
    function draw() {
      var H = full() ? 340 : 170, half = H / 2, ppb = (W - label - 6) / span();
      canvas.style.height = H + "px";
      var g = sized(canvas, W, H);
      g.fillStyle = "#fff";
      g.fillRect(0, 0, W, H);
      var qb = lane(g, d.q, d.qt, d.qb, 0, half, ppb, names[0], true, d.eq || []);
      g.strokeStyle = "#ddd";
      g.beginPath(); g.moveTo(0, half + 0.5); g.lineTo(W, half + 0.5); g.stroke();
      var sb = lane(g, d.s, d.st, d.sb, half, half, ppb, names[1], false, d.es || []);
      canvas.setAttribute("data-marks", String((d.eq || []).length + (d.es || []).length));
      canvas.setAttribute("data-fill", String(d.lab));
      var n = d.q.length + d.s.length + (full() ? d.qt.length + d.st.length : 0);
      canvas.setAttribute("data-drawn", String(n));
      canvas.setAttribute("data-bars", JSON.stringify([qb, sb]));
      drawn = true;
      geometry = { half: half, ppb: ppb };
      return g;
    }
    canvas.style.height = "170px";
    function ev(ns, shift, loud) { return ns.map(function (x) { return [x[0] + shift, x[1], x[2], loud]; }); }
    function go(q, s) {
      var gap = 1, shift = q ? Math.max(ql, full() ? len(d.qt) : 0) + gap : 0, evs = [];
      if (q) evs = evs.concat(ev(d.q, 0, 0.18), full() ? ev(d.qt, 0, 0.1) : []);
      if (s) evs = evs.concat(ev(d.s, shift, 0.18), full() ? ev(d.st, shift, 0.1) : []);
      evs.sort(function (a, b) { return a[0] - b[0]; });
      box.setAttribute("data-events", String(evs.length));
      play(evs, 0, Infinity, {
        tick: function (beat) {
          var out = draw();
          var inSource = s && (!q || beat >= shift), b = inSource && q ? beat - shift : beat;
          out.fillStyle = "rgba(0,0,0,0.75)";
          out.fillRect(label + b * geometry.ppb - 1, inSource ? geometry.half : 0, 2, geometry.half);
        },
        end: draw,
      });
    }
    lazy(canvas, function () { if (!drawn) draw(); }, function () { release(canvas); drawn = false; });
    if (all) all.addEventListener("change", function () { draw(); });
    box.querySelector(".play-q").addEventListener("click", function () { go(true, false); });
    box.querySelector(".play-s").addEventListener("click", function () { go(false, true); });
    box.querySelector(".play-both").addEventListener("click", function () { go(true, true); });
  }

  /* ---- wiring ----------------------------------------------------------------------------------- */
  initTables();
  markWide();
  var pieces = {};
  Array.prototype.forEach.call(document.querySelectorAll("canvas.remix-map"), function (canvas) {
    var k = canvas.getAttribute("data-piece");
    pieces[k] = Piece(canvas, JSON.parse(document.getElementById("data-" + k).textContent));
    var player = canvas.closest(".piece").querySelector(".player");
    player.querySelector(".play").addEventListener("click", function () { pieces[k].start(0, Infinity); });
    player.querySelector(".stop").addEventListener("click", stopAll);
  });
  Array.prototype.forEach.call(document.querySelectorAll("button.seek"), function (b) {
    b.addEventListener("click", function () {
      var p = pieces[b.getAttribute("data-piece")];
      if (p) p.start(Number(b.getAttribute("data-from")), Number(b.getAttribute("data-to")));
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll(".pair"), function (box) {
    Pair(box, JSON.parse(box.querySelector(".pair-data").textContent));
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") stopAll(); });
})();
