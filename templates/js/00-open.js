/* Review packet script: language toggle, lazy posters, reviewers' notes (kept in localStorage, exported as
   a JSON file with a SHA-256 digest). No network: the page's CSP allows no connections. Every piece of
   text from data or from the reviewer is set with textContent, never parsed as HTML.

   The files of templates/js/ are joined in name order into the page's one inline script (its CSP hash is
   taken over the whole); this first one opens the function the last one closes. The script defines no
   words: its labels and the verdicts come from the page's data block (review/labels). */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("packet-data").textContent);
  var root = document.documentElement;
  var NOTES_KEY = "docfilm-notes:" + data.film;
  var NAME_KEY = "docfilm-reviewer";
  var LANG_KEY = "docfilm-lang";
  var SCHEMA = "docfilm.review-notes";
  // [{id, vi, en}] in the order the note form offers them; the first is the default (a comment).
  var VERDICTS = data.verdicts;
  // A word the script shows, {vi, en}; "{n}"-style slots are filled by fill().
  function word(key) {
    return data.words[key] || { vi: key, en: key };
  }

