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

