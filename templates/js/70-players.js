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

