/* Scanning station: a keyboard-wedge scanner types a code and Enter (or Tab); each scan is kept in
   IndexedDB until the server has answered, and sent in order, so nothing is lost or applied twice.
   The page works without this script as a plain form. No inline script, no external asset (CSP). */
(function () {
  "use strict";

  var root = document.getElementById("station");
  if (!root) return;

  var DUPLICATE_MS = 2000;
  var RETRY_MS = 3000;
  var DB_NAME = "reboot-station";
  var STORE = "outbox";
  var ROWS_KEY = "station-rows";
  var SETTINGS_KEY = "station-settings";
  var SOUND_KEY = "station-sound";
  var KEEP_ROWS = 200;

  var form = document.getElementById("station-form");
  var input = document.getElementById("scan-code");
  var result = document.getElementById("scan-result");
  var notice = document.getElementById("station-notice");
  var list = document.getElementById("scan-list");
  var queueStatus = document.getElementById("queue-status");
  var undoBox = document.getElementById("undo-box");
  var actionSelect = document.getElementById("st-action");
  var soundBox = document.getElementById("st-sound");
  var texts = JSON.parse(document.getElementById("station-texts").textContent);
  var csrf = (document.querySelector("meta[name=csrf-token]") || {}).content || "";
  var scanUrl = root.getAttribute("data-scan-url");
  var undoUrl = root.getAttribute("data-undo-url");
  var user = root.getAttribute("data-user");
  var SETTING_FIELDS = ["action", "verdict", "grade", "programme_id", "partner_organisation_id",
                        "recycler_organisation_id", "disposal_reference", "station"];
  var ACTION_VALUES = {
    diagnose: ["verdict"], ready: ["grade"], reserve: ["programme_id", "partner_organisation_id"],
    recycle: ["recycler_organisation_id", "disposal_reference"]
  };
  var INTEGER_FIELDS = { programme_id: 1, partner_organisation_id: 1, recycler_organisation_id: 1 };

  var lastCode = null;
  var lastQueuedCode = null;  // the code scanned last: the pending box names it, not the oldest one waiting
  var lastCodeAt = 0;
  var pumping = false;
  var offline = false;
  var rows = loadRows();
  var dbPromise = null;

  // ------------------------------------------------------------ ids and storage

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () {
          req.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function tx(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(STORE, mode);
        var out = work(t.objectStore(STORE));
        t.oncomplete = function () { resolve(out && "result" in out ? out.result : undefined); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }

  function enqueue(item) { return tx("readwrite", function (s) { return s.add(item); }); }
  function dequeue(seq) { return tx("readwrite", function (s) { return s["delete"](seq); }); }
  function queued() {
    return tx("readonly", function (s) { return s.getAll(); }).then(function (items) {
      return (items || []).filter(function (i) { return i.user === user; });
    });
  }

  function loadRows() {
    try { return JSON.parse(sessionStorage.getItem(ROWS_KEY) || "[]"); } catch (e) { return []; }
  }
  function saveRows() {
    rows = rows.slice(0, KEEP_ROWS);
    try { sessionStorage.setItem(ROWS_KEY, JSON.stringify(rows)); } catch (e) { /* private mode: keep in memory */ }
  }

  // ------------------------------------------------------------ settings chosen once for a run of scans

  function field(name) { return form.elements[name]; }

  function restoreSettings() {
    var saved;
    try { saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || "null"); } catch (e) { saved = null; }
    if (saved) {
      SETTING_FIELDS.forEach(function (name) {
        if (saved[name] !== undefined && field(name)) field(name).value = saved[name];
      });
    }
    soundBox.checked = localStorage.getItem(SOUND_KEY) === "1";
  }

  function saveSettings() {
    var values = {};
    SETTING_FIELDS.forEach(function (name) { if (field(name)) values[name] = field(name).value; });
    try { localStorage.setItem(SETTINGS_KEY, JSON.stringify(values)); } catch (e) { /* ignore */ }
  }

  function showActionFields() {
    var action = actionSelect.value;
    root.querySelectorAll("[data-for]").forEach(function (el) {
      el.hidden = el.getAttribute("data-for") !== action;
    });
  }

  function payload(code) {
    var action = actionSelect.value;
    var body = { code: code, action: action, scan_id: newId(), scanned_at: new Date().toISOString() };
    var station = field("station").value.trim();
    if (station) body.station = station;
    (ACTION_VALUES[action] || []).forEach(function (name) {
      var v = field(name).value;
      if (v !== "") body[name] = INTEGER_FIELDS[name] ? parseInt(v, 10) : v;
    });
    return body;
  }

  // ------------------------------------------------------------ sound (generated, no audio file)

  var audio = null;
  function beep(kind) {
    if (!soundBox.checked) return;
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      audio = audio || new Ctx();
      var tones = kind === "refused" ? [[220, 0], [180, 0.18]] : kind === "pending" ? [[520, 0]] : [[880, 0]];
      tones.forEach(function (t) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.type = kind === "refused" ? "square" : "sine";
        osc.frequency.value = t[0];
        gain.gain.value = 0.15;
        osc.connect(gain);
        gain.connect(audio.destination);
        var start = audio.currentTime + t[1];
        osc.start(start);
        osc.stop(start + 0.12);
      });
    } catch (e) { /* no sound available */ }
  }

  // ------------------------------------------------------------ showing results

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function showResult(outcome, title, lines) {
    result.className = "scan-result scan-result--" + outcome;
    result.setAttribute("data-outcome", outcome);
    result.textContent = "";
    result.appendChild(el("span", "scan-result__icon")).setAttribute("aria-hidden", "true");
    result.appendChild(el("p", "scan-result__title", (texts[outcome] || "") + (title ? " · " + title : "")));
    lines.forEach(function (line) { if (line && line[1]) result.appendChild(el("p", line[0], line[1])); });
  }

  function showNotice(text) {
    notice.textContent = text || "";
  }

  function renderRows() {
    list.textContent = "";
    rows.forEach(function (r) {
      var tr = el("tr", "scan-row scan-row--" + r.outcome);
      tr.setAttribute("data-scan-id", r.scan_id);
      tr.setAttribute("data-outcome", r.outcome);
      tr.appendChild(el("td", "", r.time));
      tr.appendChild(el("td", "mono", r.tag || r.code));
      tr.appendChild(el("td", "", (texts.actions || {})[r.action] || r.action));
      tr.appendChild(el("td", "", r.message));
      list.appendChild(tr);
    });
  }

  function upsertRow(row) {
    var i = rows.findIndex(function (r) { return r.scan_id === row.scan_id; });
    if (i >= 0) rows[i] = Object.assign(rows[i], row); else rows.unshift(row);
    saveRows();
    renderRows();
  }

  function clockTime(iso) {
    var d = iso ? new Date(iso) : new Date();
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2) + ":" + ("0" + d.getSeconds()).slice(-2);
  }

  function showAnswer(item, answer) {
    var outcome = answer.outcome || "refused";
    var tag = answer.device ? answer.device.tag : null;
    showResult(outcome, tag || item.body.code, [
      ["scan-result__message", answer.message],
      ["scan-result__recovered", answer.recovered],
      ["scan-result__next", answer.next_step]
    ]);
    upsertRow({ scan_id: item.body.scan_id, outcome: outcome, tag: tag, code: item.body.code,
                action: item.body.action, message: answer.message, time: clockTime(item.body.scanned_at),
                undo: answer.undo || null });
    showUndo();
    beep(outcome === "refused" ? "refused" : "ok");
  }

  function showUndo() {
    undoBox.textContent = "";
    var last = rows[0];
    if (!last || last.outcome !== "applied" || !last.undo) return;
    if (!last.undo.possible) {
      undoBox.appendChild(el("p", "hint", last.undo.reason));
      return;
    }
    var button = el("button", "button button--secondary", texts.undo + " (" + (last.tag || last.code) + ")");
    button.type = "button";
    button.id = "undo-button";
    button.addEventListener("click", function () { undo(last); });
    undoBox.appendChild(button);
  }

  function updateQueueStatus(count) {
    queueStatus.textContent = count ? count + " · " + texts.queued : "";
    queueStatus.setAttribute("data-pending", String(count));
  }

  // ------------------------------------------------------------ sending, in order

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    });
  }

  function answerOf(status, body) {
    if (body && body.error) {
      var details = body.error.details || {};
      if (details.scan_id) return details;
      return { outcome: "refused", code: body.error.code, message: body.error.message };
    }
    return body;
  }

  function pump() {
    if (pumping) return Promise.resolve();
    pumping = true;
    var wasOffline = offline;
    function next() {
      return queued().then(function (items) {
        updateQueueStatus(items.length);
        if (!items.length) {
          pumping = false;
          if (wasOffline && !offline) showNotice(texts.back_online);
          return;
        }
        var item = items[0];
        return post(scanUrl, item.body).then(function (resp) {
          if (resp.status >= 500 || resp.status === 400 || resp.status === 401 || resp.status === 403) {
            // Nothing was applied (server trouble, expired session or form): keep the scan, say why, retry later.
            return resp.json().then(function (body) { return body.error && body.error.message; }, function () { return null; })
              .then(function (message) { var err = new Error(message || texts.error); err.kept = true; throw err; });
          }
          return resp.json().then(function (body) {
            offline = false;
            return dequeue(item.seq).then(function () { showAnswer(item, answerOf(resp.status, body)); });
          });
        }).then(next, function (err) {
          offline = true;
          pumping = false;
          showNotice(err && err.kept ? err.message : texts.offline);
          showResult("pending", lastQueuedCode || item.body.code, [["scan-result__message", texts.pending]]);
          queued().then(function (left) { updateQueueStatus(left.length); });
        });
      });
    }
    return next().catch(function () { pumping = false; });
  }

  function submitCode(code) {
    code = (code || "").trim();
    if (!code) return;
    var now = Date.now();
    if (code === lastCode && now - lastCodeAt < DUPLICATE_MS) {
      lastCodeAt = now;
      showNotice(texts.duplicate);
      return;
    }
    lastCode = code;
    lastCodeAt = now;
    showNotice("");
    var body = payload(code);
    var item = { body: body, user: user };
    lastQueuedCode = code;
    upsertRow({ scan_id: body.scan_id, outcome: "pending", code: code, action: body.action,
                message: texts.queued, time: clockTime(body.scanned_at) });
    if (offline) {
      showResult("pending", code, [["scan-result__message", texts.pending]]);
      beep("pending");
    }
    enqueue(item).then(pump);
  }

  function undo(row) {
    undoBox.textContent = "";
    post(undoUrl.replace("SCAN_ID", encodeURIComponent(row.scan_id)), {
      station: field("station").value.trim() || null, undone_at: new Date().toISOString()
    }).then(function (resp) {
      return resp.json().then(function (body) {
        var answer = answerOf(resp.status, body);
        showResult(answer.outcome || "refused", answer.device ? answer.device.tag : row.tag,
                   [["scan-result__message", answer.message], ["scan-result__next", answer.next_step]]);
        if (answer.outcome === "undone") upsertRow({ scan_id: row.scan_id, outcome: "undone",
                                                    message: answer.message, undo: null });
        beep(answer.outcome === "undone" ? "ok" : "refused");
        input.focus();
      });
    }, function () { showNotice(texts.offline); input.focus(); });
  }

  // ------------------------------------------------------------ camera (where the browser offers a detector)

  var camera = { stream: null, timer: null };
  function setupCamera() {
    var button = document.getElementById("camera-button");
    var video = document.getElementById("camera-view");
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
    var wanted = [];
    // Some browsers define BarcodeDetector without reading any format: the button shows only where it can work.
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      wanted = ["code_128", "qr_code", "ean_13", "code_39"].filter(function (f) { return formats.indexOf(f) >= 0; });
      if (wanted.length) button.hidden = false;
    }, function () { /* no detector: no button */ });
    button.addEventListener("click", function () {
      if (camera.stream) { stopCamera(video, button); return; }
      var detector = new window.BarcodeDetector({ formats: wanted });
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
        camera.stream = stream;
        video.srcObject = stream;
        video.hidden = false;
        button.textContent = texts.camera_stop;
        return video.play();
      }).then(function () {
        camera.timer = setInterval(function () {
          detector.detect(video).then(function (codes) {
            if (codes.length) submitCode(codes[0].rawValue);
          }, function () { /* frame not ready */ });
        }, 300);
      })["catch"](function () { showNotice(texts.camera_error); stopCamera(video, button); });
    });
  }
  function stopCamera(video, button) {
    if (camera.timer) clearInterval(camera.timer);
    if (camera.stream) camera.stream.getTracks().forEach(function (t) { t.stop(); });
    camera.stream = camera.timer = null;
    video.hidden = true;
    button.textContent = texts.camera_start;
  }

  // ------------------------------------------------------------ wiring

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var code = input.value;
    input.value = "";
    submitCode(code);
    input.focus();
  });
  // Scanners set to send Tab after the code submit instead of leaving the field (shared with batch reception).
  window.RebootScanInput.bind(input, function (code) { submitCode(code); });
  // Keep the focus on the scan input: the technician never touches the mouse.
  input.addEventListener("blur", function () {
    setTimeout(function () {
      var active = document.activeElement;
      if (!active || active === document.body) input.focus();
    }, 0);
  });
  document.addEventListener("click", function (e) {
    if (!e.target.closest("select, input, button, a, label, textarea, video")) input.focus();
  });
  form.querySelectorAll("select, .station-settings input").forEach(function (control) {
    control.addEventListener("change", function () {
      saveSettings();
      showActionFields();
      if (control.tagName === "SELECT") input.focus();
    });
  });
  soundBox.addEventListener("change", function () {
    localStorage.setItem(SOUND_KEY, soundBox.checked ? "1" : "0");
    input.focus();
  });
  root.querySelectorAll(".js-only").forEach(function (node) { node.hidden = false; });
  var noJsUndo = undoBox.querySelector("form");
  if (noJsUndo) noJsUndo.remove();

  restoreSettings();
  showActionFields();
  renderRows();
  showUndo();
  setupCamera();
  window.addEventListener("online", pump);
  setInterval(function () { if (offline) pump(); }, RETRY_MS);
  root.setAttribute("data-ready", "1");
  input.focus();
  pump();
})();
