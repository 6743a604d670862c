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
      setLang(root.getAttribute("data-lang") === "en" ? "vi" : "en", true);
    } else if (button.id === "export-notes") {
      exportNotes();
    } else if (button.classList.contains("note-clip")) {
      var figure = button.closest("figure.clip");
      openForm(button.parentNode, figure.getAttribute("data-scene"), figure);
    } else if (button.classList.contains("note-cut")) {
      var head = cutHead();
      openForm(button.parentNode, head && head.scene ? head.scene : "", filmPlayer);
    } else if (button.classList.contains("chapter")) {
      seekFilm(Number(button.getAttribute("data-frame")));
    } else if (button.classList.contains("subtitle-lang")) {
      showSubtitles(button.getAttribute("data-lang"));
    } else if (button.classList.contains("note-scene")) {
      openForm(button.parentNode, button.closest(".notes").getAttribute("data-scene"), null);
    } else if (button.classList.contains("note-delete")) {
      var id = button.getAttribute("data-note");
      if (window.confirm(word("confirm_delete").vi + " / " + word("confirm_delete").en)) {
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
  var hidden = document.querySelectorAll("#toolbar, #my-notes, .clip-actions, .scene-actions, .film-tools");
  Array.prototype.forEach.call(hidden, function (node) { node.hidden = false; });
  renderNotes();
  if (!persistent) {
    document.getElementById("export-status").appendChild(biWord("not_kept"));
  }
  window.docfilmPacket = {
    framesToTimecode: function (frames, fps, start) {
      var rate = parseRate(fps);
      return framesToTc(tcToFrames(start, tcClock(rate, start)) + frames, tcClock(rate, start));
    },
    playhead: function (assetId) { return playheadOf(document.getElementById("clip-" + assetId)); },
    filmHead: cutHead,
    resolveFilmFrame: resolveFrame,
    sha256Hex: sha256Hex,
    canonicalJson: canonicalJson,
    ready: performance.now()
  };
  root.setAttribute("data-ready", "yes");
})();
