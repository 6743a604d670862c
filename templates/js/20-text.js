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
  function biWord(key, values) {
    var w = word(key);
    return bi(fill(w.vi, values), fill(w.en, values));
  }
  function fill(text, values) {
    return String(text).replace(/\{([a-z_]+)\}/g, function (all, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }
  function wellFormed(text) {
    var s = String(text).normalize("NFC");
    return typeof s.toWellFormed === "function" ? s.toWellFormed() : s;
  }

  // ------------------------------------------------------------------ language
  // `chosen`: the reviewer pressed the toggle, so the choice is remembered. Opening the packet only reads it: a
  // second tab opened before the choice reached the browser's store must not write the old language back.
  function setLang(lang, chosen) {
    root.setAttribute("data-lang", lang);
    root.lang = lang;
    var button = document.getElementById("lang-toggle");
    if (button) button.setAttribute("aria-pressed", lang === "en" ? "true" : "false");
    if (chosen) store(LANG_KEY, lang);
  }

