/* Review packet script: language toggle, lazy posters, reviewers' notes (kept in localStorage, exported as
   a JSON file with a SHA-256 digest). No network: the page's CSP allows no connections. Every piece of
   text from data or from the reviewer is set with textContent, never parsed as HTML. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("packet-data").textContent);
  var root = document.documentElement;
  var NOTES_KEY = "docfilm-notes:" + data.film;
  var NAME_KEY = "docfilm-reviewer";
  var LANG_KEY = "docfilm-lang";
  var SCHEMA = "docfilm.review-notes";

  // ------------------------------------------------------------------ storage
  // localStorage can be refused (private windows, some local-file settings): notes then live in memory only.
  var memory = {};
  var persistent = true;
  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      persistent = false;
      return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : fallback;
    }
  }
  function store(key, value) {
    memory[key] = value;
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) {
      persistent = false;
    }
  }

  // ------------------------------------------------------------------ text helpers
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }
  // A phrase in both languages as two spans; CSS shows the one the toggle chose.
  function bi(vi, en) {
    var frag = document.createDocumentFragment();
    var a = el("span", null, vi);
    a.lang = "vi";
    var b = el("span", "en", " " + en);
    b.lang = "en";
    frag.appendChild(a);
    frag.appendChild(b);
    return frag;
  }
  function wellFormed(text) {
    var s = String(text).normalize("NFC");
    return typeof s.toWellFormed === "function" ? s.toWellFormed() : s;
  }

  // ------------------------------------------------------------------ language
  function setLang(lang) {
    root.setAttribute("data-lang", lang);
    root.lang = lang;
    var button = document.getElementById("lang-toggle");
    if (button) button.setAttribute("aria-pressed", lang === "en" ? "true" : "false");
    store(LANG_KEY, lang);
  }

  // ------------------------------------------------------------------ timecode
  // One frame of the clip is one timecode frame. Timecode counts at the clip's rate rounded (25, 30 for
  // 29.97); drop-frame only at 29.97/59.94 when the start timecode is written with ';' (SMPTE 12M).
  function parseRate(text) {
    var parts = String(text || "").split("/");
    var num = Number(parts[0]);
    var den = parts.length > 1 ? Number(parts[1]) : 1;
    if (!(num > 0) || !(den > 0)) return null;
    return { num: num, den: den, value: num / den };
  }
  function tcClock(rate, start) {
    var nominal = Math.max(1, Math.round(rate.value));
    var ntsc = rate.den === 1001 && (nominal === 30 || nominal === 60);
    return { nominal: nominal, drop: ntsc && String(start || "").indexOf(";") >= 0 };
  }
  function pad(n, width) {
    var s = String(n);
    while (s.length < width) s = "0" + s;
    return s;
  }
  function tcToFrames(tc, clock) {
    var m = /^(\d{2}):(\d{2}):(\d{2})[:;](\d{2,3})$/.exec(String(tc || "00:00:00:00"));
    if (!m) return null;
    var h = +m[1], mi = +m[2], s = +m[3], f = +m[4];
    var n = clock.nominal;
    var frames = ((h * 60 + mi) * 60 + s) * n + f;
    if (clock.drop) {
      var dropped = n === 30 ? 2 : 4;
      var minutes = h * 60 + mi;
      frames -= dropped * (minutes - Math.floor(minutes / 10));
    }
    return frames;
  }
  function framesToTc(frames, clock) {
    var n = clock.nominal;
    var day = n * 86400;
    if (clock.drop) {
      var dropped = n === 30 ? 2 : 4;
      var perTen = n * 600 - dropped * 9;
      var perMinute = n * 60 - dropped;
      day = perTen * 144;
      frames = ((frames % day) + day) % day;
      var tens = Math.floor(frames / perTen);
      var rest = frames % perTen;
      frames += dropped * 9 * tens + (rest > dropped ? dropped * Math.floor((rest - dropped) / perMinute) : 0);
    } else {
      frames = ((frames % day) + day) % day;
    }
    var ff = frames % n;
    var total = Math.floor(frames / n);
    var sep = clock.drop ? ";" : ":";
    return pad(Math.floor(total / 3600), 2) + ":" + pad(Math.floor(total / 60) % 60, 2) + ":" +
      pad(total % 60, 2) + sep + pad(ff, n > 100 ? 3 : 2);
  }
  // The frame on screen: requestVideoFrameCallback reports the presented frame's own time; otherwise the
  // frame whose interval holds currentTime (a frame k shows from k/fps until (k+1)/fps).
  function frameAt(video, rate, maxFrames) {
    var t = video.currentTime;
    var shown = video.__docfilmMediaTime;
    if (typeof shown === "number" && Math.abs(shown - t) < 0.5 / rate.value) t = shown;
    var frame = Math.floor(t * rate.num / rate.den + 1e-3);
    if (maxFrames > 0) frame = Math.min(frame, maxFrames - 1);
    return Math.max(0, frame);
  }
  function watchFrames(video) {
    if (video.__docfilmWatched || typeof video.requestVideoFrameCallback !== "function") return;
    video.__docfilmWatched = true;
    var tick = function (now, meta) {
      video.__docfilmMediaTime = meta.mediaTime;
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  }
  function clipInfo(figure) {
    var rate = parseRate(figure.getAttribute("data-fps"));
    if (!rate) return null;
    var start = figure.getAttribute("data-start-tc") || "00:00:00:00";
    var clock = tcClock(rate, start);
    return { rate: rate, start: start, clock: clock, startFrames: tcToFrames(start, clock),
      frames: Number(figure.getAttribute("data-frames") || 0) };
  }
  function playheadOf(figure) {
    var video = figure.querySelector("video");
    var info = clipInfo(figure);
    if (!info || info.startFrames === null) return null;
    // A clip not opened yet is at its first frame.
    var frame = video ? frameAt(video, info.rate, info.frames) : 0;
    return { frame: frame, timecode: framesToTc(info.startFrames + frame, info.clock),
      fps: info.rate.num + "/" + info.rate.den };
  }

  // ------------------------------------------------------------------ SHA-256 (FIPS 180-4), over UTF-8
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ];
  function sha256Hex(text) {
    var bytes = new TextEncoder().encode(text);
    var bitLength = bytes.length * 8;
    var padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
    padded.set(bytes);
    padded[bytes.length] = 0x80;
    var view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
    view.setUint32(padded.length - 4, bitLength >>> 0);
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    var w = new Array(64);
    for (var off = 0; off < padded.length; off += 64) {
      for (var i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
      for (i = 16; i < 64; i++) {
        var x = w[i - 15], y = w[i - 2];
        var s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        var s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
      }
      var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (i = 0; i < 64; i++) {
        var S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        var t1 = (k + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
        var S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        var t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
    }
    return h.map(function (v) { return pad((v >>> 0).toString(16), 8); }).join("");
  }
  // Keys sorted, no whitespace: the same bytes as Python's json.dumps(sort_keys=True, separators=(",", ":"),
  // ensure_ascii=False) for the values a notes file holds (strings, integers, null, lists, objects).
  function canonicalJson(value) {
    if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
    if (value !== null && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (key) {
        return JSON.stringify(key) + ":" + canonicalJson(value[key]);
      }).join(",") + "}";
    }
    return JSON.stringify(value);
  }

  // ------------------------------------------------------------------ notes
  var VERDICTS = [
    ["comment", "Góp ý", "Comment"],
    ["approve", "Duyệt", "Approve"],
    ["changes-requested", "Cần sửa", "Changes requested"]
  ];
  function verdictLabel(verdict) {
    for (var i = 0; i < VERDICTS.length; i++) if (VERDICTS[i][0] === verdict) return VERDICTS[i];
    return VERDICTS[0];
  }
  function newId() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (v) { return pad(v.toString(16), 2); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" +
      hex.slice(20);
  }
  var received = {};
  data.imported.forEach(function (id) { received[id] = true; });
  // Notes the producers have already imported are shown from the ledger; drop the local copies.
  var notes = load(NOTES_KEY, []).filter(function (n) { return n && n.id && !received[n.id]; });
  store(NOTES_KEY, notes);

  function clipName(assetId) {
    var figure = document.getElementById("clip-" + assetId);
    var name = figure && figure.querySelector(".clip-name");
    return name ? name.firstChild.textContent : assetId;
  }
  function noteItem(note) {
    var li = el("li", "note verdict-" + note.verdict);
    var label = verdictLabel(note.verdict);
    var badge = el("span", "state state-" + note.verdict);
    badge.appendChild(bi(label[1], label[2]));
    li.appendChild(badge);
    var where = " " + note.scene + (note.asset ? " · " + clipName(note.asset) : "") +
      (note.timecode ? " · " + note.timecode : "");
    li.appendChild(el("span", "note-where", where));
    li.appendChild(el("p", "note-text", note.text));
    var del = el("button", "note-delete");
    del.type = "button";
    del.setAttribute("data-note", note.id);
    del.appendChild(bi("Xoá", "Delete"));
    li.appendChild(del);
    return li;
  }
  function renderNotes() {
    var mine = document.getElementById("my-note-list");
    mine.textContent = "";
    notes.forEach(function (note) { mine.appendChild(noteItem(note)); });
    var lists = document.querySelectorAll(".notes .note-list.local");
    Array.prototype.forEach.call(lists, function (list) {
      var scene = list.parentNode.getAttribute("data-scene");
      list.textContent = "";
      notes.forEach(function (note) { if (note.scene === scene) list.appendChild(noteItem(note)); });
      list.hidden = !list.firstChild;
    });
    document.getElementById("notes-count").textContent = String(notes.length);
  }

  var form = null;
  function closeForm() {
    if (form && form.parentNode) form.parentNode.removeChild(form);
    form = null;
  }
  function openForm(anchor, scene, figure) {
    closeForm();
    form = el("form", "note-form");
    form.noValidate = true;
    var target = el("p", "note-target");
    var tc = el("span", "tc");
    target.appendChild(document.createTextNode(scene + (figure ? " · " + clipName(figure.getAttribute("data-asset")) : "")));
    if (figure) {
      target.appendChild(document.createTextNode(" · "));
      target.appendChild(tc);
    }
    form.appendChild(target);
    form.__figure = figure;
    form.__tc = tc;
    if (figure) showPlayhead(figure);
    var area = el("textarea", "note-input");
    area.maxLength = 20000;
    area.rows = 3;
    area.setAttribute("aria-label", "Ý kiến / Note");
    form.appendChild(area);
    var choices = el("fieldset", "verdicts");
    var legend = el("legend");
    legend.appendChild(bi("Đánh giá", "Verdict"));
    choices.appendChild(legend);
    VERDICTS.forEach(function (v, i) {
      var label = el("label");
      var radio = el("input");
      radio.type = "radio";
      radio.name = "verdict";
      radio.value = v[0];
      radio.checked = i === 0;
      label.appendChild(radio);
      label.appendChild(bi(v[1], v[2]));
      choices.appendChild(label);
    });
    form.appendChild(choices);
    var save = el("button", "note-save");
    save.type = "submit";
    save.appendChild(bi("Lưu ý kiến", "Save note"));
    var cancel = el("button", "note-cancel");
    cancel.type = "button";
    cancel.appendChild(bi("Huỷ", "Cancel"));
    var actions = el("p", "note-actions");
    actions.appendChild(save);
    actions.appendChild(document.createTextNode(" "));
    actions.appendChild(cancel);
    form.appendChild(actions);
    cancel.addEventListener("click", closeForm);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = wellFormed(area.value).trim();
      var chosen = form.querySelector("input[name=verdict]:checked");
      var verdict = chosen ? chosen.value : "comment";
      if (!text && verdict === "comment") {
        area.focus();
        return;
      }
      var head = figure ? playheadOf(figure) : null;
      notes.push({
        id: newId(),
        scene: scene,
        asset: figure ? figure.getAttribute("data-asset") : null,
        verdict: verdict,
        text: text,
        frame: head ? head.frame : null,
        timecode: head ? head.timecode : null,
        fps: head ? head.fps : null,
        written_at: new Date().toISOString(),
        packet_id: data.packet_id
      });
      store(NOTES_KEY, notes);
      closeForm();
      renderNotes();
    });
    anchor.parentNode.insertBefore(form, anchor.nextSibling);
    area.focus();
  }

  function slug(text) {
    var s = wellFormed(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
    s = s.replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
    return s || "reviewer";
  }
  function today() {
    var d = new Date();
    return d.getFullYear() + "-" + pad(d.getMonth() + 1, 2) + "-" + pad(d.getDate(), 2);
  }
  function exportDocument(reviewer) {
    var doc = {
      schema: SCHEMA,
      version: 1,
      film: data.film,
      packet_id: data.packet_id,
      manifest_sha256: data.manifest_sha256,
      reviewer: reviewer,
      exported_at: new Date().toISOString(),
      notes: notes.map(function (n) {
        return { id: n.id, scene: n.scene, asset: n.asset, verdict: n.verdict, text: n.text, frame: n.frame,
          timecode: n.timecode, fps: n.fps, written_at: n.written_at, packet_id: n.packet_id };
      })
    };
    doc.integrity = { algorithm: "sha256", digest: sha256Hex(canonicalJson(doc)) };
    return doc;
  }
  function exportNotes() {
    var status = document.getElementById("export-status");
    var input = document.getElementById("reviewer-name");
    var reviewer = wellFormed(input.value).trim();
    status.textContent = "";
    if (!reviewer) {
      status.appendChild(bi("Xin nhập họ và tên trước khi xuất.", "Please enter your name before exporting."));
      input.focus();
      return;
    }
    if (!notes.length) {
      status.appendChild(bi("Chưa có ý kiến nào để xuất.", "There are no notes to export yet."));
      return;
    }
    var doc = exportDocument(reviewer);
    var blob = new Blob([JSON.stringify(doc, null, 1) + "\n"], { type: "application/json" });
    var link = el("a");
    link.href = URL.createObjectURL(blob);
    link.download = "notes_" + slug(reviewer) + "_" + today() + ".json";
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    window.setTimeout(function () {
      URL.revokeObjectURL(link.href);
      link.parentNode.removeChild(link);
    }, 60000);
    status.appendChild(bi("Đã xuất " + notes.length + " ý kiến vào tệp " + link.download + ".",
      "Exported " + notes.length + " notes to " + link.download + "."));
  }

  // ------------------------------------------------------------------ players, made when needed
  // Each playable clip is a link to its proxy with a lazy-loading poster. It becomes a video element when it
  // comes near the screen (metadata only) or is clicked (and then plays), so opening a packet of thousands
  // of clips creates no media player at all.
  function upgrade(link, preload) {
    if (!link.parentNode) return link.__video || null;
    var video = document.createElement("video");
    video.controls = true;
    video.playsInline = true;
    video.preload = preload || "metadata";
    var img = link.querySelector("img");
    if (img) {
      video.poster = img.currentSrc || img.src;
      if (img.getAttribute("width")) video.width = Number(img.getAttribute("width"));
      if (img.getAttribute("height")) video.height = Number(img.getAttribute("height"));
    }
    var source = document.createElement("source");
    source.src = link.href;
    source.type = link.getAttribute("data-type") || "video/mp4";
    video.appendChild(source);
    link.parentNode.replaceChild(video, link);
    link.__video = video;
    watchFrames(video);
    return video;
  }
  var players = document.querySelectorAll("a.player");
  var nearObserver = null;
  // A packet of a few hundred clips gets every player at once (loading nothing until asked), so reviewers
  // and scripts find a video element for each clip; only large packets wait for clips to come near the screen.
  var EAGER_PLAYERS = 300;
  if (players.length <= EAGER_PLAYERS) {
    Array.prototype.forEach.call(players, function (link) { upgrade(link, "none"); });
  } else if ("IntersectionObserver" in window) {
    nearObserver = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) {
          nearObserver.unobserve(entry.target);
          upgrade(entry.target);
        }
      });
    }, { rootMargin: "300px 0px" });
    Array.prototype.forEach.call(players, function (link) { nearObserver.observe(link); });
  }
  document.addEventListener("play", function (event) {
    if (event.target.tagName === "VIDEO") watchFrames(event.target);
  }, true);
  document.addEventListener("seeking", function (event) {
    if (event.target.tagName === "VIDEO") watchFrames(event.target);
  }, true);

  // The source timecode under the playhead, beside the note button and in an open note form of that clip.
  function showPlayhead(figure) {
    var head = playheadOf(figure);
    var label = figure.querySelector(".tc-now");
    if (label) label.textContent = head ? head.timecode : "";
    if (form && form.__figure === figure) form.__tc.textContent = head ? head.timecode : "—";
  }
  ["seeked", "pause", "timeupdate"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var video = event.target;
      if (video.tagName !== "VIDEO" || (type === "timeupdate" && !video.paused)) return;
      var figure = video.closest("figure.clip");
      if (figure) showPlayhead(figure);
    }, true);
  });

  // ------------------------------------------------------------------ wiring
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.player") : null;
    if (link) {
      event.preventDefault();
      if (nearObserver) nearObserver.unobserve(link);
      var started = upgrade(link);
      if (started) started.play().catch(function () { /* the reviewer can press play */ });
      return;
    }
    var button = event.target.closest ? event.target.closest("button") : null;
    if (!button) return;
    if (button.id === "lang-toggle") {
      setLang(root.getAttribute("data-lang") === "en" ? "vi" : "en");
    } else if (button.id === "export-notes") {
      exportNotes();
    } else if (button.classList.contains("note-clip")) {
      var figure = button.closest("figure.clip");
      openForm(button.parentNode, figure.getAttribute("data-scene"), figure);
    } else if (button.classList.contains("note-scene")) {
      openForm(button.parentNode, button.closest(".notes").getAttribute("data-scene"), null);
    } else if (button.classList.contains("note-delete")) {
      var id = button.getAttribute("data-note");
      if (window.confirm("Xoá ý kiến này? / Delete this note?")) {
        notes = notes.filter(function (n) { return n.id !== id; });
        store(NOTES_KEY, notes);
        renderNotes();
      }
    }
  });
  var nameInput = document.getElementById("reviewer-name");
  nameInput.value = load(NAME_KEY, "");
  nameInput.addEventListener("change", function () { store(NAME_KEY, wellFormed(nameInput.value).trim()); });

  setLang(load(LANG_KEY, "vi") === "en" ? "en" : "vi");
  var hidden = document.querySelectorAll("#toolbar, #my-notes, .clip-actions, .scene-actions");
  Array.prototype.forEach.call(hidden, function (node) { node.hidden = false; });
  renderNotes();
  if (!persistent) {
    document.getElementById("export-status").appendChild(bi(
      "Trình duyệt không cho lưu: hãy xuất ý kiến trước khi đóng trang.",
      "This browser does not keep notes: export them before closing the page."));
  }
  window.docfilmPacket = {
    framesToTimecode: function (frames, fps, start) {
      var rate = parseRate(fps);
      return framesToTc(tcToFrames(start, tcClock(rate, start)) + frames, tcClock(rate, start));
    },
    playhead: function (assetId) { return playheadOf(document.getElementById("clip-" + assetId)); },
    sha256Hex: sha256Hex,
    canonicalJson: canonicalJson,
    ready: performance.now()
  };
  root.setAttribute("data-ready", "yes");
})();
