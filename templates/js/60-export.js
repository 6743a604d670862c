  // ------------------------------------------------------------------ export
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
        return { id: n.id, scene: n.scene, asset: n.asset, cut: n.cut || null, verdict: n.verdict, text: n.text,
          frame: n.frame, timecode: n.timecode, fps: n.fps, written_at: n.written_at, packet_id: n.packet_id };
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
      status.appendChild(biWord("name_first"));
      input.focus();
      return;
    }
    if (!notes.length) {
      status.appendChild(biWord("nothing_to_export"));
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
    status.appendChild(biWord("exported", { n: notes.length, name: link.download }));
  }

