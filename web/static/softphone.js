// The operator's softphone. JsSIP (static/dist/jssip.min.js, built from web/package.json)
// registers the operator's own SIP endpoint over Asterisk's WebSocket and takes the calls
// contact puts through to it: voice, and the citizen app's video calls (the caller's camera
// large, the operator's own small). It rings, or answers at once when contact says the operator
// already accepted (X-Contact-Answer: auto). Without the bundle or an endpoint it says it is
// unavailable.
// On the supervisor's page it takes the spy legs contact rings for listen, whisper and barge
// (`X-Contact-Spy: <mode>`, answered by itself): the panel names the mode and who hears the
// supervisor; in listen mode the microphone is off (nobody would hear it anyway).
// The panel fires a `softphone` event ({state, spy}) on every change of the call's state.
// `Softphone.stats()` sums up the call's media (getStats) for tests and troubleshooting.
"use strict";
const Softphone = (() => {
  const { api, t } = Contact;
  const $ = (id) => document.getElementById(id);
  const stateEl = $("sp-state");
  const panel = $("call");
  const pageTitle = document.title;
  let ua = null;
  let session = null;        // the one call at a time
  let local = null;          // our microphone (and camera) stream
  let remote = null;         // what the caller sends
  let ring = null;
  let clock = null;
  let hideLater = null;
  const SPY_MODES = ["listen", "whisper", "barge"];

  // the tab's title while a call rings belongs to the call: the page's own scripts (the offer
  // just accepted resets it) must not hide a ringing phone from an operator in another tab
  let ringingTitle = null;
  const titleEl = document.querySelector("title");
  if (titleEl) {
    new MutationObserver(() => {
      if (ringingTitle && document.title !== ringingTitle) document.title = ringingTitle;
    }).observe(titleEl, { childList: true, characterData: true, subtree: true });
  }

  // while the phone rings, Answer keeps the focus (Enter answers) unless the operator herself
  // moves it: the page's own scripts (the reply box of the contact just accepted) may not
  let movedByHand = false;
  document.addEventListener("pointerdown", () => { movedByHand = true; }, true);
  document.addEventListener("keydown", () => { movedByHand = true; }, true);
  document.addEventListener("focusin", (ev) => {
    const button = $("call-answer");
    if (panel && panel.dataset.call === "ringing" && !movedByHand && ev.target !== button) button.focus();
  });

  function showTitle(ringing) {
    ringingTitle = ringing;
    document.title = ringing || pageTitle;
  }

  function showState(state, reason) {
    stateEl.dataset.state = state;
    stateEl.textContent = t("ui.sp_" + state);
    stateEl.title = reason || "";
  }

  function showCall(state, heading) {
    clearTimeout(hideLater);
    panel.dataset.call = state;
    panel.classList.toggle("hidden", state === "idle");
    if (heading !== undefined) $("call-title").textContent = heading;
    panel.dispatchEvent(new CustomEvent("softphone", { detail: { state, spy: panel.dataset.spy || null } }));
  }

  // a spy leg (supervisors): its mode from contact's header, only one of the three known
  function spyMode(request) {
    const mode = ((request && request.getHeader("X-Contact-Spy")) || "").toLowerCase();
    return SPY_MODES.includes(mode) ? mode : null;
  }

  function showSpy(mode) {
    const note = $("call-spy-note");
    if (mode) panel.dataset.spy = mode; else delete panel.dataset.spy;
    if (note) {
      note.textContent = mode ? t("ui.spy_note_" + mode) : "";
      note.classList.toggle("hidden", !mode);
    }
    $("call-hangup").textContent = t(mode ? "ui.spy_stop" : "ui.sp_hangup");
    // listening: the microphone stays off and cannot be turned on (ChanSpy would drop it)
    $("call-mute").classList.toggle("hidden", mode === "listen");
  }

  function activeHeading() {
    const spy = panel.dataset.spy;
    if (spy) return t("ui.spy_title_" + spy);
    return t(panel.dataset.media === "video" ? "ui.sp_in_video_call" : "ui.sp_in_call");
  }

  // a soft double beep every 3 s: audible in a headset, not harsh at night
  function startRing() {
    try {
      const ctx = new AudioContext();
      const gain = ctx.createGain();
      const osc = ctx.createOscillator();
      gain.gain.value = 0;
      osc.frequency.value = 440;
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      const beat = () => {
        const at = ctx.currentTime;
        for (const [on, off] of [[0, 0.35], [0.55, 0.9]]) {
          gain.gain.setValueAtTime(0.12, at + on);
          gain.gain.setValueAtTime(0, at + off);
        }
      };
      beat();
      const every = setInterval(beat, 3000);
      ring = () => { clearInterval(every); ctx.close(); };
    } catch (err) {
      ring = null;               // no audio output: the panel still pulses
    }
  }

  function stopRing() {
    if (ring) ring();
    ring = null;
  }

  function startClock() {
    const started = Date.now();
    const tick = () => {
      const s = Math.floor((Date.now() - started) / 1000);
      $("call-timer").textContent = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
    };
    tick();
    clock = setInterval(tick, 1000);
  }

  function offersVideo(request) {
    return /^m=video [1-9]/m.test((request && request.body) || "");
  }

  function watch(pc) {
    pc.addEventListener("track", (ev) => {
      if (!remote) return;
      remote.addTrack(ev.track);
      $("call-audio").srcObject = remote;
      $("call-remote").srcObject = remote;
      // video added later (a re-INVITE once bridged to the app's caller): show it
      if (ev.track.kind === "video" && panel.dataset.media !== "video") {
        panel.dataset.media = "video";
        if (panel.dataset.call === "active") $("call-title").textContent = activeHeading();
      }
    });
  }

  function incoming(s, request) {
    if (session) {               // one call at a time: contact never sends a second
      s.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    session = s;
    remote = new MediaStream();
    const video = offersVideo(request);
    const spy = spyMode(request);
    showSpy(spy);
    panel.dataset.media = video ? "video" : "audio";
    delete panel.dataset.video;
    delete panel.dataset.local;
    $("call-warning").classList.add("hidden");
    $("call-timer").textContent = "";
    showMuted(false);
    const who = s.remote_identity;
    $("call-peer").textContent = (who && (who.display_name || (who.uri && who.uri.user))) || "";
    const heading = spy ? t("ui.spy_title_" + spy) : t(video ? "ui.sp_incoming_video" : "ui.sp_incoming");
    showCall("ringing", heading);
    showTitle(`● ${heading} — ${pageTitle}`);
    s.on("peerconnection", (ev) => watch(ev.peerconnection));
    if (s.connection) watch(s.connection);
    s.on("confirmed", () => {
      if (session !== s) return;
      showCall("active", activeHeading());
      showTitle(null);
      startClock();
    });
    s.on("ended", () => ended(s));
    s.on("failed", () => ended(s));
    // contact rings the phone of an operator who has just accepted the contact in this page
    // with `X-Contact-Answer: auto` (Originate Variable PJSIP_HEADER(add,X-Contact-Answer)=auto):
    // no second click. Only Asterisk reaches this phone, and only contact originates to it.
    if (request && /^auto$/i.test(request.getHeader("X-Contact-Answer") || "")) {
      answer().catch((err) => console.error("softphone: answering failed", err));
      return;
    }
    startRing();
    movedByHand = false;
    $("call-answer").focus();
  }

  async function media(video) {
    const devices = navigator.mediaDevices;
    if (!devices) return null;
    for (const wanted of video ? [{ audio: true, video: true }, { audio: true }] : [{ audio: true }]) {
      try {
        return await devices.getUserMedia(wanted);
      } catch (err) {
        // try with less, then answer to listen and watch only
      }
    }
    return null;
  }

  async function answer() {
    const s = session;
    if (!s || panel.dataset.call !== "ringing") return;
    stopRing();
    panel.dataset.call = "answering";
    const stream = await media(panel.dataset.media === "video");
    if (session !== s) {         // the caller gave up meanwhile
      if (stream) stream.getTracks().forEach((track) => track.stop());
      return;
    }
    local = stream;
    // listening: answered with the microphone's track disabled (silence keeps the RTP flowing,
    // which Asterisk's rtp_timeout needs); the supervisor is heard only in whisper or barge
    if (stream && panel.dataset.spy === "listen") stream.getAudioTracks().forEach((track) => { track.enabled = false; });
    $("call-warning").classList.toggle("hidden", !!(stream && stream.getAudioTracks().length));
    if (stream && stream.getVideoTracks().length) {
      $("call-local").srcObject = stream;
      panel.dataset.local = "on";
    }
    try {
      s.answer({
        // without a device: listen and watch only (JsSIP drops a given stream's tracks when
        // mediaConstraints say false, so they go only where there is no stream)
        ...(stream ? { mediaStream: stream } : { mediaConstraints: { audio: false, video: false } }),
        pcConfig: { iceServers: [] },   // Asterisk is reachable directly: no STUN lookups
      });
    } catch (err) {
      ended(s);
      throw err;
    }
  }

  function hangup() {
    if (session) session.terminate();
  }

  function ended(s) {
    if (session !== s) return;
    session = null;
    stopRing();
    clearInterval(clock);
    if (local) local.getTracks().forEach((track) => track.stop());
    local = null;
    remote = null;
    for (const id of ["call-remote", "call-local", "call-audio"]) $(id).srcObject = null;
    showTitle(null);
    showCall("ended", t("ui.sp_ended"));
    hideLater = setTimeout(() => showCall("idle"), 4000);
  }

  function toggleMute() {
    if (!session || !session.isEstablished()) return;
    const muted = session.isMuted().audio;
    if (muted) session.unmute({ audio: true }); else session.mute({ audio: true });
    showMuted(!muted);
  }

  function showMuted(muted) {
    $("call-mute").setAttribute("aria-pressed", String(muted));
    $("call-mute").textContent = t(muted ? "ui.sp_unmute" : "ui.sp_mute");
  }

  async function stats() {
    const pc = session && session.connection;
    if (!pc) return null;
    const out = { audio: {}, video: {} };
    (await pc.getStats()).forEach((r) => {
      if ((r.type !== "inbound-rtp" && r.type !== "outbound-rtp") || !out[r.kind]) return;
      const m = out[r.kind];
      if (r.type === "inbound-rtp") {
        Object.assign(m, { packetsReceived: r.packetsReceived, bytesReceived: r.bytesReceived });
        if (r.kind === "audio") Object.assign(m, { totalAudioEnergy: r.totalAudioEnergy, audioLevel: r.audioLevel });
        if (r.kind === "video") Object.assign(m, { framesDecoded: r.framesDecoded, frameWidth: r.frameWidth, frameHeight: r.frameHeight });
      } else {
        Object.assign(m, { packetsSent: r.packetsSent, bytesSent: r.bytesSent });
        if (r.kind === "video") m.framesEncoded = r.framesEncoded;
      }
    });
    return out;
  }

  async function start() {
    if (!stateEl || !panel) return;
    if (typeof JsSIP === "undefined") {
      showState("unavailable", "jssip.min.js");
      return;
    }
    const me = await api("GET", "/me/softphone");
    if (!me.available) {
      // a center without voice says so in one line (not a fault: no red badge)
      if (me.reason === "telephony_off") {
        showState("off", me.detail || "");
        stateEl.textContent = t("ui.sp_telephony_off");
        return;
      }
      showState("unavailable", me.reason);
      return;
    }
    showState("connecting");
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(me.ws_url)],
      uri: me.uri,
      authorization_user: me.username,
      password: me.password,
      display_name: me.display_name,
      register: true,
      session_timers: false,
      user_agent: "contact-softphone",
      connection_recovery_min_interval: 1,
      connection_recovery_max_interval: 15,
    });
    ua.on("disconnected", () => showState("connecting"));
    ua.on("registered", () => showState("registered"));
    ua.on("unregistered", () => showState("unregistered"));
    ua.on("registrationFailed", (e) => showState("failed", e.cause));
    ua.on("newRTCSession", (e) => { if (e.originator === "remote") incoming(e.session, e.request); });
    ua.start();
    window.addEventListener("pagehide", () => ua.stop());
  }

  $("call-answer").onclick = answer;
  $("call-hangup").onclick = hangup;
  $("call-mute").onclick = toggleMute;
  // the caller's picture has arrived: drop the "no video yet" note
  for (const ev of ["loadeddata", "resize"]) {
    $("call-remote").addEventListener(ev, () => {
      if ($("call-remote").videoWidth > 0) panel.dataset.video = "on";
    });
  }
  start().catch((err) => { showState("unavailable", String(err)); });

  // the call's state: idle | ringing | answering | active | ended
  const state = () => (session ? panel.dataset.call : "idle");

  return { stats, answer, hangup, state };
})();
