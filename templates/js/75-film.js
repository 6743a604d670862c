  // ------------------------------------------------------------------ the film (review cut) at the top
  // The record timecode under the playhead is the cut's own (its start, drop-frame when written with ';'),
  // counted frame by frame like the clips' source timecode. What is under a frame comes from the cut's map in
  // the data block, looked up as editorial.resolve.resolve does: a take gives its shot, clip and source
  // timecode; a card (title, slate) or a gap gives its scene only.
  var filmPlayer = document.getElementById("film-player");
  var cutVideo = document.getElementById("cut-video");
  function isFilm(node) {
    return !!node && node === filmPlayer;
  }
  function cutClock() {
    var rate = parseRate(data.cut && data.cut.fps);
    if (!rate) return null;
    var start = data.cut.start_timecode;
    var clock = tcClock(rate, start);
    return { rate: rate, clock: clock, startFrames: tcToFrames(start, clock), frames: data.cut.frames,
      offset: Number(data.cut.video_start) || 0 };
  }
  // The cut's frame on screen. The file may present its first picture a little after 0 (`video_start`): frames
  // count from there. The presented frame's own time (requestVideoFrameCallback) is preferred when it is the one
  // under currentTime.
  function cutFrameAt(video, info) {
    var t = video.currentTime;
    var shown = video.__docfilmMediaTime;
    if (typeof shown === "number" && t >= shown && t - shown < info.rate.den / info.rate.num) t = shown;
    var frame = Math.floor((t - info.offset) * info.rate.num / info.rate.den + 1e-3);
    return Math.max(0, Math.min(frame, info.frames - 1));
  }
  function resolveFrame(frame) {
    var events = (data.cut && data.cut.events) || [];
    if (!events.length || frame < 0 || frame >= data.cut.frames) return null;
    var low = 0, high = events.length - 1;
    while (low < high) {
      var middle = Math.floor((low + high + 1) / 2);
      if (events[middle].in <= frame) low = middle; else high = middle - 1;
    }
    var e = events[low];
    var out = { scene: e.scene, kind: e.kind, name: e.name, shot: null, asset: null, source: null };
    var src = parseRate(e.src_fps);
    var rec = parseRate(data.cut.fps);
    if (e.kind !== "take" || !e.asset || !src || !rec) return out;
    // Each source frame held for its duration when the take runs at another rate than the cut.
    var offset = Math.floor((frame - e.in) * src.num * rec.den / (src.den * rec.num) + 1e-9);
    var sourceFrame = e.src_in + offset;
    var start = e.src_start || "00:00:00:00";
    var clock = tcClock(src, start);
    out.shot = e.shot;
    out.asset = e.asset;
    out.source = framesToTc(tcToFrames(start, clock) + sourceFrame, clock);
    out.sourceFrame = sourceFrame;
    return out;
  }
  function resolvedText(r) {
    if (!r) return "";
    if (!r.asset) return r.scene + " · " + r.name;
    return [r.scene, r.shot, r.name, r.source].filter(function (p) { return !!p; }).join(" · ");
  }
  function cutHead() {
    var info = cutClock();
    if (!info || !cutVideo) return null;
    var frame = cutFrameAt(cutVideo, info);
    var r = resolveFrame(frame);
    return { frame: frame, timecode: framesToTc(info.startFrames + frame, info.clock),
      fps: info.rate.num + "/" + info.rate.den, scene: r ? r.scene : null, resolved: r };
  }
  function showCutHead() {
    var head = cutHead();
    if (!head) return;
    document.getElementById("cut-tc").textContent = head.timecode;
    document.getElementById("cut-where").textContent = resolvedText(head.resolved);
    if (form && isFilm(form.__figure)) form.__tc.textContent = head.timecode;
  }
  function seekFilm(frame) {
    var info = cutClock();
    if (!info || !cutVideo) return;
    // The middle of the frame's interval: the frame itself, whatever the decoder rounds.
    cutVideo.currentTime = info.offset + (frame + 0.5) * info.rate.den / info.rate.num;
  }
  function showSubtitles(lang) {
    if (!cutVideo) return;
    Array.prototype.forEach.call(cutVideo.textTracks, function (track) {
      if (track.kind === "subtitles") track.mode = track.language === lang ? "showing" : "disabled";
    });
    var buttons = document.querySelectorAll(".subtitle-lang");
    Array.prototype.forEach.call(buttons, function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-lang") === lang ? "true" : "false");
    });
  }
  if (cutVideo) {
    ["seeked", "pause", "timeupdate", "loadeddata"].forEach(function (type) {
      cutVideo.addEventListener(type, showCutHead);
    });
    if (typeof cutVideo.requestVideoFrameCallback === "function") {
      var filmTick = function (now, meta) {
        cutVideo.__docfilmMediaTime = meta.mediaTime;
        showCutHead();
        cutVideo.requestVideoFrameCallback(filmTick);
      };
      cutVideo.__docfilmWatched = true;
      cutVideo.requestVideoFrameCallback(filmTick);
    }
    // The chapters track is for the browser's own menu; it is never drawn.
    Array.prototype.forEach.call(cutVideo.textTracks, function (track) {
      if (track.kind === "chapters") track.mode = "hidden";
    });
  }
