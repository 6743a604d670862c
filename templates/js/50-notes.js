  // ------------------------------------------------------------------ notes
  function verdictLabel(verdict) {
    for (var i = 0; i < VERDICTS.length; i++) if (VERDICTS[i].id === verdict) return VERDICTS[i];
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
    badge.appendChild(bi(label.vi, label.en));
    li.appendChild(badge);
    var where = " " + note.scene + (note.asset ? " · " + clipName(note.asset) : "") +
      (note.timecode ? " · " + (note.cut ? word("film").vi + "/" + word("film").en + " " : "") + note.timecode : "") +
      (note.cut && note.frame !== null ? " → " + resolvedText(resolveFrame(note.frame)) : "");
    li.appendChild(el("span", "note-where", where));
    li.appendChild(el("p", "note-text", note.text));
    var del = el("button", "note-delete");
    del.type = "button";
    del.setAttribute("data-note", note.id);
    del.appendChild(biWord("delete"));
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
    var what = isFilm(figure) ? word("film").vi + " / " + word("film").en :
      figure ? clipName(figure.getAttribute("data-asset")) : "";
    target.appendChild(document.createTextNode(scene + (what ? " · " + what : "")));
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
    area.setAttribute("aria-label", word("note").vi + " / " + word("note").en);
    form.appendChild(area);
    var choices = el("fieldset", "verdicts");
    var legend = el("legend");
    legend.appendChild(biWord("verdict"));
    choices.appendChild(legend);
    VERDICTS.forEach(function (v, i) {
      var label = el("label");
      var radio = el("input");
      radio.type = "radio";
      radio.name = "verdict";
      radio.value = v.id;
      radio.checked = i === 0;
      label.appendChild(radio);
      label.appendChild(bi(v.vi, v.en));
      choices.appendChild(label);
    });
    form.appendChild(choices);
    var save = el("button", "note-save");
    save.type = "submit";
    save.appendChild(biWord("save"));
    var cancel = el("button", "note-cancel");
    cancel.type = "button";
    cancel.appendChild(biWord("cancel"));
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
      var verdict = chosen ? chosen.value : VERDICTS[0].id;
      // A note with no words and no verdict says nothing.
      if (!text && verdict === VERDICTS[0].id) {
        area.focus();
        return;
      }
      var head = figure ? playheadOf(figure) : null;
      var onFilm = isFilm(figure) && !!head && !!data.cut;
      notes.push({
        id: newId(),
        scene: onFilm && head.scene ? head.scene : scene,
        asset: figure && !onFilm ? figure.getAttribute("data-asset") : null,
        cut: onFilm ? data.cut.sha256 : null,
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

