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
    if (isFilm(figure)) return cutHead();
    var video = figure.querySelector("video");
    var info = clipInfo(figure);
    if (!info || info.startFrames === null) return null;
    // A clip not opened yet is at its first frame.
    var frame = video ? frameAt(video, info.rate, info.frames) : 0;
    return { frame: frame, timecode: framesToTc(info.startFrames + frame, info.clock),
      fps: info.rate.num + "/" + info.rate.den };
  }

