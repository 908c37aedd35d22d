// "Nói trực tiếp": the browser's microphone to the station, ~50 ms PCM chunks over HTTP POST.
(function () {
  "use strict";
  const root = document.getElementById("live");
  if (!root) return;
  const d = root.dataset;
  const $ = (id) => document.getElementById(id);
  const toggle = $("live-toggle"), record = $("live-record"), station = $("live-station");
  const stateEl = $("live-state"), meter = $("live-meter"), elapsedEl = $("live-elapsed"), errorEl = $("live-error");
  let session = null;          // {id, source, mode}
  let audio = null;            // {ctx, stream, node}
  let pending = [];            // chunks not yet sent (Uint8Array)
  let sending = false;
  let poller = null;

  const secure = window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
  if (!secure) {
    const note = $("live-insecure");
    if (note) note.hidden = false;
    toggle.disabled = true;
    record.disabled = true;
    showError(d.tNoMic);
  }

  function showError(text) { errorEl.textContent = text || ""; errorEl.hidden = !text; }
  function zones() { return Array.from(document.querySelectorAll(".live-zones input:checked")).map((b) => b.value); }
  function setMeter(db) { meter.style.width = Math.max(0, Math.min(100, (db + 60) / 60 * 100)) + "%"; }
  function clock(s) { s = Math.floor(s || 0); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }

  async function post(url, body) {
    const res = await fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": d.csrf}, body: JSON.stringify(body)});
    const data = await res.json().catch(() => ({}));
    if (!res.ok || !data.ok) throw new Error(data.message || res.statusText);
    return data;
  }

  async function openMic() {
    // No echo cancellation or noise suppression: they would eat a steady voice near a loudspeaker
    // (nothing is played on this device); the gain control keeps a phone held far or close usable.
    const stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false,
      noiseSuppression: false, autoGainControl: true, channelCount: 1}});
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule(d.workletUrl);
    const node = new AudioWorkletNode(ctx, "live-pcm");
    const mute = ctx.createGain();
    mute.gain.value = 0;       // pulled by the graph, heard nowhere (no feedback into the room)
    ctx.createMediaStreamSource(stream).connect(node);
    node.connect(mute).connect(ctx.destination);
    node.port.onmessage = (event) => onChunk(new Int16Array(event.data));
    return {ctx, stream, node};
  }

  function closeMic() {
    if (!audio) return;
    audio.node.port.onmessage = null;
    audio.stream.getTracks().forEach((t) => t.stop());
    audio.ctx.close();
    audio = null;
  }

  function onChunk(samples) {
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    setMeter(10 * Math.log10(Math.max(1e-12, sum / samples.length / (32768 * 32768))));
    if (!session) return;
    pending.push(new Uint8Array(samples.buffer));
    if (pending.length > 20) pending = pending.slice(-20);   // never more than 1 s behind
    if (!sending) send();
  }

  async function send() {
    sending = true;
    while (session && pending.length) {
      const parts = pending.splice(0, pending.length);
      const size = parts.reduce((n, p) => n + p.length, 0);
      const body = new Uint8Array(size);
      let at = 0;
      parts.forEach((p) => { body.set(p, at); at += p.length; });
      try {
        const res = await fetch(d.chunkUrl + "?session=" + encodeURIComponent(session.id), {method: "POST",
          credentials: "same-origin", headers: {"Content-Type": "application/octet-stream", "X-CSRFToken": d.csrf},
          body});
        if (res.status === 409) { ended(); break; }
      } catch (e) { /* the network hiccups: the daemon stops the session if it lasts */ }
    }
    sending = false;
  }

  async function startBrowser(mode) {
    showError("");
    try {
      audio = await openMic();
    } catch (e) {
      showError(d.tDenied + " (" + e.name + ")");
      return;
    }
    try {
      const res = await post(d.startUrl, {source: "browser", mode, zones: zones(), urgent: $("live-urgent").checked});
      session = {id: res.session_id, source: "browser", mode};
      pending = [];
      busy(true, mode);
    } catch (e) {
      closeMic();
      showError(e.message);
    }
  }

  async function startStation() {
    showError("");
    try {
      const res = await post(d.startUrl, {source: "station", mode: "broadcast", zones: zones(),
        urgent: $("live-urgent").checked});
      session = {id: res.session_id, source: "station", mode: "broadcast"};
      busy(true, "station");
    } catch (e) { showError(e.message); }
  }

  async function stop() {
    if (!session) return;
    const id = session.id;
    try { await post(d.stopUrl, {session_id: id}); } catch (e) { showError(e.message); }
    ended();
  }

  function busy(on, what) {
    toggle.setAttribute("aria-pressed", on && what !== "station" ? "true" : "false");
    toggle.textContent = on && what === "broadcast" ? d.tStop : d.tStart;
    record.textContent = on && what === "record" ? d.tStop : d.tRecord;
    if (station) station.textContent = on && what === "station" ? d.tStationStop : d.tStationStart;
    toggle.disabled = !secure || (on && what !== "broadcast");
    record.disabled = !secure || (on && what !== "record");
    if (station) station.disabled = on && what !== "station";
    if (on && !poller) poller = setInterval(poll, 400);
    stateEl.textContent = on ? d.tRequested : d.tIdle;
  }

  function ended(last) {
    const wasRecord = session && session.mode === "record";
    session = null;
    pending = [];
    closeMic();
    busy(false);
    clearInterval(poller);
    poller = null;
    setMeter(-120);
    stateEl.classList.remove("on");
    if (last && last.reason) stateEl.textContent = d.tEnded + ": " + (document.documentElement.lang === "en" ? last.reason.en : last.reason.vi);
    if (wasRecord) setTimeout(() => window.location.reload(), 800);
  }

  async function poll() {
    let data;
    try {
      const res = await fetch(d.statusUrl, {credentials: "same-origin"});
      data = await res.json();
    } catch (e) { return; }
    const active = data.active;
    if (!session) return;
    if (!active || active.id !== session.id) { ended(data.last && data.last.id === session.id ? data.last : null); return; }
    const texts = {requested: d.tRequested, warmup: d.tWarmup, chime: d.tChime,
      live: session.mode === "record" ? d.tRecording : d.tLive, ended: d.tEnded};
    stateEl.textContent = texts[active.phase] || active.phase;
    stateEl.classList.toggle("on", active.phase === "live");
    elapsedEl.textContent = clock(active.elapsed_s);
    if (session.source === "station") setMeter(active.level_dbfs);
  }

  toggle.addEventListener("click", () => (session ? stop() : startBrowser("broadcast")));
  record.addEventListener("click", () => (session ? stop() : startBrowser("record")));
  if (station) station.addEventListener("click", () => (session ? stop() : startStation()));
  window.addEventListener("pagehide", () => {
    if (!session) return;
    const form = new FormData();
    form.append("csrf_token", d.csrf);
    form.append("session_id", session.id);
    navigator.sendBeacon(d.stopUrl, form);
  });
})();
